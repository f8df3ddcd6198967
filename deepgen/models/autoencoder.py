"""Autoencoder (slide "Автоэнкодер"): h = g(x), x = f(h)."""
import torch

from .base import DeepgenModel, conv_decoder, conv_encoder


class Autoencoder(DeepgenModel):
    kind = "ae"

    def __init__(self, latent_dim: int = 16, width: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = conv_encoder(latent_dim, width, hidden)   # g
        self.decoder = conv_decoder(latent_dim, width, hidden)   # f (logits)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, h):
        """Pixel intensities in [0, 1]."""
        return torch.sigmoid(self.decoder(h))

    def forward(self, x):
        """Reconstruction logits."""
        return self.decoder(self.encoder(x))
