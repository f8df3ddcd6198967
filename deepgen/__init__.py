"""deepgen: the generative and metric-learning models of the lecture
"Convolutional networks: applications", trained on MNIST."""
__version__ = "0.4.0"

from .checkpoint import CheckpointError, load, recover, save, save_zip
from .data import DataMissing

__all__ = ["load", "save", "save_zip", "recover", "CheckpointError", "DataMissing"]
