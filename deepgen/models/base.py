"""Every deepgen model is an `nn.Module` that huggingface_hub can save and load, and answers one
interface where it applies: `latent_dim`, `encode`, `decode`, `sample`, `embed`, `features`."""
import torch
import torch.nn as nn
from huggingface_hub import PyTorchModelHubMixin


class Unsupported(TypeError):
    """The model cannot do what was asked (a GAN has no encoder, a classifier no latent space)."""


class DeepgenModel(nn.Module, PyTorchModelHubMixin, library_name="deepgen", license="mit",
                   tags=["mnist", "deepgen"]):
    """Base class: `save_pretrained` / `from_pretrained` from the Hub mixin; `kind` names the model.

    - `latent_dim`: size of the code H (None: the model has none);
    - `encode(x, y=None) -> (μ, log σ² or None)`: the code of x (None where the code is a point);
    - `decode(h, y=None)`: pixel intensities in [0, 1];
    - `sample(n, *, generator=None, labels=None)`: n images from the prior;
    - `embed(x)`: the vectors the model compares digits by;
    - `features(x)`: the pretrained body's output that transfer learning reuses.

    Each method a model lacks raises `Unsupported` naming the model."""
    kind = "model"
    latent_dim = None

    def _cannot(self, what):
        raise Unsupported(f"a {type(self).__name__} ({self.kind}) {what}")

    def encode(self, x, y=None):
        self._cannot("has no encoder")

    def decode(self, h, y=None):
        self._cannot("has no decoder")

    def sample(self, n, *, generator=None, labels=None):
        self._cannot("cannot sample from a prior")

    def embed(self, x):
        self._cannot("has no embedding")

    def feature_body(self):
        """The module that maps a digit to the feature vector transfer learning reuses."""
        self._cannot("has no encoder to transfer")

    def _device(self):
        return next(self.parameters()).device

    def prior_noise(self, n, generator=None):
        """n codes from N(0, I), drawn with `generator` (on its device), on the model's device."""
        device = generator.device if generator is not None else self._device()
        return torch.randn(n, self.latent_dim, generator=generator, device=device).to(self._device())


def fold_batch_norms(layers):
    """A copy of the nn.Sequential `layers`, in eval mode, in which every BatchNorm that follows a
    convolution or linear layer is folded into that layer's weights and bias: y = γ(Wx + b − μ)/σ + β
    becomes y = W'x + b' with W' = γW/σ, b' = γ(b − μ)/σ + β (σ² = running variance + ε)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

    modules, out, i = list(layers), [], 0
    while i < len(modules):
        layer, after = modules[i], modules[i + 1] if i + 1 < len(modules) else None
        if isinstance(layer, nn.Conv2d) and isinstance(after, nn.BatchNorm2d):
            out.append(fuse_conv_bn_eval(layer, after))
            i += 2
        elif isinstance(layer, nn.Linear) and isinstance(after, nn.BatchNorm1d):
            out.append(fuse_linear_bn_eval(layer, after))
            i += 2
        else:
            out.append(layer)
            i += 1
    return nn.Sequential(*out).eval()


def conv_encoder(out_features, width=32, hidden=256, in_channels=1, deep=False):
    """28×28 → 14×14 → 7×7 convolutions, then a hidden layer; ends in `out_features`. `deep` adds
    a 3×3 convolution at 14×14 and at 7×7, as `conv_decoder`'s does."""
    def refine(channels):
        return [nn.Conv2d(channels, channels, 3, 1, 1), nn.LeakyReLU(0.2)] if deep else []

    return nn.Sequential(
        nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2), *refine(width),
        nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2), *refine(2 * width),
        nn.Flatten(), nn.Linear(2 * width * 49, hidden), nn.LeakyReLU(0.2),
        nn.Linear(hidden, out_features),
    )


def encoder_body(encoder):
    """`conv_encoder` without its last layer: the hidden features."""
    return nn.Sequential(*list(encoder.children())[:-1])


def conv_decoder(in_features, width=32, hidden=256, deep=False, out_channels=1):
    """The mirror of `conv_encoder`: a vector → 7×7 → 14×14 → 28×28 logits (or `out_channels`
    feature maps for a head to finish). `deep` adds a second hidden layer and a 3×3 convolution
    at 7×7 and at 14×14, the capacity a 2-D code needs to draw sharp digits."""
    def refine(channels):
        return [nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU()] if deep else []

    second_hidden = [nn.Linear(hidden, hidden), nn.ReLU()] if deep else []
    return nn.Sequential(
        nn.Linear(in_features, hidden), nn.ReLU(), *second_hidden,
        nn.Linear(hidden, 2 * width * 49), nn.ReLU(), nn.Unflatten(1, (2 * width, 7, 7)),
        *refine(2 * width), nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),
        *refine(width), nn.ConvTranspose2d(width, out_channels, 4, 2, 1),
    )
