"""Image helpers shared by training previews, the CLI and the app."""
import numpy as np
import torch
from torchvision.utils import make_grid


def to_uint8(images):
    """Tensor of intensities in [0, 1] (any leading shape, last two H×W) → uint8 numpy."""
    return (images.detach().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)


def grid(images, nrow=8, padding=2):
    """B×1×28×28 in [0, 1] → one H×W uint8 picture, white digits on black as in MNIST."""
    g = make_grid(images.detach().cpu().float(), nrow=nrow, padding=padding, pad_value=0.3)
    return to_uint8(g[0])


def save_png(array, path):
    from PIL import Image
    Image.fromarray(array).save(path)
