"""DCGAN sized for 28×28 MNIST (slide "GAN"). One checkpoint holds G and D."""
import torch
import torch.nn as nn

from .base import DeepgenModel


def generator(latent_dim, width):
    """z → 7×7 → 14×14 → 28×28, pixel intensities in [0, 1]. A 3×3 convolution refines each
    of the two inner resolutions: without them D wins the game and a third of the digits come
    out malformed."""
    return nn.Sequential(
        nn.Linear(latent_dim, 2 * width * 49, bias=False), nn.BatchNorm1d(2 * width * 49), nn.ReLU(),
        nn.Unflatten(1, (2 * width, 7, 7)),
        nn.Conv2d(2 * width, 2 * width, 3, 1, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Sigmoid(),
    )


class Discriminator(nn.Module):
    """28×28 → 14×14 → 7×7 → one logit; `features` is the last hidden layer (used by VAE-GAN)."""

    def __init__(self, width):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * 49, 1))

    def features(self, x):
        return self.body(x)

    def logit(self, features):
        """The logit of D(x), from `features(x)`."""
        return self.head(features).squeeze(1)

    def forward(self, x):
        """Logit of D(x) = P(x is real)."""
        return self.logit(self.body(x))


class GAN(DeepgenModel):
    kind = "gan"

    def __init__(self, latent_dim: int = 64, width: int = 64):
        super().__init__()
        self.latent_dim, self.width = latent_dim, width
        self.generator = generator(latent_dim, width)
        self.discriminator = Discriminator(width)

    def forward(self, z):
        return self.generator(z)

    def decode(self, h, y=None):
        """G(z): pixel intensities in [0, 1]."""
        return self.generator(h)

    def sample(self, n, *, generator=None, labels=None):
        return self.generator(self.prior_noise(n, generator))

    def judge(self, x):
        """D(x) = σ(logit): the discriminator's probability that x is a real digit."""
        return torch.sigmoid(self.discriminator(x))
