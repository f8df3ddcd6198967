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

    def __init__(self, latent_dim: int = 32, width: int = 32, hidden: int = 256, deep: bool = False):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = conv_encoder(2 * latent_dim, width, hidden)
        self.decoder = conv_decoder(latent_dim, width, hidden, deep)

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


def with_label(x, one_hot):
    """Append the one-hot label to a batch of vectors or, as constant channels, of feature maps."""
    if x.dim() == 2:
        return torch.cat([x, one_hot], 1)
    return torch.cat([x, one_hot[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)


class LabelledDecoder(nn.Module):
    """`conv_decoder` with the one-hot label fed to every layer, not only the first: far out in
    the prior's tails, where H alone would decide the digit, the label still steers it."""

    def __init__(self, latent_dim, num_classes, width, hidden):
        super().__init__()
        self.width = width
        self.fc1 = nn.Linear(latent_dim + num_classes, hidden)
        self.fc2 = nn.Linear(hidden + num_classes, 2 * width * 49)
        self.up1 = nn.ConvTranspose2d(2 * width + num_classes, width, 4, 2, 1)   # 7×7 → 14×14
        self.up2 = nn.ConvTranspose2d(width + num_classes, 1, 4, 2, 1)           # 14×14 → 28×28 logits

    def forward(self, h, one_hot):
        x = F.relu(self.fc1(with_label(h, one_hot)))
        x = F.relu(self.fc2(with_label(x, one_hot))).view(-1, 2 * self.width, 7, 7)
        x = F.relu(self.up1(with_label(x, one_hot)))
        return self.up2(with_label(x, one_hot))


class CVAE(DeepgenModel):
    """The label Y enters the encoder (as ten constant image channels) and every decoder layer."""
    kind = "cvae"

    def __init__(self, latent_dim: int = 16, num_classes: int = 10, width: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.encoder = conv_encoder(2 * latent_dim, width, hidden, in_channels=1 + num_classes)
        self.decoder = LabelledDecoder(latent_dim, num_classes, width, hidden)

    def _one_hot(self, y):
        return F.one_hot(y, self.num_classes).float()

    def encode(self, x, y):
        return self.encoder(with_label(x, self._one_hot(y))).chunk(2, dim=1)

    def decode_logits(self, h, y):
        return self.decoder(h, self._one_hot(y))

    def decode(self, h, y):
        return torch.sigmoid(self.decode_logits(h, y))

    def forward(self, x, y):
        mu, logvar = self.encode(x, y)
        return self.decode_logits(reparameterize(mu, logvar), y), mu, logvar

    def sample(self, labels, generator=None):
        h = torch.randn(len(labels), self.latent_dim, generator=generator, device=labels.device)
        return self.decode(h, labels)
