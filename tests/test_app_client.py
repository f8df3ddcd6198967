"""The app launched in-process and driven through gradio_client, endpoint by endpoint."""
import base64
import io
import re
import socket
import time

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from webapp import registry


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client(app_checkpoints):
    import torch
    threads = torch.get_num_threads()
    import app                                   # sets torch's threads as the app does
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        yield Client(app.demo.local_url, verbose=False)
    finally:
        app.demo.close()
        registry.reset()
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    ink = np.zeros((280, 280), np.uint8)
    ink[40:240, 120:160] = 255
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = ink
    Image.fromarray(rgba).save(folder / "sketch.png")
    Image.fromarray(255 - ink).convert("RGB").save(folder / "photo.jpg")
    (folder / "notes.png").write_text("not a picture")
    Image.new("L", (1, 1), 255).save(folder / "dot.png")
    return folder


def png_of(value):
    """The bytes of a picture an endpoint returned: a file the client downloaded, or an inline
    image (a dict holding a PNG data URL and no file)."""
    if isinstance(value, dict):
        assert value["path"] is None and value["url"].startswith("data:image/png;base64,")
        return base64.b64decode(value["url"].split(",", 1)[1])
    with open(value, "rb") as f:
        return f.read()


def is_png(value):
    return png_of(value)[:8] == b"\x89PNG\r\n\x1a\n"


def grid_captions(grid):
    """An HTML grid of digits over the API → its captions, after checking each digit is an inline
    28×28 PNG (no file to fetch)."""
    cells = re.findall(r'src="data:image/png;base64,([^"]+)"><figcaption>([^<]*)</figcaption>', grid)
    assert all(Image.open(io.BytesIO(base64.b64decode(b64))).size == (28, 28) for b64, _ in cells)
    return [caption for _, caption in cells]


def test_draw_and_reconstruct(client, files):
    sketch = {"background": None, "layers": [], "composite": handle_file(str(files / "sketch.png"))}
    digit, label = client.predict(sketch, api_name="/draw_sketch")
    assert is_png(digit) and Image.open(digit).size == (28, 28) and not label
    ae, vae, vaegan, probs, code, note = client.predict(handle_file(digit), api_name="/reconstruct")
    assert all(is_png(p) for p in (ae, vae, vaegan)) and code.startswith("<svg") and code.count("<rect") == 32
    assert len(probs["confidences"]) == 10
    assert all(isinstance(p, dict) for p in (ae, vae, vaegan))           # inline: no file to fetch
    ae2, *_ = client.predict(handle_file(str(files / "photo.jpg")), api_name="/reconstruct")
    assert Image.open(io.BytesIO(png_of(ae2))).size == (28, 28)
    digit, label, index = client.predict(5, api_name="/draw_pick")
    assert label in [str(d) for d in range(10)] and index == 5


def test_latent_endpoints(client):
    img = client.predict(*([0.25] * 32), api_name="/decode_latent")
    assert is_png(img) and Image.open(img).size == (28, 28)
    out = client.predict(api_name="/latent_random")
    assert len(out) == 33 and all(-3 <= v <= 3 for v in out[:32])
    grid_img, scatter_img, start, note = client.predict(api_name="/latent_overview")
    assert Image.open(grid_img).size == (436, 436) and is_png(scatter_img)
    point, marked = client.predict(1.0, -0.5, api_name="/decode_point")
    assert Image.open(point).size == (28, 28)
    pixels, codes = client.predict(3, 4, 6, api_name="/interpolate")
    assert Image.open(pixels).size == Image.open(codes).size


def test_style_transfer(client):
    digit, label, _ = client.predict(0, api_name="/draw_pick")
    row, used = client.predict(handle_file(digit), label, "true label (test digits)", api_name="/style_transfer")
    assert grid_captions(row) == [str(d) for d in range(10)] and f"true label **{label}**" in used
    captions = grid_captions(client.predict(3, 1, api_name="/style_grid"))
    assert len(captions) == 33 and captions[0].startswith("#") and captions[1:11] == [str(d) for d in range(10)]
    assert grid_captions(client.predict(2, 1, api_name="/prior_grid")) == [str(d) for d in range(10)] * 2


def test_compare(client):
    a, _, _ = client.predict(0, api_name="/draw_pick")
    b, _, _ = client.predict(1, api_name="/draw_pick")
    out = client.predict(handle_file(a), handle_file(b), "siamese-arcface", "siamese-cosface", api_name="/compare")
    assert len(out) == 10
    assert {c["label"] for c in out[0]["confidences"]} == {"same", "different"}
    assert "calibrated" in out[1] and "uncalibrated" in out[6]
    assert all(is_png(p) for p in (out[4], out[9]))
    for near in (out[2], out[3], out[7], out[8]):                      # inline grids, captioned as text
        captions = grid_captions(near)
        assert len(captions) == 8 and all(re.fullmatch(r"\d · \d\.\d\d", c) for c in captions)


def test_generate(client):
    gan, vaegan, vae, table = client.predict(7, 64, api_name="/generate")
    assert all(len(grid_captions(g)) == 64 and 0 <= float(grid_captions(g)[0]) <= 1 for g in (gan, vaegan, vae))
    assert table["headers"][:2] == ["samples", "judged by"] and len(table["data"]) == 3
    rows = client.predict(0, 1, 5, api_name="/interpolate_seeds")
    assert len(rows) == 3 and all(is_png(r) for r in rows)


def test_models_table_and_load(client, app_checkpoints):
    table = client.predict(api_name="/models")
    assert [row[0] for row in table["data"]] == list(registry.SLOTS)
    message, table = client.predict("vae", str(app_checkpoints / "vae"), api_name="/load_model")
    assert "Loaded" in message
    assert {row[0]: row[2] for row in table["data"]}["vae"] == "yours"


@pytest.mark.parametrize("endpoint, args, message", [
    ("/reconstruct", lambda f: [handle_file(str(f / "notes.png"))], "not an image"),
    ("/reconstruct", lambda f: [handle_file(str(f / "dot.png"))], "blank"),
    ("/draw_sketch", lambda f: [{"background": None, "layers": [], "composite": None}], "empty"),
    ("/decode_latent", lambda f: [5.0] + [0.0] * 31, "maximum"),
    ("/generate", lambda f: [0, 0], "minimum"),
    ("/draw_pick", lambda f: [123456], "index"),
    ("/load_model", lambda f: ["vae", "nobody/no-such-deepgen-model"], "cannot be reached|no Hub repo"),
    ("/load_model", lambda f: ["vae", str(f)], "config.json"),
    ("/compare", lambda f: [handle_file(str(f / "sketch.png")), None, "siamese-arcface", "siamese-cosface"],
     "digit B"),
])
def test_bad_input_is_an_error_and_the_app_goes_on(client, files, endpoint, args, message):
    with pytest.raises(AppError) as info:
        client.predict(*args(files), api_name=endpoint)
    assert re.search(message, str(info.value)), str(info.value)
    gan, *_ = client.predict(1, 4, api_name="/generate")
    assert len(grid_captions(gan)) == 4


def status_of(client, slot):
    table = client.predict(api_name="/models")
    return {row[0]: row[2] for row in table["data"]}[slot]


def test_training_streams_to_the_end(client):
    before = registry.get("vae")
    job = client.submit("vae", 1, None, None, None, 256, api_name="/train")
    status, curve, preview = job.result(timeout=240)
    updates = job.outputs()
    assert len(updates) >= 2 and updates[0][0].startswith("**Training**")
    assert status.startswith("**Done**") and "vae" in status
    assert len(curve["data"]) > 0 and is_png(preview)
    assert status_of(client, "vae") == "yours"                   # the visitor's own model …
    assert registry.get("vae") is before                         # … the bundled one is untouched


def test_training_can_be_stopped(client, monkeypatch):
    from deepgen import training
    original, seen = training.Run.events, []

    def counted(*args, **kwargs):
        for event in original(*args, **kwargs):
            seen.append(event.step)
            yield event
    monkeypatch.setattr(training.Run, "events", counted)
    client.predict(api_name="/back_to_bundled")
    job = client.submit("gan", 5, None, None, None, 60000, api_name="/train")
    deadline = time.time() + 120
    while len(job.outputs()) < 2 and time.time() < deadline:   # running: at least one step done
        time.sleep(0.2)
    assert len(job.outputs()) >= 2, "training did not start"
    job.cancel()
    stopped = time.time()
    time.sleep(3)
    steps_after_stop = len(seen)
    time.sleep(3)
    assert len(seen) == steps_after_stop, "training went on after Stop"
    # The next run must get the (single) training slot quickly: the stopped one is gone.
    quick = client.submit("ae", 1, None, None, None, 128, api_name="/train")
    status, _, _ = quick.result(timeout=120)
    assert status.startswith("**Done**")
    assert time.time() - stopped < 60
    assert status_of(client, "gan") == "bundled"                 # a stopped run replaces nothing
    assert len(grid_captions(client.predict(1, 4, api_name="/generate")[0])) == 4
