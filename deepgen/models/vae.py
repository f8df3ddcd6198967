"""Variational autoencoder and its conditional version (slides "VAE", "Conditional VAE").

Q(H|X) = N(μ(X), diag exp(logvar(X))); P(X|H) is Bernoulli with logits f(H), pixel by pixel,
or (`context_rows` > 0) row by row: P(X|H) = Πᵣ P(xᵣ | H, the rows just above r), see `RowContext`.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..losses import reparameterize
from .base import DeepgenModel, conv_decoder, conv_encoder, encoder_body


class RowContext(nn.Module):
    """The decoder's last step when P(X|H) is drawn row by row (a local autoregressive decoder,
    as in PixelVAE, Gulrajani et al. 2017, but over whole rows): the logits of row r come from
    the decoder's feature maps at row r and the pixels of the `rows` rows above it, within
    `reach` columns. The pixels of one row stay independent given H and the rows above, so a
    digit is drawn in 28 steps, and the short reach leaves the shape of the digit to H.

    In training, `dropout` is the chance that an image's rows above are all hidden (as in the
    word dropout of Bowman et al. 2016): the decoder must then draw from H alone, which keeps
    the digit's shape in H and the drawing from streaking down the columns."""

    def __init__(self, channels, rows=1, reach=1, dropout=0.0):
        super().__init__()
        self.rows, self.dropout = rows, dropout
        self.context = nn.Conv2d(1, channels, (rows, 2 * reach + 1), padding=(0, reach))
        self.out = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1))

    def forward(self, features, x):
        """Logits of every row at once, given the true pixels above each (for the loss)."""
        if self.training and self.dropout:
            x = x * (torch.rand(len(x), 1, 1, 1, device=x.device) >= self.dropout)
        above = F.pad(x, (0, 0, self.rows, 0))[:, :, :-1]   # row r of `above` ends at row r − 1 of x
        return self.logits(features, above)

    def logits(self, features, above):
        """Logits of the rows in `features`, each given the pixels of the `rows` rows just above it,
        laid out in `above` so that the convolution over them lands on that row."""
        return self.out(features + self.context(above))

    def draw(self, features):
        """Bernoulli means, row after row, each row drawn from the means of the rows above."""
        n, _, height, width = features.shape
        rows = [features.new_zeros(n, 1, 1, width)] * self.rows
        for r in range(height):
            rows.append(torch.sigmoid(self.logits(features[:, :, r:r + 1], torch.cat(rows[-self.rows:], 2))))
        return torch.cat(rows[self.rows:], 2)


def _scored(model, features, x):
    """The decoder's `features` as logits of P(X|H) scored against the images x: as they are for a
    pixel-by-pixel decoder; a row-by-row one (`model.rows`) needs x."""
    if model.rows is None:
        return features
    if x is None:
        raise ValueError(f"this {type(model).__name__} draws row by row: its logits need the image they score")
    return model.rows(features, x)


def _drawn(model, features):
    """Bernoulli means in [0, 1] from the decoder's `features` (row by row: each row's means given
    the means above it)."""
    return torch.sigmoid(features) if model.rows is None else model.rows.draw(features)


class VAE(DeepgenModel):
    kind = "vae"

    def __init__(self, latent_dim: int = 32, width: int = 32, hidden: int = 256, deep: bool = False,
                 context_rows: int = 0, context_reach: int = 1, context_channels: int = 32,
                 context_dropout: float = 0.0, encoder_width: int | None = None, encoder_hidden: int | None = None,
                 encoder_deep: bool = False):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = conv_encoder(2 * latent_dim, encoder_width or width, encoder_hidden or hidden,
                                    deep=encoder_deep)
        self.decoder = conv_decoder(latent_dim, width, hidden, deep, context_channels if context_rows else 1)
        self.rows = RowContext(context_channels, context_rows, context_reach, context_dropout) if context_rows else None

    def encode(self, x, y=None):
        """(μ, log σ²) of Q(H|X)."""
        return self.encoder(x).chunk(2, dim=1)

    def decode_logits(self, h, x=None, y=None):
        """Logits of P(X|H) scored against the images x (a row-by-row decoder needs them)."""
        return _scored(self, self.decoder(h), x)

    def decode(self, h, y=None):
        """Bernoulli means in [0, 1] (row by row: each row's means given the means above it)."""
        return _drawn(self, self.decoder(h))

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode_logits(reparameterize(mu, logvar), x), mu, logvar

    def sample(self, n, *, generator=None, labels=None):
        return self.decode(self.prior_noise(n, generator))

    def feature_body(self):
        return encoder_body(self.encoder)


def with_label(x, one_hot):
    """Append the one-hot label to a batch of vectors or, as constant channels, of feature maps."""
    if x.dim() == 2:
        return torch.cat([x, one_hot], 1)
    return torch.cat([x, one_hot[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)


class LabelledDecoder(nn.Module):
    """`conv_decoder` with the one-hot label fed to every layer, not only the first: far out in
    the prior's tails, where H alone would decide the digit, the label still steers it. `deep`
    adds, as in `conv_decoder`, a second hidden layer and a 3×3 convolution at 7×7 and 14×14."""

    def __init__(self, latent_dim, num_classes, width, hidden, out_channels=1, deep=False):
        super().__init__()
        self.width = width
        self.fc1 = nn.Linear(latent_dim + num_classes, hidden)
        self.fc_mid = nn.Linear(hidden + num_classes, hidden) if deep else None
        self.fc2 = nn.Linear(hidden + num_classes, 2 * width * 49)
        self.refine7 = nn.Conv2d(2 * width + num_classes, 2 * width, 3, 1, 1) if deep else None
        self.up1 = nn.ConvTranspose2d(2 * width + num_classes, width, 4, 2, 1)   # 7×7 → 14×14
        self.refine14 = nn.Conv2d(width + num_classes, width, 3, 1, 1) if deep else None
        self.up2 = nn.ConvTranspose2d(width + num_classes, out_channels, 4, 2, 1)   # 14×14 → 28×28 logits

    def forward(self, h, one_hot):
        x = F.relu(self.fc1(with_label(h, one_hot)))
        if self.fc_mid is not None:
            x = F.relu(self.fc_mid(with_label(x, one_hot)))
        x = F.relu(self.fc2(with_label(x, one_hot))).view(-1, 2 * self.width, 7, 7)
        if self.refine7 is not None:
            x = F.relu(self.refine7(with_label(x, one_hot)))
        x = F.relu(self.up1(with_label(x, one_hot)))
        if self.refine14 is not None:
            x = F.relu(self.refine14(with_label(x, one_hot)))
        return self.up2(with_label(x, one_hot))


class CVAE(DeepgenModel):
    """The label Y enters the encoder (as ten constant image channels) and every decoder layer;
    `context_rows` > 0 draws P(X|H, Y) row by row, as in `VAE`."""
    kind = "cvae"

    def __init__(self, latent_dim: int = 16, num_classes: int = 10, width: int = 32, hidden: int = 256,
                 context_rows: int = 0, context_reach: int = 1, context_channels: int = 32,
                 context_dropout: float = 0.0, deep: bool = False):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.encoder = conv_encoder(2 * latent_dim, width, hidden, in_channels=1 + num_classes)
        self.decoder = LabelledDecoder(latent_dim, num_classes, width, hidden,
                                       context_channels if context_rows else 1, deep)
        self.rows = RowContext(context_channels, context_rows, context_reach, context_dropout) if context_rows else None

    def _one_hot(self, y):
        if y is None:
            raise ValueError("a conditional VAE needs the label Y of every image")
        return F.one_hot(torch.as_tensor(y, device=self._device()).long().reshape(-1), self.num_classes).float()

    def encode(self, x, y=None):
        """(μ, log σ²) of Q(H|X, Y)."""
        return self.encoder(with_label(x, self._one_hot(y))).chunk(2, dim=1)

    def decode_logits(self, h, x=None, y=None):
        """Logits of P(X|H, Y) scored against the images x (only a row-by-row decoder needs them)."""
        return _scored(self, self.decoder(h, self._one_hot(y)), x)

    def decode(self, h, y=None):
        """Bernoulli means in [0, 1] (row by row: each row's means given the means above it)."""
        return _drawn(self, self.decoder(h, self._one_hot(y)))

    def forward(self, x, y):
        mu, logvar = self.encode(x, y)
        return self.decode_logits(reparameterize(mu, logvar), x, y), mu, logvar

    def sample(self, n, *, generator=None, labels=None):
        """n samples of P(X|H, Y) with H ∼ N(0, I); labels 0, 1, …, 9, 0, … unless given."""
        labels = torch.arange(n) % self.num_classes if labels is None else torch.as_tensor(labels)
        return self.decode(self.prior_noise(n, generator), labels)

    def feature_body(self):
        self._cannot("needs the label to encode, so its encoder does not transfer to unlabelled digits")
