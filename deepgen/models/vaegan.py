"""VAE-GAN (Larsen et al. 2016): the VAE's decoder is the GAN's generator, and the
reconstruction error is measured in the discriminator's feature space."""
import torch

from ..losses import reparameterize
from .base import DeepgenModel, conv_encoder
from .gan import Discriminator, generator


class VAEGAN(DeepgenModel):
    kind = "vaegan"

    def __init__(self, latent_dim: int = 32, width: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = conv_encoder(2 * latent_dim, width // 2, hidden)
        self.decoder = generator(latent_dim, width)
        self.discriminator = Discriminator(width)

    @classmethod
    def from_gan(cls, gan):
        """A VAE-GAN whose decoder and discriminator start as a trained GAN's generator and
        discriminator; only the encoder starts from scratch."""
        model = cls(latent_dim=gan.z_dim, width=gan.width)
        model.decoder.load_state_dict(gan.generator.state_dict())
        model.discriminator.load_state_dict(gan.discriminator.state_dict())
        return model

    def encode(self, x):
        return self.encoder(x).chunk(2, dim=1)

    def decode(self, h):
        return self.decoder(h)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decoder(reparameterize(mu, logvar)), mu, logvar

    def sample(self, n, generator=None, device="cpu"):
        return self.decoder(torch.randn(n, self.latent_dim, generator=generator, device=device))
