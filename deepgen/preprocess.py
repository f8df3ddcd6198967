"""A picture or a drawing's ink → an MNIST digit, made the way MNIST was made; a product
photo → a Fashion-MNIST item, made the way Fashion-MNIST was made.

MNIST (LeCun et al.): white ink on black, 28×28; the ink's bounding box is scaled to fit a
20×20 box keeping its aspect ratio, then pasted so that its centre of mass sits at the centre of
the 28×28 field. Fashion-MNIST (Xiao et al. 2017): the product photo is trimmed to the object,
its longer side scaled to 28 pixels, centred on the 28×28 field, negated and made grey
(`from_photo`). Bad input raises `InputError` (a `ValueError`) with a sentence for the user.

Pictures cost bounded memory whatever their file size: a picture that would take more than
`MAX_DECODED_BYTES` once decoded in its own mode is refused before decoding (a JPEG is first set
to decode reduced), and every picture is shrunk to `WORK_SIDE` before any other full-size pass.
"""
import io
import math
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SIZE, BOX = 28, 20
INK = 0.1                 # intensity above which a pixel counts as ink for the bounding box
TRIM = 0.05               # a photo's pixels this close to the background's grey are trimmed away
MIN_CONTRAST = 0.15       # a picture whose ink is fainter than this is taken as blank
MAX_DECODED_BYTES = 64 * 2**20   # larger pictures, once decoded, are refused before decoding
WORK_SIDE = 512           # larger pictures are shrunk to this before the ink is found

# Bytes per pixel of a decoded picture, as Pillow stores it (3-band modes take 4). A palette
# picture is read through RGB(A), so it costs what RGBA costs.
PIXEL_BYTES = {"1": 1, "L": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2, "P": 4}
DEFAULT_PIXEL_BYTES = 4

# EXIF orientation → the transpose that puts the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
            6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}
NOT_AN_IMAGE = "This file is not an image that can be read (use PNG, JPEG, WebP, GIF or BMP)."


class InputError(ValueError):
    """Input that cannot become a digit; the message is meant for the user."""


def from_image(image):
    """A picture (path, bytes, PIL image or array; any size or mode) → 1×1×28×28.

    Dark-on-light pictures are inverted; a 28×28 picture is taken as an MNIST digit as it is."""
    ink = ink_of(shrink(open_image(image)))
    if ink is None:
        raise InputError("The image is blank: it shows no digit (no contrast between ink and background).")
    if ink.shape == (SIZE, SIZE):
        return torch.from_numpy(ink)[None, None].float()
    return mnist_style(ink, "The image is blank: it shows no digit.")


def ink_of(pil):
    """Ink intensity in [0, 1] (H×W float32, bright = ink), or None where the picture is blank.
    Works on the picture at the size it has: shrink large pictures first."""
    if pil.mode in ("P", "PA"):
        pil = pil.convert("RGBA" if "transparency" in pil.info or pil.mode == "PA" else "RGB")
    if pil.mode in ("RGBA", "LA", "La", "RGBa"):
        alpha = np.asarray(pil.getchannel("A"), dtype=np.float32) / 255.0
        if alpha.min() < 1.0:              # strokes on a transparent background: the alpha is the ink
            return _stretch(alpha, 0.0)
        pil = pil.convert("RGB")
    if pil.mode.startswith("I") or pil.mode == "F":
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


def from_photo(image):
    """A product photo (path, bytes, PIL image or array; any size or mode) → 1×28×28 in [0, 1],
    made as Fashion-MNIST's items were: grey; negated where the background (the median of the
    border pixels) is light, so that the object is bright on black; trimmed to the object's
    bounding box; its longer side scaled to 28 pixels keeping the aspect ratio; centred on a
    28×28 black field. Transparent parts count as white background. A 28×28 picture is taken
    as a Fashion-MNIST item as it is, only made grey (an item that fills its field has no
    background to judge by)."""
    if image is None:
        raise InputError("No image was given: upload a photo of the object.")
    gray = _photo_gray(shrink(open_image(image)))
    if gray.shape == (SIZE, SIZE):
        return torch.from_numpy(np.ascontiguousarray(gray))[None].float()
    background = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    if background > 0.5:                   # an object on a light background: negate
        gray, background = 1.0 - gray, 1.0 - background
    item = np.clip((gray - background) / max(1.0 - background, 1e-6), 0.0, 1.0)
    rows, cols = np.nonzero(item > TRIM)
    if len(rows) == 0 or float(item.max()) < MIN_CONTRAST:
        raise InputError("The image is blank: it shows no object (no contrast with its background).")
    crop = torch.from_numpy(np.ascontiguousarray(item[rows.min():rows.max() + 1, cols.min():cols.max() + 1]))
    h, w = crop.shape
    scale = SIZE / max(h, w)
    size = (min(SIZE, max(1, round(h * scale))), min(SIZE, max(1, round(w * scale))))
    fitted = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True,
                           align_corners=False)[0, 0].clamp(0, 1)
    out = torch.zeros(1, SIZE, SIZE)
    top, left = (SIZE - size[0]) // 2, (SIZE - size[1]) // 2
    out[0, top:top + size[0], left:left + size[1]] = fitted
    return out


def _photo_gray(pil):
    """A decoded picture → grey levels in [0, 1] (H×W float32), transparency laid on white."""
    from PIL import Image

    if pil.mode in ("P", "PA"):
        pil = pil.convert("RGBA" if "transparency" in pil.info or pil.mode == "PA" else "RGB")
    if pil.mode in ("RGBA", "LA", "La", "RGBa"):
        white = Image.new("RGBA", pil.size, (255, 255, 255, 255))
        pil = Image.alpha_composite(white, pil.convert("RGBA")).convert("RGB")
    if pil.mode.startswith("I") or pil.mode == "F":
        gray = np.asarray(pil, dtype=np.float32)
        lo, hi = float(gray.min()), float(gray.max())
        return (gray - lo) / (hi - lo) if hi > lo else np.zeros_like(gray)
    if pil.mode != "L":
        pil = pil.convert("L") if pil.mode in ("1", "RGB") else pil.convert("RGB").convert("L")
    return np.asarray(pil, dtype=np.float32) / 255.0


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


# --- opening pictures within a memory budget ----------------------------------------------------

def decoded_bytes(pil):
    """The memory `pil` takes once decoded, in bytes (its size now, so after any `draft`)."""
    w, h = pil.size
    return w * h * PIXEL_BYTES.get(pil.mode, DEFAULT_PIXEL_BYTES)


def check_size(pil, budget=MAX_DECODED_BYTES):
    """InputError, before any decoding, if `pil` would take more than `budget` bytes decoded."""
    if decoded_bytes(pil) > budget:
        w, h = pil.size
        limit = budget // PIXEL_BYTES.get(pil.mode, DEFAULT_PIXEL_BYTES) // 1_000_000
        raise InputError(f"The image is too large ({w}×{h}): at most {limit} megapixels.")


def open_image(image, budget=MAX_DECODED_BYTES, reduce=True):
    """Anything that holds a picture → a PIL image whose decoding fits `budget`, or InputError.

    A picture from a file or bytes comes back not yet decoded and, with `reduce`, a large JPEG
    set to decode at a reduced scale (without, the full size must fit); an array comes back
    shrunk to `WORK_SIDE`."""
    from PIL import Image, UnidentifiedImageError

    if image is None:
        raise InputError("No image was given: upload a picture of a digit.")
    if isinstance(image, Image.Image):
        pil = image
    elif isinstance(image, np.ndarray):
        return _from_array(reduce_array(image))
    elif torch.is_tensor(image):
        return _from_array(reduce_array(image.detach().cpu().numpy()))
    else:
        try:
            pil = Image.open(_source(image))
        except InputError:
            raise
        except Image.DecompressionBombError as exc:
            raise InputError(_bomb_message(exc)) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise InputError(NOT_AN_IMAGE) from exc
    if reduce and pil.format == "JPEG" and max(pil.size) > WORK_SIDE:
        pil.draft(pil.mode, (WORK_SIDE, WORK_SIDE))      # decode at 1/2, 1/4 or 1/8 scale
    try:
        check_size(pil, budget)
    except InputError:
        if pil is not image:
            pil.close()
        raise
    return pil


def _source(image):
    """Bytes or a path → what Image.open reads, refusing empty and missing files."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        if len(image) == 0:
            raise InputError("The file is empty: upload a picture of a digit.")
        return io.BytesIO(bytes(image))
    if not isinstance(image, (str, Path)):
        raise InputError(f"Cannot read a picture from a {type(image).__name__}.")
    path = Path(image)
    if not path.is_file():
        raise InputError(f"There is no file '{path.name}'.")
    if path.stat().st_size == 0:
        raise InputError(f"'{path.name}' is empty: upload a picture of a digit.")
    return path


def _bomb_message(exc):
    """Pillow refuses absurd sizes when it reads the header; say how large, as for other pictures."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f" ({int(found.group(1)) // 1_000_000} megapixels)" if found else ""
    return f"The image is too large{size}: at most {MAX_DECODED_BYTES // 1_000_000} megapixels."


def shrink(pil, side=WORK_SIDE):
    """Decode `pil` (see `open_image` for the budget) and return it at most `side` pixels on its
    longer side, upright as its EXIF orientation says."""
    from PIL import Image

    try:
        orientation = pil.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block only loses the orientation
        orientation = 1
    try:
        pil.load()
    except Image.DecompressionBombError as exc:
        raise InputError(_bomb_message(exc)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(NOT_AN_IMAGE) from exc
    if max(pil.size) > side:
        if pil.mode == "1":
            pil = pil.convert("L")
        elif pil.mode in ("P", "PA"):           # Pillow resizes palettes with nearest neighbours
            pil = pil.convert("RGBA" if "transparency" in pil.info or pil.mode == "PA" else "RGB")
        scale = side / max(pil.size)
        size = (max(1, round(pil.width * scale)), max(1, round(pil.height * scale)))
        pil = pil.resize(size, Image.Resampling.BOX, reducing_gap=None)
    if orientation in _UPRIGHT:
        pil = pil.transpose(getattr(Image.Transpose, _UPRIGHT[orientation]))
    return pil


def reduce_array(a, side=WORK_SIDE):
    """An H×W or H×W×C array with its longer side cut to at most `side` by averaging k×k blocks
    (k the same on both axes, so the aspect ratio stays), without a full-size copy.

    uint8 stays uint8; other types come back as float32. The last rows and columns that do
    not fill a block are dropped."""
    a = np.asarray(a)
    if a.ndim < 2:
        return a
    h, w = a.shape[:2]
    k = math.ceil(max(h, w) / side)
    if k <= 1:
        return a
    ky, kx = min(k, h), min(k, w)
    rest = a.shape[2:]
    h2, w2 = h // ky, w // kx
    out = np.empty((h2, w2, *rest), np.float32)
    step = max(1, 2**21 // (w2 * kx * math.prod(rest)))    # a band of rows: 8 MB of float32 at most
    for i in range(0, h2, step):
        n = min(step, h2 - i)
        band = a[i * ky:(i + n) * ky, :w2 * kx].reshape(n, ky, w2 * kx, *rest).mean(axis=1, dtype=np.float32)
        out[i:i + n] = band.reshape(n, w2, kx, *rest).mean(axis=2)
    return np.rint(out).astype(np.uint8) if a.dtype == np.uint8 else out


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
