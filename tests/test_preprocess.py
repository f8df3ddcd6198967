"""deepgen.preprocess and webapp.sketch: drawings and uploads become MNIST digits, bad input a sentence."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from deepgen.preprocess import InputError, centre_of_mass, from_image, mnist_style
from webapp.sketch import from_sketch


def sketch(ink):
    """A Gradio 6 sketchpad value: black ink on a transparent canvas, the ink in the alpha channel."""
    composite = np.zeros((*ink.shape, 4), np.uint8)
    composite[..., 3] = ink
    return {"background": None, "layers": [composite.copy()], "composite": composite}


def seven(size=280, offset=(0, 0)):
    ink = np.zeros((size, size), np.uint8)
    top, left = 40 + offset[0], 60 + offset[1]
    ink[top:top + 25, left:left + 140] = 255                     # the bar
    for i in range(170):                                          # the stem
        c = left + 140 - int(i * 0.5)
        ink[top + i:top + i + 1, max(c - 12, 0):c + 12] = 255
    return ink


def ink_box(x, threshold=0.1):
    rows, cols = np.nonzero(x[0, 0].numpy() > threshold)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_sketch_becomes_an_mnist_digit():
    x = from_sketch(sketch(seven()))
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert 0 <= float(x.min()) and float(x.max()) == pytest.approx(1.0)
    h, w = ink_box(x)
    assert max(h, w) <= 21 and max(h, w) >= 19          # the longer side fits the 20×20 box
    cy, cx = centre_of_mass(x[0, 0])
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0


def test_position_and_size_on_the_canvas_do_not_matter():
    corner = np.zeros((280, 280), np.uint8)                # a small "L" in the bottom-left corner
    corner[200:260, 10:22] = 255
    corner[248:260, 10:45] = 255
    moved = np.roll(corner, (-150, 180), axis=(0, 1))        # the same "L" up and to the right
    a, b = from_sketch(sketch(corner)), from_sketch(sketch(moved))
    assert torch.allclose(a, b, atol=1e-5)
    assert max(ink_box(a)) >= 19


def test_aspect_ratio_is_kept():
    ink = np.zeros((280, 280), np.uint8)
    ink[20:260, 130:150] = 255                           # a "1": 240 tall, 20 wide
    x = from_sketch(sketch(ink))
    h, w = ink_box(x)
    assert h >= 19 and w <= 4


def test_centre_of_mass_not_box_centre():
    ink = np.zeros((100, 100), np.float32)
    ink[10:90, 10:25] = 1.0                              # a "Г": the left bar is heavier
    ink[10:30, 25:90] = 1.0
    x = mnist_style(ink)
    cy, cx = centre_of_mass(x[0, 0])
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5
    rows, cols = np.nonzero(x[0, 0].numpy() > 0.1)
    assert (cols.min() + cols.max()) / 2 > 14.5          # so the ink's box is not centred


def test_lopsided_digit_stays_inside_the_field():
    ink = np.zeros((100, 100), np.float32)
    ink[10:90, 10:20] = 1.0
    ink[10:12, 20:90] = 0.2
    x = mnist_style(ink)                                  # its centre of mass cannot reach the centre
    assert max(ink_box(x)) >= 19                          # but none of it is cut off


@pytest.mark.parametrize("value", [None, {"background": None, "layers": [], "composite": None}])
def test_empty_canvas_is_refused(value):
    with pytest.raises(InputError, match="empty"):
        from_sketch(value)


def test_blank_canvas_is_refused():
    with pytest.raises(InputError, match="blank"):
        from_sketch(sketch(np.zeros((280, 280), np.uint8)))


def test_opaque_composite_is_read_as_a_picture():
    """A program may send an ordinary picture as the composite: dark ink on white paper."""
    rgba = np.full((280, 280, 4), 255, np.uint8)
    rgba[..., :3] -= seven()[..., None]
    x = from_sketch({"background": None, "layers": [], "composite": rgba})
    assert x.shape == (1, 1, 28, 28) and float(x.max()) > 0.9
    assert float(x[0, 0, 0, 0]) == 0.0                  # the paper became black


def to_png(pil):
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "1", "I;16", "LA"])
def test_uploads_of_every_mode(mode):
    dark_on_light = Image.fromarray(255 - seven(300))
    pil = dark_on_light.convert(mode)
    x = from_image(pil)
    assert x.shape == (1, 1, 28, 28)
    assert float(x.max()) > 0.9 and float(x[0, 0, 0, 0]) == 0.0
    assert max(ink_box(x)) >= 19


def test_transparent_png_uses_the_alpha_channel():
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[..., 3] = seven(200)
    x = from_image(Image.open(io.BytesIO(to_png(Image.fromarray(rgba)))))
    assert max(ink_box(x)) >= 19


def test_light_on_dark_is_not_inverted():
    x = from_image(Image.fromarray(seven(100)))
    assert float(x[0, 0, 0, 0]) == 0.0 and float(x.max()) > 0.9


def test_huge_image_is_shrunk_quickly():
    big = np.full((3000, 4000), 255, np.uint8)
    big[500:2500, 1800:2100] = 0
    x = from_image(Image.fromarray(big))
    assert x.shape == (1, 1, 28, 28) and max(ink_box(x)) >= 19


def test_one_pixel_image_is_blank():
    with pytest.raises(InputError, match="blank"):
        from_image(Image.new("L", (1, 1), 128))


def test_mnist_sized_picture_is_taken_as_it_is(mnist_test_slice):
    images, _ = mnist_test_slice
    digit = (images[0, 0].numpy() * 255).round().astype(np.uint8)
    x = from_image(digit)
    assert torch.allclose(x[0, 0], torch.from_numpy(digit / 255.0).float(), atol=1 / 255)


def test_non_image_files_are_refused(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(InputError, match="not an image"):
        from_image(str(text))
    with pytest.raises(InputError, match="not an image"):
        from_image(b"GIF89a broken")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        from_image(str(empty))
    with pytest.raises(InputError, match="No image"):
        from_image(None)


def test_odd_arrays():
    with pytest.raises(InputError, match="H×W"):
        from_image(np.zeros((4, 4, 2)))
    with pytest.raises(InputError, match="NaN"):
        from_image(np.full((10, 10), np.nan))
    x = from_image(np.pad(np.ones((10, 4)), 5))              # floats in [0, 1]
    assert max(ink_box(x)) >= 19
