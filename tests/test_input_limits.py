"""Hostile inputs (issue 13, items 5 and 9), written as the attacks that were tried: small files
that decode to gigabytes, sketch payloads with many or huge layers, `data:` URLs and large request
bodies, and the odd values that gave raw messages. Each must be refused quickly, with a sentence,
or handled within a small memory budget."""
import base64
import io
import json
import logging
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zlib
from pathlib import Path

import gradio as gr
import httpx
import numpy as np
import pytest
from gradio.components.image_editor import EditorData
from gradio.data_classes import FileData, ImageData
from PIL import Image

from deepgen.preprocess import InputError, from_image
from webapp import components, sketch, uploads

ROOT = Path(__file__).resolve().parents[1]


def png(width, height, pixel, color_type):
    """A one-colour 8-bit PNG of any size, made in a fraction of a second: one deflate segment of
    many rows, flushed to a byte boundary, repeated (the way a decompression bomb is made).
    color_type: 0 grey, 2 RGB, 6 RGBA; `pixel` holds one pixel's bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" + pixel * width
    per = max(1, 2**22 // len(row))

    def segment(n):
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        return z.compress(row * n) + z.flush(zlib.Z_FULL_FLUSH)

    full, rest = divmod(height, per)
    body = [b"\x78\xda", segment(per) * full, segment(rest) if rest else b"", b"\x03\x00"]
    adler, block = 1, row * per
    for _ in range(full):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(row * rest, adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(body) + struct.pack(">I", adler))
            + chunk(b"IEND", b""))


def test_the_png_maker_makes_real_pngs():
    pil = Image.open(io.BytesIO(png(700, 650, b"\x10\x20\x30\xff", 6)))
    pil.load()
    assert pil.size == (700, 650) and pil.getextrema() == ((16, 16), (32, 32), (48, 48), (255, 255))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    made = {
        "rgba7000": png(7000, 7000, b"\0\0\0\0", 6),          # 196 MB decoded
        "inked7000": png(7000, 7000, b"\0\0\0\xff", 6),       # a canvas inked all over
        "bomb30000": png(30000, 30000, b"\0", 0),             # 900 MB decoded
        "layer": png(280, 280, b"\0\0\0\0", 6),
    }
    paths = {}
    for name, data in made.items():
        paths[name] = folder / f"{name}.png"
        paths[name].write_bytes(data)
    seven = np.full((4000, 6000, 3), 255, np.uint8)         # 96 MB decoded: over the budget unreduced
    seven[600:900, 1500:4500] = 0
    seven[900:3600, 3900:4300] = 0
    Image.fromarray(seven).save(folder / "photo.jpg", quality=90)
    paths["photo"] = folder / "photo.jpg"
    return paths


# --- 13.5: small files that decode to gigabytes ---------------------------------------------------

def test_rgba_bomb_is_refused_before_decoding(files):
    assert files["rgba7000"].stat().st_size < 300_000
    box = components.image_box(type="pil", image_mode=None)
    start = time.perf_counter()
    with pytest.raises(gr.Error, match=r"too large \(7000×7000\): at most 16 megapixels"):
        box.preprocess(ImageData(path=str(files["rgba7000"]), orig_name="x.png"))
    with pytest.raises(InputError, match="too large"):
        from_image(str(files["rgba7000"]))
    assert time.perf_counter() - start < 1.0



def rebuilt_as_gradio_does(component, **update):
    """The copy Gradio builds of a component, for one session, after an update of its props."""
    return type(component)(**{**component.constructor_args, **update, "render": False})


def test_limits_and_encodings_survive_a_label_update(files):
    box = rebuilt_as_gradio_does(components.image_box(type="pil", image_mode=None), label="Your item")
    assert box.label == "Your item"
    with pytest.raises(gr.Error, match="too large"):                      # still bounded
        box.preprocess(ImageData(path=str(files["rgba7000"]), orig_name="x.png"))
    grid = rebuilt_as_gradio_does(components.digit_grid("digits", columns=2), label="items")
    html = grid.postprocess([(np.zeros((28, 28), np.uint8), "a"), (np.ones((28, 28), np.uint8), "b")])
    assert html.startswith('<div class="digit-grid"') and html.count("<figure>") == 2   # still inline digits
    assert grid.get_block_name() == "html"                                   # the page's widget


def test_every_wrapped_component_of_the_app_keeps_its_wrapping():
    import app
    wrapped = [b for b in app.demo.blocks.values() if type(b).__dict__.get("_one_component")]
    assert len(wrapped) >= 20
    for block in wrapped:
        copy = rebuilt_as_gradio_does(block, label="new")
        plain = type(block).__base__(**{**block.constructor_args, "render": False})
        assert block.get_block_name() == copy.get_block_name() == plain.get_block_name()     # the page's widget
        assert block.component_class_id == plain.component_class_id
        for name in ("preprocess", "postprocess", "accept_blobs"):
            if name in type(block).__dict__:
                assert getattr(copy, name) is getattr(block, name), (block, name)


MEASURE = textwrap.dedent("""
    import json, resource, sys
    from types import SimpleNamespace
    import numpy as np
    from deepgen.preprocess import from_image
    from webapp import uploads

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    warm = np.zeros((300, 300), np.uint8); warm[50:250, 140:160] = 255
    from_image(warm)
    base, out = peak(), {}
    for name, path in json.loads(sys.argv[1]).items():
        for way in ("box", "package"):      # as the guarded image box opens a payload, and as given
            try:
                value = uploads.open_payload(SimpleNamespace(path=path, url=None)) if way == "box" else path
                out[name + " " + way] = "digit %.2f" % float(from_image(value).max())
            except ValueError as exc:
                out[name + " " + way] = str(exc)
    out["growth_mb"] = peak() - base
    print(json.dumps(out))
""")


def test_large_pictures_cost_little_memory(files):
    """In a fresh process: the RGBA bomb is refused and a 24-megapixel JPEG (96 MB at full size)
    decodes reduced; the peak memory grows by far less than either would take decoded."""
    paths = {name: str(files[name]) for name in ("rgba7000", "bomb30000", "photo")}
    result = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(paths)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for way in ("box", "package"):
        assert "too large (7000×7000)" in out[f"rgba7000 {way}"]
        assert "too large (900 megapixels)" in out[f"bomb30000 {way}"]
        assert out[f"photo {way}"].startswith("digit"), out
    assert out["growth_mb"] < 40, out


def test_png_bomb_says_too_large_not_unreadable(files):
    box = components.image_box(type="pil", image_mode=None)
    with pytest.raises(gr.Error, match="too large") as caught:
        box.preprocess(ImageData(path=str(files["bomb30000"]), orig_name="bomb.png"))
    assert "not an image" not in caught.value.message
    output_box = components.image_box(label="an output that callbacks also read")   # numpy, RGB
    with pytest.raises(gr.Error, match="too large"):
        output_box.preprocess(ImageData(path=str(files["bomb30000"]), orig_name="bomb.png"))


# --- 13.5: sketch payloads -------------------------------------------------------------------------

def test_ten_layer_sketch_is_refused_quickly(files):
    pad = components.sketchpad()
    layer = FileData(path=str(files["layer"]))
    start = time.perf_counter()
    with pytest.raises(gr.Error, match="at most 4 layers, not 10"):
        pad.preprocess(EditorData(background=None, layers=[layer] * 10, composite=layer))
    assert time.perf_counter() - start < 0.5
    with pytest.raises(InputError, match="at most 4 layers"):
        sketch.from_sketch({"background": None, "layers": [np.zeros((8, 8, 4), np.uint8)] * 5, "composite": None})


def test_browser_blobs_are_bounded(files):
    """The browser sends a drawing through `accept_blobs`: a layer index past the limit, a huge
    picture and a flood of drawings that are never used are all refused or dropped."""
    from fastapi import HTTPException
    from gradio.data_classes import DataWithFiles

    pad = components.sketchpad()
    small = files["layer"].read_bytes()

    def send(id, kind, index, data=small):
        return pad.accept_blobs(DataWithFiles(data={"id": id, "type": kind, "index": index},
                                              files=[("blob.png", data)]))

    for index in ("4", "9", str(10**12), "-1"):
        with pytest.raises(HTTPException) as caught:
            send("a", "layer", index)
        assert caught.value.status_code == 413
    with pytest.raises(HTTPException, match="too large"):
        send("a", "composite", None, files["inked7000"].read_bytes())
    assert "a" not in pad.blob_storage
    for i in range(40):                                      # 40 drawings of 1 MB each, never used
        send(f"flood{i}", "composite", None, small + b"\0" * 2**20)
    held = sum(len(b.composite) for b in pad.blob_storage.values())
    assert held <= sketch.MAX_PENDING_BYTES and "flood39" in pad.blob_storage


def test_inked_huge_composite_is_shrunk_first(files):
    """A 7000² canvas inked all over: refused unread as a file; as an array (what Gradio hands a
    callback) it is shrunk before any full-size pass and called covered, not blank."""
    pad = components.sketchpad()
    with pytest.raises(gr.Error, match="too large"):
        pad.preprocess(EditorData(background=None, layers=[], composite=FileData(path=str(files["inked7000"]))))
    composite = np.zeros((7000, 7000, 4), np.uint8)
    composite[..., 3] = 255
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="covered in ink"):
            sketch.from_sketch({"background": None, "layers": [], "composite": composite})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20            # one full-size float or copy of the alpha would be 49–196 MB


@pytest.mark.parametrize("alpha", [255, 254])
def test_canvas_covered_in_ink_is_not_called_blank(alpha):
    composite = np.zeros((280, 280, 4), np.uint8)
    composite[..., 3] = alpha
    with pytest.raises(InputError, match="covered in ink"):
        sketch.from_sketch({"background": None, "layers": [], "composite": composite})
    composite[..., 3] = 0
    with pytest.raises(InputError, match="blank"):
        sketch.from_sketch({"background": None, "layers": [], "composite": composite})


# --- 13.5: data: URLs and request bodies -----------------------------------------------------------

def data_url(data):
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_data_url_over_the_upload_cap_is_refused_unread():
    box = components.image_box(type="pil", image_mode=None)
    start = time.perf_counter()
    with pytest.raises(gr.Error, match="too large: at most 20 MB"):
        box.preprocess(ImageData(url=data_url(b"\0" * (uploads.MAX_UPLOAD_BYTES + 1))))
    assert time.perf_counter() - start < 0.5


def test_data_url_is_held_to_the_decoding_budget(files):
    box = components.image_box(type="pil", image_mode=None)
    with pytest.raises(gr.Error, match="too large"):
        box.preprocess(ImageData(url=data_url(files["rgba7000"].read_bytes())))
    digit = np.zeros((100, 100), np.uint8)
    digit[20:80, 45:55] = 255
    buffer = io.BytesIO()
    Image.fromarray(digit).save(buffer, format="PNG")
    picture, _ = components.prepare_upload(box.preprocess(ImageData(url=data_url(buffer.getvalue()))))
    assert picture.shape == (28, 28) and picture.max() == 255


@pytest.fixture(scope="module")
def server():
    """A small app with the guarded components and the body limit, as app.py launches them."""
    from starlette.middleware import Middleware

    with gr.Blocks() as demo:
        pad = components.sketchpad()
        box = components.image_box(type="pil", image_mode=None)
        size = gr.Textbox()
        box.upload(lambda image: str(image.size), box, size, api_name="size")
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, max_file_size=uploads.MAX_UPLOAD_BYTES,
                            app_kwargs={"middleware": [Middleware(uploads.BodyLimit)]})
    yield url + "gradio_api/", pad
    demo.close()


def test_request_bodies_are_capped(server):
    api, _ = server
    upload = httpx.post(api + "upload", files={"files": ("big.png", b"\0" * (uploads.MAX_FORM_BYTES + 1))},
                        timeout=60)
    assert upload.status_code == 413
    payload = {"url": data_url(b"\0" * (2 * uploads.MAX_JSON_BYTES)), "meta": {"_type": "gradio.FileData"}}
    call = httpx.post(api + "call/size", json={"data": [payload]}, timeout=60)
    assert call.status_code == 413 and "too large" in call.json()["detail"]


def test_blob_route_refuses_extra_layers(server):
    api, pad = server

    def blob(index, data):
        fields = {"id": "x", "type": "layer", "index": str(index), "component_id": str(pad._id),
                  "fn_name": "accept_blobs", "session_hash": "test"}
        return httpx.post(api + "component_server/", data=fields, files={"file": ("layer.png", data)}, timeout=60)

    small = png(280, 280, b"\0\0\0\0", 6)
    assert blob(0, small).status_code == 200
    refused = blob(9, small)
    assert refused.status_code == 413 and "at most 4 layers" in refused.json()["detail"]


# --- 13.9: minor cases --------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["inf", float("inf"), "-inf", "nan", float("nan"), "1e400", 10**30, "7.5", True])
def test_odd_labels_get_the_label_message(value):
    with pytest.raises(InputError, match="A label is a digit 0–9"):
        components.as_label(value)


def test_labels_and_seeds_that_are_fine():
    assert components.as_label("7") == 7 and components.as_label(3.0) == 3 and components.as_label("") is None
    assert components.as_seed("12") == 12 and components.as_seed(5.0) == 5 and components.as_seed(None) == 0
    assert components.as_seed(2**63 - 1) == 2**63 - 1 and components.as_seed(np.int64(9)) == 9


@pytest.mark.parametrize("value", [2**64, 2**63, str(2**64), float(2**64), -1, "inf", float("nan"), "1.5", "seven"])
def test_huge_or_odd_seeds_get_a_clear_message(value):
    with pytest.raises(InputError, match=r"a whole number from 0 to 2\^63−1"):
        components.as_seed(value)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_wide_16_bit_pictures_work(fmt):
    ink = np.zeros((900, 3000), np.uint16)
    ink[100:800, 1400:1600] = 60000
    buffer = io.BytesIO()
    Image.fromarray(ink).save(buffer, format=fmt)
    pil = Image.open(io.BytesIO(buffer.getvalue()))
    assert pil.mode.startswith("I;16")
    x = from_image(pil)
    assert x.shape == (1, 1, 28, 28) and float(x.max()) > 0.9


def test_user_errors_are_logged_in_one_line_without_a_traceback(caplog):
    @components.friendly
    def pick(label):
        return components.as_label(label)

    @components.friendly
    def broken():
        raise KeyError("a bug")

    with caplog.at_level(logging.INFO, logger="deepgen.app"):
        with pytest.raises(gr.Error) as caught:
            pick("inf")
    assert caught.value.print_exception is False
    [record] = caplog.records
    assert record.levelno == logging.INFO and record.exc_info is None
    assert "A label is a digit" in record.getMessage() and "\n" not in record.getMessage()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deepgen.app"):
        with pytest.raises(gr.Error, match="Something went wrong"):
            broken()
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None    # a bug keeps its traceback
