"""Pictures of digits as training previews and the CLI save them (the app's own drawings are in
`webapp.pictures`)."""
import numpy as np


def to_uint8(images):
    """Tensor of intensities in [0, 1] (any leading shape, last two H×W) → uint8 numpy."""
    return (images.detach().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)


def grid(images, nrow=8, padding=2, pad_value=0.3):
    """B×1×28×28 in [0, 1] → one H×W uint8 picture, white digits on black as in MNIST: rows of
    `nrow` digits with `padding` pixels of grey between them (torchvision's `make_grid` layout)."""
    cells = images.detach().cpu().float()[:, 0]
    n, h, w = cells.shape
    if n == 1:                                          # one digit: itself, unframed
        return to_uint8(cells[0])
    columns = min(nrow, n)
    rows = -(-n // columns)
    canvas = cells.new_full((rows * (h + padding) + padding, columns * (w + padding) + padding), pad_value)
    for i, cell in enumerate(cells):
        r, c = divmod(i, columns)
        top, left = r * (h + padding) + padding, c * (w + padding) + padding
        canvas[top:top + h, left:left + w] = cell
    return to_uint8(canvas)


def save_png(array, path):
    from PIL import Image
    Image.fromarray(array).save(path)
