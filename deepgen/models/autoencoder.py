"""Autoencoder (slide "Автоэнкодер"): h = g(x), x = f(h)."""
import torch

from .base import DeepgenModel, conv_decoder, conv_encoder, encoder_body


class Autoencoder(DeepgenModel):
    kind = "ae"

    def __init__(self, latent_dim: int = 16, width: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = conv_encoder(latent_dim, width, hidden)   # g
        self.decoder = conv_decoder(latent_dim, width, hidden)   # f (logits)

    def encode(self, x, y=None):
        """(h, None): the code is a point, not a distribution."""
        return self.encoder(x), None

    def decode(self, h, y=None):
        """Pixel intensities in [0, 1]."""
        return torch.sigmoid(self.decoder(h))

    def feature_body(self):
        return encoder_body(self.encoder)

    def forward(self, x):
        """Reconstruction logits."""
        return self.decoder(self.encoder(x))
