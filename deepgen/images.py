"""Pictures of digits as training previews and the CLI save them (the app's own drawings are in
`webapp.pictures`)."""
import numpy as np


def to_uint8(images):
    """Tensor of intensities in [0, 1] (any leading shape, last two H×W) → uint8 numpy."""
    return (images.detach().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)


def grid(images, nrow=8, padding=2):
    """B×1×28×28 in [0, 1] → one H×W uint8 picture, white digits on black as in MNIST."""
    from torchvision.utils import make_grid  # imported here: torchvision takes seconds to import
    g = make_grid(images.detach().cpu().float(), nrow=nrow, padding=padding, pad_value=0.3)
    return to_uint8(g[0])


def save_png(array, path):
    from PIL import Image
    Image.fromarray(array).save(path)
