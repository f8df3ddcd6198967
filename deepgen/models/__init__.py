from .autoencoder import Autoencoder
from .classifier import Classifier
from .gan import GAN
from .siamese import SiameseNet
from .vae import CVAE, VAE
from .vaegan import VAEGAN

__all__ = ["Autoencoder", "Classifier", "GAN", "SiameseNet", "CVAE", "VAE", "VAEGAN"]
