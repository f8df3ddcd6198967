"""A drawing or an uploaded picture → an MNIST digit, made the way MNIST was made.

MNIST (LeCun et al.): white ink on black, 28×28; the ink's bounding box is scaled to fit a
20×20 box keeping its aspect ratio, then pasted so that its centre of mass sits at the centre of
the 28×28 field. Bad input raises `InputError` (a `ValueError`) with a sentence for the user.
"""
import io
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SIZE, BOX = 28, 20
INK = 0.1                 # intensity above which a pixel counts as ink for the bounding box
MIN_CONTRAST = 0.15       # a picture whose ink is fainter than this is taken as blank
MAX_PIXELS = 50_000_000   # larger pictures are refused before decoding
WORK_SIDE = 512           # larger pictures are shrunk to this before the ink is found


class InputError(ValueError):
    """Input that cannot become a digit; the message is meant for the user."""


def from_sketch(value):
    """A Gradio sketchpad value {"background", "layers", "composite"} (or a bare image) → 1×1×28×28.

    The sketchpad draws on a transparent canvas, so the ink is the alpha channel of the RGBA
    composite. A composite without transparency (a picture sent by a program) is read as an upload."""
    if value is None:
        raise InputError("The canvas is empty: draw a digit.")
    composite = value.get("composite") if isinstance(value, dict) else value
    if composite is None and isinstance(value, dict) and value.get("layers"):
        layers = [_array(layer) for layer in value["layers"]]
        composite = max(layers, key=lambda a: 0 if a.ndim < 3 else int((a[..., -1] > 0).sum()))
    if composite is None:
        raise InputError("The canvas is empty: draw a digit.")
    array = _array(composite)
    if array.ndim == 3 and array.shape[2] == 4 and array[..., 3].min() < 255:
        return mnist_style(array[..., 3].astype(np.float32) / 255.0, "The canvas is blank: draw a digit.")
    return from_image(array)


def from_image(image):
    """An uploaded picture (path, bytes, PIL image or array; any size or mode) → 1×1×28×28.

    Dark-on-light pictures are inverted; a 28×28 picture is taken as an MNIST digit as it is."""
    pil = _open(image)
    w, h = pil.size
    if w * h > MAX_PIXELS:
        raise InputError(f"The image is too large ({w}×{h}): at most {MAX_PIXELS // 1_000_000} megapixels.")
    if max(w, h) > WORK_SIDE:
        pil = pil.copy()
        pil.thumbnail((WORK_SIDE, WORK_SIDE))
    ink = ink_of(pil)
    if ink is None:
        raise InputError("The image is blank: it shows no digit (no contrast between ink and background).")
    if ink.shape == (SIZE, SIZE):
        return torch.from_numpy(ink)[None, None].float()
    return mnist_style(ink, "The image is blank: it shows no digit.")


def ink_of(pil):
    """Ink intensity in [0, 1] (H×W float32, bright = ink), or None where the picture is blank."""
    from PIL import Image

    if pil.mode == "P":
        pil = pil.convert("RGBA" if "transparency" in pil.info else "RGB")
    if pil.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        alpha = np.asarray(pil.getchannel("A"), dtype=np.float32) / 255.0
        if alpha.min() < 1.0:              # strokes on a transparent background: the alpha is the ink
            return _stretch(alpha, 0.0)
        pil = pil.convert("RGB")
    if pil.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        gray = np.asarray(pil, dtype=np.float32)
        lo, hi = float(gray.min()), float(gray.max())
        gray = (gray - lo) / (hi - lo) if hi > lo else np.zeros_like(gray)
    else:
        if pil.mode != "L":
            pil = pil.convert("L") if pil.mode in ("1", "RGB") else pil.convert("RGB").convert("L")
        gray = np.asarray(pil, dtype=np.float32) / 255.0
    background = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    if background > 0.5:                   # dark ink on light paper
        gray, background = 1.0 - gray, 1.0 - background
    return _stretch(gray, background)


def _stretch(gray, background):
    top = float(gray.max())
    if top - background < MIN_CONTRAST:
        return None
    return np.clip((gray - background) / (top - background), 0.0, 1.0).astype(np.float32)


def mnist_style(ink, blank_message="The picture is blank: draw a digit."):
    """Ink (H×W, [0, 1]) → 1×1×28×28: crop to the ink, fit 20×20 keeping the aspect ratio,
    paste with the centre of mass at the centre of 28×28."""
    ink = np.asarray(ink, dtype=np.float32)
    rows, cols = np.nonzero(ink > INK)
    if len(rows) == 0:
        raise InputError(blank_message)
    crop = torch.from_numpy(np.ascontiguousarray(ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]))
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    digit = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True,
                          align_corners=False)[0, 0].clamp(0, 1)
    if float(digit.max()) > 0:
        digit = digit / digit.max()         # thin strokes keep full intensity after shrinking
    cy, cx = centre_of_mass(digit)
    top = _place(SIZE / 2 - 0.5 - cy, size[0])
    left = _place(SIZE / 2 - 0.5 - cx, size[1])
    out = torch.zeros(1, 1, SIZE, SIZE)
    out[0, 0, top:top + size[0], left:left + size[1]] = digit
    return out


def _place(offset, length):
    return int(min(max(math.floor(offset + 0.5), 0), SIZE - length))


def centre_of_mass(image):
    """(row, column) of the intensity-weighted centre of a 2-D tensor or array, in pixel indices."""
    image = torch.as_tensor(image, dtype=torch.float32)
    total = image.sum()
    if total <= 0:
        return (image.shape[0] - 1) / 2, (image.shape[1] - 1) / 2
    rows = torch.arange(image.shape[0], dtype=torch.float32)
    cols = torch.arange(image.shape[1], dtype=torch.float32)
    return float((image.sum(1) * rows).sum() / total), float((image.sum(0) * cols).sum() / total)


def _array(image):
    if isinstance(image, np.ndarray):
        return image
    return np.asarray(_open(image))


def _open(image):
    """Anything that holds a picture → a PIL image, or InputError."""
    from PIL import Image, UnidentifiedImageError

    if image is None:
        raise InputError("No image was given: upload a picture of a digit.")
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return _from_array(image)
    if torch.is_tensor(image):
        return _from_array(image.detach().cpu().numpy())
    if isinstance(image, dict) and "path" in image:   # a Gradio FileData payload
        image = image["path"]
    try:
        if isinstance(image, (bytes, bytearray, memoryview)):
            if len(image) == 0:
                raise InputError("The file is empty: upload a picture of a digit.")
            pil = Image.open(io.BytesIO(bytes(image)))
        else:
            path = Path(image)
            if not path.is_file():
                raise InputError(f"There is no file '{path.name}'.")
            if path.stat().st_size == 0:
                raise InputError(f"'{path.name}' is empty: upload a picture of a digit.")
            pil = Image.open(path)
        w, h = pil.size
        if w * h > MAX_PIXELS:
            raise InputError(f"The image is too large ({w}×{h}): at most {MAX_PIXELS // 1_000_000} megapixels.")
        pil.load()
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(f"The image is too large: at most {MAX_PIXELS // 1_000_000} megapixels.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError("This file is not an image that can be read (use PNG, JPEG, WebP, GIF or BMP).") from exc
    return pil


def _from_array(a):
    from PIL import Image

    a = np.asarray(a)
    if a.size == 0:
        raise InputError("The image is empty: upload a picture of a digit.")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise InputError(f"An image must be H×W, H×W×3 or H×W×4, not {'×'.join(map(str, a.shape))}.")
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise InputError("The image holds NaN or infinite values.")
        a = np.clip(a * 255.0 if a.max() <= 1.0 else a, 0, 255).round().astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(a))
