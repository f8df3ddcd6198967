"""deepgen.preprocess.from_photo: a product photo becomes a Fashion-MNIST item (grey, bright on
black, trimmed, longer side 28 pixels, centred), bad input a sentence."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from deepgen.preprocess import InputError, from_photo


def photo(background, colour, size=(300, 400), box=(60, 90, 260, 190)):
    """An RGB photo `size` (h, w) of `background` grey with a `colour` rectangle at box (top, left,
    bottom, right)."""
    a = np.full((*size, 3), background, np.uint8)
    top, left, bottom, right = box
    a[top:bottom, left:right] = colour
    return Image.fromarray(a)


def extent(x, threshold=0.05):
    """(rows, columns) the object spans in a 1×28×28 item, and its first row and column."""
    rows, cols = np.nonzero(x[0].numpy() > threshold)
    return (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1), (rows.min(), cols.min())


def test_light_background_is_inverted():
    x = from_photo(photo(background=250, colour=40))           # a dark shirt on white
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert float(x[0, 0, 0]) == 0 and float(x[0, 14, 14]) > 0.8   # black field, bright object
    light = from_photo(photo(background=250, colour=200))        # a light one: dim, not bright
    assert 0.1 < float(light[0, 14, 14]) < 0.4


def test_dark_background_is_not_inverted():
    x = from_photo(photo(background=5, colour=180))
    assert float(x[0, 0, 0]) == 0 and float(x[0, 14, 14]) == pytest.approx((180 - 5) / 250, abs=0.03)


def test_longer_side_fills_28_and_the_object_is_centred():
    x = from_photo(photo(250, 40, size=(300, 400), box=(10, 250, 210, 350)))   # 200 tall, 100 wide, off centre
    (h, w), (top, left) = extent(x)
    assert h == 28 and 13 <= w <= 15                            # aspect ratio kept
    assert top == 0 and abs(left - (28 - w) / 2) <= 1           # centred across


def test_wide_object_is_centred_vertically():
    x = from_photo(photo(250, 40, size=(500, 500), box=(400, 20, 450, 420)))   # 50 tall, 400 wide, near the bottom
    (h, w), (top, left) = extent(x)
    assert w == 28 and 3 <= h <= 5 and abs(top - (28 - h) / 2) <= 1


def test_transparency_counts_as_white_background():
    a = np.zeros((200, 200, 4), np.uint8)
    a[50:150, 80:120] = (30, 30, 30, 255)                      # an opaque dark object, transparent around it
    x = from_photo(Image.fromarray(a, "RGBA"))
    assert float(x[0, 0, 0]) == 0 and float(x[0, 14, 14]) > 0.8 and extent(x)[0][0] == 28


def test_files_and_arrays_are_read(tmp_path):
    path = tmp_path / "shirt.jpg"
    photo(250, 40).save(path)
    from_file = from_photo(str(path))
    as_bytes = from_photo(path.read_bytes())
    assert from_file.shape == as_bytes.shape == (1, 28, 28) and torch.allclose(from_file, as_bytes)
    assert from_photo(np.asarray(photo(250, 40))).shape == (1, 28, 28)


def test_a_28_by_28_item_is_taken_as_it_is():
    item = np.zeros((28, 28), np.uint8)
    item[3:25, 9:19] = 170
    item[:, :3] = item[:, -3:] = item[:3] = item[-3:] = 200    # fills its field: the border is no background
    x = from_photo(Image.fromarray(item))
    assert torch.allclose(x[0], torch.from_numpy(item).float() / 255)


@pytest.mark.parametrize("bad, message", [
    (None, "No image"),
    (Image.new("RGB", (300, 300), (240, 240, 240)), "blank"),
    (Image.new("L", (1, 1), 255), "blank"),
    (b"not a picture at all", "not an image"),
    (np.zeros((4, 4, 7), np.uint8), "H×W"),
])
def test_bad_input_is_a_clear_value_error(bad, message):
    with pytest.raises(InputError, match=message) as info:
        from_photo(bad)
    assert isinstance(info.value, ValueError)


def test_huge_photo_is_shrunk_first():
    big = np.full((4000, 3000), 255, np.uint8)
    big[1000:3000, 1000:2000] = 0
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, format="PNG")
    x = from_photo(buffer.getvalue())
    assert extent(x)[0] == (28, 14)
