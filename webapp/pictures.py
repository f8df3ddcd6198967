"""Pictures the app draws for its tabs: digits for an image box or a gallery, labelled grids,
scatter plots with a legend and marks (RGB uint8 arrays or PIL images), and bar charts of
latent codes (inline SVG). Numbers a student must read go beside the pictures as text (gallery
captions), not into their pixels."""
import base64
import functools
import html
import math
import struct
import zlib

import numpy as np

from deepgen.images import to_uint8

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
"""One colour per digit 0–9 (matplotlib's tab10)."""


@functools.lru_cache(maxsize=16)
def font(size=12):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def missing_glyphs(text, size=12):
    """The characters of `text` that `font(size)` lacks (it draws them all as the same box)."""
    f = font(size)

    def drawn(c):
        mask = f.getmask(c)
        return mask.size, bytes(mask)
    box = drawn("\uffff")
    return "".join(sorted({c for c in text if not c.isspace() and drawn(c) == box}))


@functools.lru_cache(maxsize=256)
def _outlined(text, colour, size):
    """`text` in `colour`, outlined in white, on a transparent RGBA stamp; and its offset from the
    point it is drawn at (rendered once: outlined text costs FreeType a stroke per call)."""
    from PIL import Image, ImageDraw

    f = font(size)
    left, top, right, bottom = f.getbbox(text, stroke_width=2)
    stamp = Image.new("RGBA", (max(1, right - left), max(1, bottom - top)), (255, 255, 255, 0))
    ImageDraw.Draw(stamp).text((-left, -top), text, fill=colour, font=f, stroke_width=2, stroke_fill="white")
    return stamp, (left, top)


def outlined_text(img, xy, text, colour=(0, 0, 0), size=12):
    """Draw `text` with its top-left at `xy` on the PIL picture `img` (in place), outlined in white
    so that it reads over the points of a scatter."""
    stamp, (left, top) = _outlined(str(text), tuple(colour) if not isinstance(colour, str) else colour, size)
    img.paste(stamp, (round(xy[0] + left), round(xy[1] + top)), stamp)


def digit_image(x):
    """1×1×28×28 (or 28×28) tensor → 28×28 uint8."""
    return to_uint8(x.reshape(x.shape[-2], x.shape[-1]))


def captioned(images, captions):
    """Digits (B×1×28×28) and one caption each → the (28×28 uint8, caption) pairs a gallery shows;
    the page draws the captions as text."""
    return list(zip(to_uint8(images[:, 0]), [str(c) for c in captions]))


def digit_grid_html(pairs, columns=8):
    """(28×28 uint8, caption) pairs → an HTML grid of digits, each an inline PNG (no file for the
    browser or an API client to fetch) with its caption as text under it (CSS class `digit-grid`)."""
    cells = []
    for picture, caption in pairs:
        picture = np.ascontiguousarray(picture)
        text = html.escape(str(caption))
        cells.append(f'<figure><img alt="{text}" src="data:image/png;base64,'
                     f'{_png_base64(picture.tobytes(), picture.shape)}"><figcaption>{text}</figcaption></figure>')
    return f'<div class="digit-grid" style="--columns: {int(columns)}">{"".join(cells)}</div>'


@functools.lru_cache(maxsize=4096)
def _png_base64(pixels, shape):
    """A uint8 picture (its bytes and shape) as base64 PNG, encoded once: grids show the same test
    images again and again (nearest neighbours, thumbnails)."""
    return base64.b64encode(png_bytes(np.frombuffer(pixels, np.uint8).reshape(shape))).decode()


def png_bytes(picture, compress_level=1):
    """A uint8 picture (H×W grey, H×W×3 RGB or H×W×4 RGBA) as PNG bytes, written here rather than
    by PIL, whose per-picture overhead is most of the cost for 28×28 digits (a Generate call
    encodes 192). Rows are stored unfiltered; level 1 by default: the pictures are small and made
    per request, so encoding fast beats a few bytes."""
    picture = np.asarray(picture, dtype=np.uint8)
    height, width = picture.shape[:2]
    channels = 1 if picture.ndim == 2 else picture.shape[2]
    rows = np.zeros((height, 1 + width * channels), np.uint8)      # each row: filter byte 0, pixels
    rows[:, 1:] = picture.reshape(height, width * channels)
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR_TYPES[channels], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), compress_level)) + _png_chunk(b"IEND", b""))


_PNG_COLOUR_TYPES = {1: 0, 3: 2, 4: 6}                             # grey, RGB, RGBA


def _png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_data_url(picture, compress_level=1):
    """A uint8 picture as a PNG data URL (for a page script to show without a file)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(picture, compress_level)).decode()


def captioned_grid(images, captions, nrow=8, zoom=2, caption_height=14):
    """Digits (B×1×28×28) with a line of text under each: an RGB uint8 picture."""
    cells = to_uint8(images[:, 0])
    n, h, w = cells.shape if len(cells) else (0, 28, 28)
    ncol = min(nrow, max(n, 1))
    nrows = max(1, math.ceil(n / ncol))
    side_h, side_w = h * zoom, w * zoom
    cell_h, cell_w = side_h + caption_height + 4, side_w + 4
    canvas = np.full((nrows * cell_h, ncol * cell_w), 250, np.uint8)
    big = cells.repeat(zoom, axis=1).repeat(zoom, axis=2)
    for i, text in enumerate(captions[:n]):
        r, c = divmod(i, ncol)
        y0, x0 = r * cell_h + 2, c * cell_w + 2
        canvas[y0:y0 + side_h, x0:x0 + side_w] = big[i]
        mask = _text_mask(str(text), caption_height - 3)
        th, tw = mask.shape[0], min(mask.shape[1], cell_w)
        tx, ty = x0 + (side_w - tw) // 2, y0 + side_h + 1
        region = canvas[ty:ty + th, max(tx, 0):max(tx, 0) + tw]
        np.minimum(region, 255 - (mask[:region.shape[0], :region.shape[1]].astype(np.uint16) * 215 // 255)
                   .astype(np.uint8), out=region)
    return np.repeat(canvas[..., None], 3, axis=2)


@functools.lru_cache(maxsize=4096)
def _text_mask(text, size):
    """The coverage mask of `text` in the default font (cached: captions repeat)."""
    from PIL import Image, ImageDraw

    f = font(size)
    left, top, right, bottom = f.getbbox(text or " ")
    img = Image.new("L", (max(1, right - min(left, 0)), size + 3), 0)
    ImageDraw.Draw(img).text((-min(left, 0), 0), text, fill=255, font=f)
    return np.asarray(img)


LEGEND = 16   # pixels below a scatter plot for its legend


class Frame:
    """Maps data coordinates (x right, y up) to the pixels of a square plot and back."""

    def __init__(self, lo, hi, size=420, pad=28):
        self.lo, self.hi, self.size, self.pad = float(lo), float(hi), size, pad

    @classmethod
    def around(cls, points, size=420, pad=28, margin=0.05):
        lo, hi = float(points.min()), float(points.max())
        span = max(hi - lo, 1e-6)
        return cls(lo - margin * span, hi + margin * span, size, pad)

    @property
    def scale(self):
        return (self.size - 2 * self.pad) / (self.hi - self.lo)

    def to_pixel(self, x, y):
        return self.pad + (x - self.lo) * self.scale, self.size - self.pad - (y - self.lo) * self.scale

    def to_data(self, px, py):
        return self.lo + (px - self.pad) / self.scale, self.lo + (self.size - self.pad - py) / self.scale


def scatter(points, labels, frame, radius=1.6, title=None, names=None):
    """A scatter plot of 2-D points coloured by class, with axes ticks and, below, a legend naming
    each class (`names`, default the digits 0–9) (PIL RGB image, frame.size wide and LEGEND
    pixels taller than wide for each row of the legend)."""
    from PIL import Image, ImageDraw

    names = [str(n) for n in (names if names is not None else range(10))]
    rows = _legend_rows(names, frame.size, font(11))
    img = Image.new("RGB", (frame.size, frame.size + LEGEND * len(rows)), "white")
    draw, f = ImageDraw.Draw(img), font(11)
    p0, p1 = frame.pad, frame.size - frame.pad
    draw.rectangle([p0, p0, p1, p1], outline=(180, 180, 180))
    for tick in _ticks(frame.lo, frame.hi):
        px, py = frame.to_pixel(tick, tick)
        draw.line([px, p1, px, p1 + 4], fill=(120, 120, 120))
        draw.line([p0 - 4, py, p0, py], fill=(120, 120, 120))
        label = f"{tick:g}"
        draw.text((px - draw.textlength(label, font=f) / 2, p1 + 5), label, fill=(90, 90, 90), font=f)
        draw.text((p0 - 5 - draw.textlength(label, font=f), py - 6), label, fill=(90, 90, 90), font=f)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    inside = ((pts >= frame.lo) & (pts <= frame.hi)).all(1)     # the frame's range, not its margin
    for (x, y), c in zip(pts[inside], np.asarray(labels)[inside]):
        px, py = frame.to_pixel(x, y)
        draw.ellipse([px - radius, py - radius, px + radius, py + radius], fill=PALETTE[int(c) % 10])
    for r, row in enumerate(rows):
        x, y = (frame.size - sum(w for _, w in row)) / 2, frame.size + 2 + LEGEND * r
        for d, width in row:
            draw.rectangle([x, y + 2, x + 9, y + 11], fill=PALETTE[d % 10])
            draw.text((x + 12, y), names[d], fill=(60, 60, 60), font=f)
            x += width
    if title:
        draw.text((p1 - draw.textlength(title, font=f), 4), title, fill=(60, 60, 60), font=f)
    return img


def _legend_rows(names, width, f):
    """The legend's entries [(class, width in pixels)] split into rows that fit `width` (one-digit
    names take 26 pixels each, as they always did)."""
    from PIL import ImageDraw, Image

    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    entries = [(d, max(26, int(measure.textlength(n, font=f)) + 20)) for d, n in enumerate(names)]
    rows, row = [], []
    for entry in entries:
        if row and sum(w for _, w in row) + entry[1] > width - 8:
            rows.append(row)
            row = []
        row.append(entry)
    return rows + [row] if row else rows or [[]]


def mark(img, frame, points, names, colour=(0, 0, 0)):
    """A copy of a scatter picture with big labelled crosses at `points` (data coordinates)."""
    from PIL import ImageDraw

    img = img.copy()
    draw = ImageDraw.Draw(img)
    for (x, y), name in zip(points, names):
        px, py = frame.to_pixel(float(x), float(y))
        px = min(max(px, frame.pad), frame.size - frame.pad)
        py = min(max(py, frame.pad), frame.size - frame.pad)
        draw.ellipse([px - 8, py - 8, px + 8, py + 8], outline=colour, width=3)
        draw.line([px - 12, py, px + 12, py], fill=colour, width=2)
        draw.line([px, py - 12, px, py + 12], fill=colour, width=2)
        outlined_text(img, (px + 10, py - 20), name, colour, 15)
    return img


def _ticks(lo, hi, count=5):
    step = 10 ** math.floor(math.log10(max((hi - lo) / count, 1e-9)))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (m * step) <= count:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step) + 1)]


def code_bars(values, limit=3.0, height=110, bar=10, gap=2, margin=26):
    """A bar chart of a latent code as inline SVG: one bar per dimension, up in blue where positive
    and down in red where negative, clipped at ±`limit`; hovering a bar shows its value."""
    values = [float(v) for v in np.asarray(values).reshape(-1)]
    width = margin + max(1, len(values)) * (bar + gap) + gap
    mid = height / 2
    parts = [f'<line x1="{margin}" y1="{mid}" x2="{width}" y2="{mid}" stroke="#a0a0a0"/>']
    for text, y in ((f"+{limit:g}", 10), ("0", mid + 4), (f"−{limit:g}", height - 2)):
        parts.append(f'<text x="{margin - 4}" y="{y}" text-anchor="end" font-size="11" fill="currentColor">{text}</text>')
    for i, v in enumerate(values):
        h = max(-1.0, min(1.0, v / limit)) * (mid - 2) if math.isfinite(v) else 0.0
        colour = "#1f77b4" if v >= 0 else "#d62728"
        parts.append(f'<rect x="{margin + gap + i * (bar + gap)}" y="{mid - max(h, 0):.1f}" width="{bar}" '
                     f'height="{max(abs(h), 0.5):.1f}" fill="{colour}"><title>μ{i + 1} = {v:+.2f}</title></rect>')
    return (f'<svg class="code-bars" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{len(values)} values of the code">{"".join(parts)}</svg>')
