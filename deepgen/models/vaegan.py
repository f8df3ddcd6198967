"""VAE-GAN (Larsen et al. 2016): the VAE's decoder is the GAN's generator, and the
reconstruction error is measured in the discriminator's feature space."""
import torch

from ..losses import reparameterize
from .base import DeepgenModel, conv_encoder, encoder_body
from .gan import Discriminator, generator


class VAEGAN(DeepgenModel):
    kind = "vaegan"

    def __init__(self, latent_dim: int = 32, width: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim, self.width = latent_dim, width
        self.encoder = conv_encoder(2 * latent_dim, width // 2, hidden)
        self.decoder = generator(latent_dim, width)
        self.discriminator = Discriminator(width)

    def adopt(self, gan):
        """Start the decoder and discriminator as a trained GAN's generator and discriminator
        (only the encoder starts from scratch); returns self."""
        if gan.kind != "gan" or (gan.latent_dim, gan.width) != (self.latent_dim, self.width):
            raise ValueError(f"a VAE-GAN with a {self.latent_dim}-D code and width {self.width} starts only "
                             f"from a GAN of the same sizes, not from this {gan.kind}")
        self.decoder.load_state_dict(gan.generator.state_dict())
        self.discriminator.load_state_dict(gan.discriminator.state_dict())
        return self

    def encode(self, x, y=None):
        """(μ, log σ²) of Q(H|X)."""
        return self.encoder(x).chunk(2, dim=1)

    def decode(self, h, y=None):
        return self.decoder(h)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decoder(reparameterize(mu, logvar)), mu, logvar

    def sample(self, n, *, generator=None, labels=None):
        return self.decoder(self.prior_noise(n, generator))

    def judge(self, x):
        """D(x) = σ(logit): the discriminator's probability that x is a real digit."""
        return torch.sigmoid(self.discriminator(x))

    def feature_body(self):
        return encoder_body(self.encoder)
