"""Variational autoencoder and its conditional version (slides "VAE", "Conditional VAE").

Q(H|X) = N(μ(X), diag exp(logvar(X))); P(X|H) is Bernoulli with logits f(H).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..losses import reparameterize
from .base import DeepgenModel, conv_decoder, conv_encoder


class VAE(DeepgenModel):
    kind = "vae"

    def __init__(self, latent_dim: int = 32, width: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = conv_encoder(2 * latent_dim, width, hidden)
        self.decoder = conv_decoder(latent_dim, width, hidden)

    def encode(self, x):
        """(μ, log σ²) of Q(H|X)."""
        return self.encoder(x).chunk(2, dim=1)

    def decode_logits(self, h):
        return self.decoder(h)

    def decode(self, h):
        """Bernoulli means in [0, 1]."""
        return torch.sigmoid(self.decoder(h))

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decoder(reparameterize(mu, logvar)), mu, logvar

    def sample(self, n, generator=None, device="cpu"):
        return self.decode(torch.randn(n, self.latent_dim, generator=generator, device=device))


class CVAE(DeepgenModel):
    """The label Y enters the encoder (as ten constant image channels) and the decoder (one-hot)."""
    kind = "cvae"

    def __init__(self, latent_dim: int = 16, num_classes: int = 10, width: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.encoder = conv_encoder(2 * latent_dim, width, hidden, in_channels=1 + num_classes)
        self.decoder = conv_decoder(latent_dim + num_classes, width, hidden)

    def _one_hot(self, y):
        return F.one_hot(y, self.num_classes).float()

    def encode(self, x, y):
        maps = self._one_hot(y)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.encoder(torch.cat([x, maps], 1)).chunk(2, dim=1)

    def decode_logits(self, h, y):
        return self.decoder(torch.cat([h, self._one_hot(y)], 1))

    def decode(self, h, y):
        return torch.sigmoid(self.decode_logits(h, y))

    def forward(self, x, y):
        mu, logvar = self.encode(x, y)
        return self.decode_logits(reparameterize(mu, logvar), y), mu, logvar

    def sample(self, labels, generator=None):
        h = torch.randn(len(labels), self.latent_dim, generator=generator, device=labels.device)
        return self.decode(h, labels)
