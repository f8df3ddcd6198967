"""The app's callbacks called directly, as plain functions (no browser, no server)."""
import json
import os
import re
import shutil

import gradio as gr
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from deepgen import inference
from webapp import components, registry, testset
from webapp.tabs import compare, draw, generate, latent, models, style

pytestmark = pytest.mark.usefixtures("app_checkpoints")


def sketch_value(ink):
    composite = np.zeros((*ink.shape, 4), np.uint8)
    composite[..., 3] = ink
    return {"background": None, "layers": [composite.copy()], "composite": composite}


def drawn_one():
    ink = np.zeros((280, 280), np.uint8)
    ink[40:240, 130:152] = 255
    return ink


@pytest.fixture
def digit():
    """A picked MNIST test digit as the 28×28 digit component holds it."""
    image, label, index = components.pick_test_digit(0)
    return Image.fromarray(image), label


@pytest.fixture
def restore_registry():
    yield
    registry.reset()


# --- the three ways in ------------------------------------------------------------------------

def test_sketch_to_digit():
    image, label = components.prepare_sketch(sketch_value(drawn_one()))
    assert image.shape == (28, 28) and image.dtype == np.uint8 and label is None
    rows, cols = np.nonzero(image > 25)
    assert rows.max() - rows.min() + 1 >= 19                  # fitted to 20×20


@pytest.mark.parametrize("value", [None, {"background": None, "layers": [], "composite": None},
                                   sketch_value(np.zeros((280, 280), np.uint8))])
def test_blank_canvas_is_an_error(value):
    with pytest.raises(gr.Error, match="empty|blank"):
        components.prepare_sketch(value)


def test_cleared_canvas_stops_quietly():
    with pytest.raises(gr.Error) as info:
        components.sketch_changed({"background": None, "layers": [], "composite": None})
    assert info.value.visible is False
    with pytest.raises(gr.Error) as info:                    # drawn, then all erased: say so
        components.sketch_changed(sketch_value(np.zeros((280, 280), np.uint8)))
    assert info.value.visible is not False


@pytest.mark.parametrize("make", [
    lambda: Image.fromarray(255 - drawn_one()).convert("L"),
    lambda: Image.fromarray(255 - drawn_one()).convert("RGB"),
    lambda: Image.fromarray(255 - drawn_one()).convert("RGBA"),
    lambda: Image.fromarray(255 - drawn_one()).convert("RGB").resize((37, 91)),
])
def test_uploads_of_odd_sizes_and_modes(make):
    image, label = components.prepare_upload(make())
    assert image.shape == (28, 28) and image.max() > 200 and image[0, 0] == 0


def test_huge_upload():
    big = np.full((3000, 4000, 3), 250, np.uint8)
    big[400:2600, 1900:2150] = 10
    image, _ = components.prepare_upload(Image.fromarray(big))
    assert image.shape == (28, 28)


@pytest.mark.parametrize("bad, message", [(None, "No image"), ("1x1", "blank"), ("text", "not an image")])
def test_bad_uploads(bad, message, tmp_path):
    if bad == "1x1":
        bad = Image.new("RGB", (1, 1), "white")
    elif bad == "text":
        bad = tmp_path / "digit.png"
        bad.write_text("not a picture at all")
        bad = str(bad)
    with pytest.raises(gr.Error, match=message):
        components.prepare_upload(bad)


def test_unreadable_file_in_an_image_component(tmp_path):
    """A non-image sent to an image component fails in Gradio's preprocessing: a short message."""
    from gradio.data_classes import ImageData
    box = components.image_box(type="pil", image_mode=None)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(gr.Error, match="not an image"):
        box.preprocess(ImageData(path=str(text), orig_name="notes.txt"))


def test_pick_test_digits():
    image, label, index = components.pick_test_digit(7)
    assert image.shape == (28, 28) and label in [str(d) for d in range(10)] and index == 7
    image, label, index = components.pick_random()
    assert 0 <= index < 10000
    for bad in (-1, 10000, "seven"):
        with pytest.raises(gr.Error, match="index"):
            components.pick_test_digit(bad)


def test_opening_the_test_set_picker_shows_its_image_once():
    image, label, index = components.pick_if_empty(None, 7)
    assert (image == components.pick_test_digit(7)[0]).all() and index == 7
    with pytest.raises(gr.Error) as shown:          # an image is there: it stays, silently
        components.pick_if_empty(image, 3)
    assert shown.value.visible is False


def test_missing_mnist_is_said_clearly(monkeypatch, tmp_path):
    from deepgen import data

    def missing(*a, **k):
        raise data.DataMissing("MNIST was not found in 'nowhere': set DEEPGEN_DATA")
    monkeypatch.setattr(data, "mnist_tensors", missing)
    monkeypatch.setenv("DEEPGEN_DATA", str(tmp_path))
    with pytest.raises(gr.Error, match="DEEPGEN_DATA"):
        components.pick_test_digit(0)
    assert "DEEPGEN_DATA" in components.notice([], needs_testset=True)
    with pytest.raises(gr.Error, match="DEEPGEN_DATA"):
        style.style_grid(3, 0)


# --- Draw -------------------------------------------------------------------------------------

def test_reconstruct(digit):
    ae, vae, vaegan, probs, code, note = draw.reconstruct(digit[0])
    for img in (ae, vae, vaegan):
        assert img.shape == (28, 28) and img.dtype == np.uint8
    assert set(probs) == {str(d) for d in range(10)} and sum(probs.values()) == pytest.approx(1, abs=1e-5)
    assert note == ""
    mu = inference.latent_mean(registry.get("vae"), draw.as_digit(digit[0]))[0]
    values = [float(v) for v in re.findall(r"<title>μ\d+ = ([+-][\d.]+)</title>", code)]
    assert code.startswith("<svg") and len(values) == 32 == code.count("<rect")   # one bar per dimension …
    assert values == pytest.approx(mu.tolist(), abs=0.006)                      # … whose value shows on hover


def test_reconstruct_without_input():
    with pytest.raises(gr.Error, match="no digit"):
        draw.reconstruct(None)


def test_missing_checkpoint_is_named(tmp_path, monkeypatch, restore_registry, digit):
    partial = tmp_path / "ckpt"
    shutil.copytree(registry.checkpoint_dir() / "vae", partial / "vae")
    monkeypatch.setenv(registry.ENV_VAR, str(partial))
    registry.reset()
    ae, vae, vaegan, probs, code, note = draw.reconstruct(digit[0])
    assert ae is None and vae is not None and probs is None
    assert "python -m train ae" in note and "python -m train classifier" in note
    with pytest.raises(gr.Error, match="python -m train siamese-arcface"):
        compare.compare(digit[0], digit[0], "siamese-arcface", "siamese-cosface")


# --- Latent space -----------------------------------------------------------------------------

def test_decode_latent():
    img = latent.decode_latent(*([0.5] * latent.N_SLIDERS))
    assert img.shape == (28, 28)


@pytest.mark.parametrize("values", [[5.0] + [0.0] * 31, [float("nan")] + [0.0] * 31, ["x"] + [0.0] * 31,
                                    [0.0] * 40])
def test_decode_latent_refuses_bad_values(values):
    with pytest.raises(gr.Error):
        latent.decode_latent(*values)


def test_codes_for_the_sliders(digit):
    for out in (latent.code_from_digit(digit[0]), latent.code_from_test(3), latent.code_random(1),
                latent.code_zero()):
        assert len(out) == latent.N_SLIDERS + 1
        assert all(abs(v) <= latent.RANGE for v in out[:-1]) and out[-1].shape == (28, 28)
    assert latent.code_zero()[:-1] == (0.0,) * latent.N_SLIDERS


def test_manifold_scatter_and_clicks():
    grid_img = latent.manifold()
    assert grid_img.shape == (15 * 29 + 1, 15 * 29 + 1)
    scatter_img = latent.latent_scatter()
    assert scatter_img.shape == (440 + 16, 440, 3)
    point, marked = latent.decode_point(0.5, -1.0)
    assert point.shape == (28, 28) and marked.shape == scatter_img.shape and (marked != scatter_img).any()
    event = gr.SelectData(None, {"index": [220, 220], "value": None})
    point, marked, z1, z2 = latent.decode_click(event)
    assert abs(z1) < 0.1 and abs(z2) < 0.1
    with pytest.raises(gr.Error, match="Coordinates"):
        latent.decode_point(100, 0)
    grid_img2, scatter_img2, start, note = latent.on_open()
    assert note == "" and grid_img2.shape == grid_img.shape


def test_interpolate():
    pixels, codes = latent.interpolate(0, 1, 8)
    assert pixels.shape == codes.shape == (32, 8 * 30 + 2)
    with pytest.raises(gr.Error, match="steps"):
        latent.interpolate(0, 1, 100)
    with pytest.raises(gr.Error, match="index"):
        latent.interpolate(0, 99999, 8)


# --- Style transfer ---------------------------------------------------------------------------

def grid_digits_and_captions(grid):
    """An HTML grid of digits (`pictures.digit_grid_html`) → (the 28×28 digits, their captions)."""
    import base64
    import io
    import re
    cells = re.findall(r'<figure><img alt="([^"]*)" src="data:image/png;base64,([^"]+)"><figcaption>([^<]*)</figcaption>', grid)
    digits = [np.asarray(Image.open(io.BytesIO(base64.b64decode(b64)))) for _, b64, _ in cells]
    assert all(d.shape == (28, 28) and d.dtype == np.uint8 for d in digits)
    assert all(alt == caption for alt, _, caption in cells)
    return digits, [caption for _, _, caption in cells]


def digits_and_captions(gallery):
    """A gallery's value as the callbacks return it → (the 28×28 digits, their captions)."""
    assert all(image.shape == (28, 28) and image.dtype == np.uint8 for image, _ in gallery)
    return [image for image, _ in gallery], [caption for _, caption in gallery]


def test_style_transfer(digit):
    image, label = digit
    row, used = style.style_transfer(image, label, style.LABEL_SOURCES[1])
    assert digits_and_captions(row)[1] == [str(d) for d in range(10)] and f"true label **{label}**" in used
    row, used = style.style_transfer(image, None, style.LABEL_SOURCES[1])
    assert "classifier's prediction" in used and "no true label" in used
    with pytest.raises(gr.Error, match="0–9"):
        style.style_transfer(image, "12", style.LABEL_SOURCES[1])


def test_opening_the_style_tab_fills_only_the_empty_grids():
    grid, prior = style.fill_empty(None, None, 3, 0, 2, 0)
    assert digits_and_captions(grid)[1] == digits_and_captions(style.style_grid(3, 0))[1]
    assert digits_and_captions(prior)[1] == digits_and_captions(style.prior_grid(2, 0))[1]
    kept = style.fill_empty(grid, None, 3, 0, 2, 0)
    assert isinstance(kept[0], type(gr.skip())) and kept[1] is not None


def test_style_and_prior_grids():
    _, captions = digits_and_captions(style.style_grid(3, 0))
    assert len(captions) == 3 * 11
    for row in range(3):                    # the source digit's test index, then the labels 0–9
        source, *labels = captions[11 * row:11 * (row + 1)]
        assert source.startswith("#") and 0 <= int(source[1:]) < 10000 and labels == [str(d) for d in range(10)]
    _, captions = digits_and_captions(style.prior_grid(2, 0))
    assert captions == [str(d) for d in range(10)] * 2
    with pytest.raises(gr.Error):
        style.style_grid(0, 0)


# --- Compare ----------------------------------------------------------------------------------

def test_compare(digit):
    other = Image.fromarray(components.pick_test_digit(1)[0])
    out = compare.compare(digit[0], other, "siamese-arcface", "siamese-cosface")
    assert len(out) == 10
    verdict, details, near_a, near_b, plane = out[:5]
    assert set(verdict) == {"same", "different"} and sum(verdict.values()) == pytest.approx(1)
    assert "calibrated on training pairs" in details and "0.800" in details
    assert "uncalibrated" in out[6]
    assert len(near_a) == len(near_b) == compare.NEIGHBOURS and plane.shape == (380 + 16, 380, 3)
    assert all(image.shape == (28, 28) and re.fullmatch(r"\d · \d\.\d\d", caption)
               for image, caption in near_a)
    same = compare.compare(digit[0], digit[0])
    assert "**same digit**" in same[1] and "θ" in same[1]


def test_compare_errors(digit):
    with pytest.raises(gr.Error, match="not a Siamese"):
        compare.compare(digit[0], digit[0], "vae", "siamese-cosface")
    with pytest.raises(gr.Error, match="digit B"):
        compare.compare(digit[0], None)
    waiting = compare.compare_when_ready(digit[0], None, *compare.DEFAULTS)
    assert waiting[1].startswith("Give both")


# --- Generate ---------------------------------------------------------------------------------

def test_generate():
    gan, vaegan, vae, table = generate.generate(3, 64)
    assert all(len(grid_digits_and_captions(g)[0]) == 64 for g in (gan, vaegan, vae))
    assert isinstance(table, pd.DataFrame) and len(table) == 3
    real = "mean D(x) of real test digits (512)"
    assert list(table.columns) == ["samples", "judged by", "mean D(x) of the samples", real]
    rows = table.set_index("samples")
    for samples, title, judge in ((gan, "GAN: G(z)", "D of the GAN"), (vaegan, "VAE-GAN: f(z)", "D of the VAE-GAN"),
                                  (vae, "VAE: f(z)", "D of the GAN")):
        _, captions = grid_digits_and_captions(samples)         # each digit captioned with its D(x) …
        d = [float(c) for c in captions]
        assert all(0 <= v <= 1 for v in d) and all(c == f"{v:.2f}" for c, v in zip(captions, d))
        assert rows.loc[title, "judged by"] == judge
        assert np.mean(d) == pytest.approx(rows.loc[title, "mean D(x) of the samples"], abs=0.01)   # … whose mean is here
        model = registry.get("gan" if judge == "D of the GAN" else "vaegan")
        images, _ = testset.first(512)
        expected = float(inference.discriminator_scores(model, images).mean())
        assert rows.loc[title, real] == pytest.approx(expected, abs=1e-3)       # the same D on real digits
    again = generate.generate(3, 64)
    assert again[0] == gan                                                  # one seed, one picture
    for bad in ((0, 0), (0, 65), (-1, 4), ("x", 4)):
        with pytest.raises(gr.Error):
            generate.generate(*bad)


def test_generate_draws_at_the_precision_this_cpu_computes_natively(monkeypatch, tmp_path):
    model, judge = registry.get("gan"), registry.get("gan")
    for precision in (None, torch.bfloat16):
        monkeypatch.setattr(generate, "PRECISION", precision)
        samples, scores, _ = generate._draw_and_judge({"gan": (model, judge)}, 8, 3)["gan"]
        assert torch.equal(samples, inference.generate(model, 8, 3, dtype=precision))
        assert torch.equal(scores, inference.discriminator_scores(judge, samples, dtype=precision))
    cpuinfo = tmp_path / "cpuinfo"
    for flags, expected in (("fpu avx2 avx512f", None), ("fpu avx512f avx512_bf16", torch.bfloat16),
                            ("fpu amx_bf16 amx_tile", torch.bfloat16)):
        cpuinfo.write_text(f"processor : 0\nflags : {flags}\n")
        assert inference.native_bfloat16(cpuinfo) is expected
    assert inference.native_bfloat16(tmp_path / "missing") is None


def test_interpolate_seeds():
    rows = generate.interpolate_seeds(0, 1, 6)
    assert len(rows) == 3 and all(r.shape == (32, 6 * 30 + 2) for r in rows)


# --- Models -----------------------------------------------------------------------------------

def test_models_table():
    table = models.models_table()
    assert list(table["slot"]) == list(registry.SLOTS)
    assert (table["status"] == "bundled").all()
    assert "threshold = 0.8" in table.set_index("slot").loc["siamese-arcface", "metrics"]


def test_metrics_read_as_words_in_a_fixed_order():
    text = models._metrics_text({"eval_seconds": 3.0, "zeta": 1, "fid": 0.5912, "test_accuracy": 0.99512,
                                 "iwae_k": 64, "calibration_a": -9.1})
    assert text == "test accuracy = 0.9951; FID = 0.5912; zeta = 1"
    assert models._metrics_text(["not", "a", "dict"]) == ""
    vae = models._metrics_text({"test_neg_elbo_refined": 88.7011, "refine_steps": 100, "test_neg_elbo": 91.6718})
    assert vae == "−ELBO (nats) = 91.67; −ELBO, Q fitted to each digit (nats) = 88.7"


def test_load_model(restore_registry, app_checkpoints):
    message, table = models.load_model("vae", str(app_checkpoints / "vae"))
    assert "Loaded" in message


@pytest.mark.parametrize("source, message", [
    ("", "Give a checkpoint"),
    ("no/such-repo-here", "cannot be reached|no Hub repo"),
    ("gan", "needs a vae"),
])
def test_failed_load_keeps_the_model(source, message, restore_registry, app_checkpoints):
    before = registry.get("vae")
    if source == "gan":
        source = str(app_checkpoints / "gan")
    with pytest.raises(gr.Error, match=message):
        models.load_model("vae", source)
    assert registry.get("vae") is before


def test_corrupt_checkpoint(tmp_path, restore_registry, app_checkpoints):
    broken = tmp_path / "broken"
    shutil.copytree(app_checkpoints / "vae", broken)
    (broken / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(gr.Error, match="safetensors"):
        models.load_model("vae", str(broken))
    (broken / "config.json").write_text("{not json")
    with pytest.raises(gr.Error, match="JSON"):
        models.load_model("vae", str(broken))


def test_corrupt_bundled_checkpoint_is_named(tmp_path, monkeypatch, restore_registry, app_checkpoints):
    folder = tmp_path / "ckpt"
    shutil.copytree(app_checkpoints / "vae", folder / "vae")
    (folder / "vae" / "config.json").write_text(json.dumps({"kind": "vae", "latent_dim": 7}))
    monkeypatch.setenv(registry.ENV_VAR, str(folder))
    registry.reset()
    with pytest.raises(gr.Error, match="cannot be used.*python -m train vae"):
        latent.decode_latent(*([0.0] * 32))


def test_save_and_push(tmp_path, monkeypatch, restore_registry, app_checkpoints):
    target = tmp_path / "saved"
    shutil.copytree(app_checkpoints, target)
    monkeypatch.setenv(registry.ENV_VAR, str(target))
    registry.reset()
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (target / "cvae").iterdir())
    path, message = models.save_model("cvae")
    assert "Ready" in message and path.endswith("deepgen-cvae.zip")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (target / "cvae").iterdir()) == before
    message, _ = models.upload_model("cvae", path)               # the download reads back
    assert "Loaded" in message
    with pytest.raises(gr.Error, match="offline|cannot be reached"):
        models.push_model("cvae", "someone/deepgen-cvae", "hf_token")
    with pytest.raises(gr.Error, match="owner/name"):
        models.push_model("cvae", "not a repo", "")


def test_train_settings_are_checked():
    for bad in [dict(epochs=0), dict(limit=10), dict(latent_dim=1000), dict(name="nope"), dict(name="siamese"),
                dict(name="siamese-cosface", margin=-1), dict(name="vae2d", latent_dim=3),
                dict(name="classifier", latent_dim=8)]:
        args = dict(name="vae", epochs=1, latent_dim=None, margin=None, scale=None, limit=128)
        args.update(bad)
        with pytest.raises(gr.Error):
            list(models.train_model(**args, progress=None))


def test_train_in_process(restore_registry):
    """A tiny run streams updates, ends with the model in its slot."""
    before = registry.get("ae")
    updates = list(models.train_model("ae", 1, 8, None, None, 128, progress=lambda *a, **k: None))
    status, curve, preview = updates[-1]
    assert status.startswith("**Done**") and isinstance(curve, pd.DataFrame) and len(curve) > 0
    assert preview is not None and preview.dtype == np.uint8
    model = registry.get("ae")
    assert model is not before and model.latent_dim == 8 and "train_bce" in model.metrics
    assert draw.reconstruct(Image.fromarray(components.pick_test_digit(0)[0]))[0].shape == (28, 28)


def test_pictures_leave_as_png_files_written_once():
    """Returning the same picture twice must not rewrite a file a browser may be downloading."""
    box = components.image_box(format="png", interactive=False)
    picture = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    first = components.png_file(picture)
    stamp = (Image.open(first).size, os.stat(first).st_mtime_ns)
    again = components.png_file(picture.copy())
    assert again == first and os.stat(again).st_mtime_ns == stamp[1] and stamp[0] == (28, 28)
    data = box.postprocess(picture)
    assert data.path.endswith(".png") and (Image.open(data.path).getpixel((5, 0)) == 5)


def test_trained_siamese_is_calibrated(restore_registry, digit):
    updates = list(models.train_model("siamese-cosface", 1, None, 0.3, 20, 256, progress=lambda *a, **k: None))
    assert updates[-1][0].startswith("**Done**")
    model = registry.get("siamese-cosface")
    assert {"threshold", "calibration_a", "calibration_b"} <= set(model.metrics)
    assert model.loss.margin == pytest.approx(0.3) and model.loss.scale == pytest.approx(20)
    verdict = compare.compare(digit[0], digit[0], "siamese-arcface", "siamese-cosface")
    assert "calibrated on training pairs" in verdict[6]


def test_tabs_fill_themselves_when_opened(digit):
    gan, vaegan, vae, table, *walks, note = generate.on_open(0, 8, 0, 1, 4)
    assert gan is not None and len(walks) == 3 and all(w is not None for w in walks) and note == ""
    assert draw.notice(draw.SLOTS) == "" and compare.prepare(*compare.DEFAULTS) == ""


def test_opening_generate_with_a_seed_typed_wrong_keeps_the_pictures_and_says_nothing():
    """The tab's opening event reads the seed boxes too; while a visitor types '-5' it must not add
    a second error to the one the Generate click gives, nor blank the samples already shown."""
    gan, vaegan, vae, table, *walks, note = generate.on_open(-5, 8, 0, 1, 4)
    assert [gan, vaegan, vae, table] == [gr.skip()] * 4
    assert all(isinstance(w, np.ndarray) for w in walks) and note == ""
    *samples, wa, wb, wc, _ = generate.on_open(3, 8, "x", 1, 4)
    assert isinstance(samples[0], str) and [wa, wb, wc] == [gr.skip()] * 3
    with pytest.raises(gr.Error, match="seed"):
        generate.generate(-5, 8)


def test_stop_says_where_training_stopped():
    events = models.train_model("ae", 2, None, None, None, 128, progress=lambda *a, **k: None)
    for status, *_ in events:
        if "step" in status:
            break
    events.close()                       # what Stop does to the generator
    message = models.stopped()
    assert message == "**Stopped** `ae` at step 1 of 2; nothing was kept."   # 128 images, batch 128
    assert models.stopped() == "Stopped before the first step."


def test_training_fields_follow_the_recipe():
    _, latent, margin, scale = models.fields_for("siamese-arcface")
    assert latent["visible"] is False and margin["visible"] and margin["value"] == 0.5 and scale["value"] == 30.0
    _, latent, margin, scale = models.fields_for("vae")
    assert latent["visible"] and latent["value"] == 32 and not margin["visible"] and not scale["visible"]
    assert models.fields_for("siamese-softmax")[2]["visible"] is False   # softmax has no margin


@pytest.mark.parametrize("call", [lambda: generate.generate(2**64, 4), lambda: generate.interpolate_seeds(0, -1, 4),
                                  lambda: style.style_grid(2, 2**64), lambda: style.prior_grid(2, "x"),
                                  lambda: latent.code_random(2**70)])
def test_huge_or_bad_seeds_get_the_seed_message(call):
    with pytest.raises(gr.Error, match="A seed is a whole number from 0 to 2\\^63−1"):
        call()


def test_scatter_leaves_points_outside_its_range_out():
    from webapp.pictures import Frame, scatter
    frame = Frame(-1, 1, size=100, pad=10)
    blank = np.asarray(scatter(np.zeros((0, 2)), [], frame))
    outside = np.asarray(scatter([[5.0, 0.0], [0.0, -3.0]], [1, 2], frame))
    inside = np.asarray(scatter([[0.5, 0.5]], [1], frame))
    assert (outside == blank).all() and (inside != blank).any()


@pytest.mark.parametrize("shape, mode", [((28, 28), "L"), ((5, 7, 3), "RGB"), ((9, 4, 4), "RGBA")])
def test_png_bytes_decode_to_the_picture_they_encode(shape, mode):
    """The app's own PNG writer (grey, RGB, RGBA), read back by PIL's decoder."""
    import io

    from webapp.pictures import png_bytes
    picture = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    decoded = Image.open(io.BytesIO(png_bytes(picture)))
    assert decoded.mode == mode
    assert np.array_equal(np.asarray(decoded), picture)
