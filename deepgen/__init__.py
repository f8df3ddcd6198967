"""deepgen: the generative and metric-learning models of the lecture
"Convolutional networks: applications", trained on MNIST."""
from .checkpoint import CheckpointError, load, save
from .data import DataMissing

__all__ = ["load", "save", "CheckpointError", "DataMissing"]
