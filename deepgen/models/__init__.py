from .autoencoder import Autoencoder
from .classifier import Classifier
from .gan import GAN
from .siamese import SiameseNet
from .vae import CVAE, VAE
from .vaegan import VAEGAN

MODEL_CLASSES = {cls.kind: cls for cls in (Autoencoder, VAE, CVAE, GAN, VAEGAN, SiameseNet, Classifier)}
