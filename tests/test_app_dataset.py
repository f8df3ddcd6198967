"""The app's data-set switch, callback by callback: every tab shows the chosen data set (class
names instead of digits, that set's test images and models), a slot with no checkpoint for a data
set says how to train one, and a visitor's own models stay theirs, per data set."""
import os
import shutil

import gradio as gr
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from deepgen import data, recipes, save
from webapp import components, preload, registry, testset
from webapp.tabs import compare, draw, generate, latent, models, style

FASHION = "fashion-mnist"
NAMES = list(data.class_names(FASHION))
BUNDLED = ["classifier", "cvae", "gan", "siamese-arcface", "vae2d"]     # the Fashion-MNIST slots filled here


def fashion_checkpoint(slot, folder, seed=1):
    """An untrained checkpoint of `slot` that says it was trained on Fashion-MNIST."""
    torch.manual_seed(seed)
    metrics = {"untrained": 1}
    if slot == "siamese-arcface":
        metrics.update(threshold=0.8, calibration_a=-12.0, calibration_b=9.6)
    return save(recipes.get(slot).build(), folder, command=f"test fixture {slot} --dataset {FASHION}",
                metrics=metrics, training={"dataset": FASHION, "recipe": slot})


def both_datasets(app_checkpoints, folder):
    """`folder` holding the session's MNIST checkpoints plus Fashion-MNIST ones for BUNDLED."""
    for slot in app_checkpoints.iterdir():
        shutil.copytree(slot, folder / slot.name)
    for slot in BUNDLED:
        fashion_checkpoint(slot, recipes.bundled_path(slot, FASHION, root=folder))
    return folder


@pytest.fixture(scope="module", autouse=True)
def checkpoints(app_checkpoints, tmp_path_factory):
    """The session's MNIST checkpoints plus Fashion-MNIST ones for BUNDLED, as the app's folder."""
    folder = both_datasets(app_checkpoints, tmp_path_factory.mktemp("both-datasets"))
    old = os.environ[registry.ENV_VAR]
    os.environ[registry.ENV_VAR] = str(folder)
    registry.reset()
    yield folder
    os.environ[registry.ENV_VAR] = old
    registry.reset()


@pytest.fixture
def restore_registry():
    yield
    registry.reset()


def fashion_item(index=0):
    """Fashion-MNIST test item `index` as the 28×28 input box holds it, and its class name."""
    image, label, _ = components.pick_test_digit(index, FASHION)
    return Image.fromarray(image), label


def captions(gallery):
    assert all(image.shape == (28, 28) and image.dtype == np.uint8 for image, _ in gallery)
    return [caption for _, caption in gallery]


# --- models per (data set, recipe) -------------------------------------------------------------

def test_each_data_set_has_its_own_bundled_models():
    mnist, fashion = registry.get("cvae"), registry.get("cvae", dataset=FASHION)
    assert mnist is not fashion
    assert registry.dataset_of(mnist) == "mnist" and registry.dataset_of(fashion) == FASHION
    assert registry.get("cvae", dataset="mnist") is mnist


def test_a_missing_slot_says_how_to_train_it():
    command = "python -m train ae --dataset fashion-mnist --out checkpoints/fashion-mnist/ae"
    with pytest.raises(registry.ModelMissing, match="for Fashion-MNIST is missing") as info:
        registry.get("ae", dataset=FASHION)
    assert command in str(info.value)
    assert registry.train_command("ae") == "python -m train ae --out checkpoints/ae"      # MNIST as before
    table = models.models_table(FASHION).set_index("slot")
    assert table.loc["ae", "status"] == "missing" and command in table.loc["ae", "source"]
    assert set(table.index[table["status"] == "bundled"]) == set(BUNDLED)


def test_a_checkpoint_of_another_data_set_is_refused(tmp_path, monkeypatch, restore_registry, app_checkpoints):
    folder = tmp_path / "ckpt"
    shutil.copytree(app_checkpoints / "vae", recipes.bundled_path("vae", FASHION, root=folder))   # an MNIST VAE
    monkeypatch.setenv(registry.ENV_VAR, str(folder))
    registry.reset()
    with pytest.raises(registry.ModelMissing, match="trained on MNIST, not Fashion-MNIST.*--dataset fashion-mnist"):
        registry.get("vae", dataset=FASHION)


def test_an_unknown_data_set_is_a_message():
    with pytest.raises(gr.Error, match="Unknown data set 'kmnist'; choose one of mnist, fashion-mnist"):
        draw.reconstruct(fashion_item()[0], "kmnist")


# --- the inputs --------------------------------------------------------------------------------

def test_test_items_come_with_their_class_names():
    image, label = fashion_item(0)
    images, labels = testset.tensors(FASHION)
    assert label == NAMES[int(labels[0])] == "Ankle boot"
    assert np.array_equal(np.asarray(image), (images[0, 0].numpy() * 255).round().astype(np.uint8))
    digit, label, _ = components.pick_test_digit(0)                    # MNIST unchanged: its digit
    assert label == "7"


def test_clothes_take_a_photo_not_a_drawing():
    ink = np.zeros((280, 280, 4), np.uint8)
    ink[40:240, 130:152, 3] = 255
    with pytest.raises(gr.Error, match="Fashion-MNIST has no drawings: upload a photo or pick a test item"):
        components.prepare_sketch({"background": None, "layers": [], "composite": ink}, FASHION)
    shirt = np.full((300, 240, 3), 245, np.uint8)                       # a dark item on a white background
    shirt[40:260, 50:190] = 30
    picture, label = components.prepare_upload(Image.fromarray(shirt), FASHION)
    assert picture.shape == (28, 28) and label is None
    assert picture[0, 0] == 0 and picture[14, 14] > 200                 # inverted: bright item on black
    rows = np.nonzero(picture.max(1) > 10)[0]
    assert rows.min() == 0 and rows.max() == 27                         # the longer side fills 28 pixels


def test_labels_are_class_names():
    assert components.as_label("Trouser", FASHION) == 1 and components.as_label("3", FASHION) == 3
    with pytest.raises(components.InputError, match="T-shirt/top, Trouser"):
        components.as_label("Hat", FASHION)
    with pytest.raises(components.InputError, match="digit 0–9"):
        components.as_label("Trouser")


def test_a_switch_shows_the_sets_own_input():
    with gr.Blocks():
        source = components.DigitInput("switch", label="Source digit")
    draw_tab, tabs, upload, index, digit, label = source.switch(FASHION)
    assert draw_tab["interactive"] is False and tabs["selected"] == "test"
    assert "photo" in upload["label"] and index["label"].startswith("Fashion-MNIST test item")
    assert digit["label"] == "Source item: 28×28 input" and digit["value"].shape == (28, 28)
    assert label["value"] == "Ankle boot"
    draw_tab, tabs, upload, index, digit, label = source.switch("mnist")
    assert draw_tab["interactive"] is True and tabs["selected"] == "draw" and label["value"] == "7"
    assert digit["label"] == "Source digit: 28×28 input"


# --- the tabs ----------------------------------------------------------------------------------

def test_draw_shows_class_probabilities_and_what_is_missing():
    ae, vae, vaegan, probs, code, note = draw.reconstruct(fashion_item()[0], FASHION)
    assert set(probs) == set(NAMES) and sum(probs.values()) == pytest.approx(1, abs=1e-5)
    assert ae is vae is vaegan is code is None                         # no Fashion-MNIST AE, VAE, VAE-GAN here
    assert "python -m train ae --dataset fashion-mnist" in note
    assert "drawing is for digits" in draw.on_open(FASHION) and draw.on_open() == ""


def test_latent_space_shows_the_sets_2d_vae():
    grid_img, scatter_img, start, note = latent.on_open(None, None, FASHION)
    assert grid_img is not None and scatter_img.shape == (440 + 2 * 16, 440, 3)   # a legend of class names
    assert start is None and "python -m train vae --dataset fashion-mnist" in note   # no 32-D VAE here
    point, _ = latent.decode_point(0.3, -0.7, dataset=FASHION)
    assert not np.array_equal(point, latent.decode_point(0.3, -0.7)[0])         # another data set's decoder
    assert latent.plane_frame(dataset=FASHION)["dataset"] == FASHION
    assert latent.hover_decode([0.3, -0.7, FASHION]) != latent.hover_decode([0.3, -0.7])
    assert latent.hover_decode([0.3, -0.7, "nonsense"]) is None
    shown = captions(latent.thumbnails(FASHION))
    assert {c.split(" · ")[0] for c in shown} == set(NAMES)


def test_style_transfer_decodes_one_item_in_ten_classes():
    image, label = fashion_item(1)
    row, used = style.style_transfer(image, label, style.LABEL_SOURCES[1], FASHION)
    assert captions(row) == NAMES and f"true label **{label}**" in used
    grid = captions(style.style_grid(2, 0, FASHION))
    assert len(grid) == 22 and grid[0].startswith("#") and grid[1:11] == NAMES
    assert captions(style.prior_grid(1, 0, FASHION)) == NAMES
    assert captions(style.style_grid(1, 0))[1:] == [str(d) for d in range(10)]     # MNIST: the digits


def test_style_switch_relabels_and_redraws_the_grids_in_class_names():
    row, used, grid, count, prior, heading, intro, note = style.switched(FASHION)
    assert "Trouser" in row["label"] and "items" in count["label"] and note == ""
    assert "kinds of clothing" in intro and "10 × that classifier's cross-entropy" in intro   # the label term
    assert "cross-entropy" not in style.switched(data.DEFAULT)[6]                                 # MNIST's has none
    assert grid["value"] is None and prior["value"] is None                    # MNIST's grids go at once …
    grid, prior = style.grids(2, 0, 1, 0, FASHION)                             # … and are redrawn after
    assert captions(grid)[1:11] == NAMES and captions(prior) == NAMES


def test_compare_in_class_names_with_a_missing_model_named():
    (a, _), (b, _) = fashion_item(0), fashion_item(1)
    out = compare.compare(a, b, "siamese-arcface", "siamese-cosface", FASHION)
    verdict, details, near_a, near_b, plane = out[:5]
    assert set(verdict) == {"same", "different"} and ("**same class**" in details or "**different classes**" in details)
    assert all(c.split(" · ")[0] in NAMES for c in captions(near_a) + captions(near_b))
    assert plane.shape[0] > 380                                        # the legend of class names takes two rows
    assert out[5] is None and "siamese-cosface --dataset fashion-mnist" in out[6]
    with pytest.raises(gr.Error, match="siamese-cosface --dataset fashion-mnist"):
        compare.compare(a, b, "siamese-cosface", "siamese-triplet", FASHION)
    assert compare.titles(FASHION)["shown"] == "Classes shown" and compare.titles()["shown"] == "Digits shown"


def test_sphere_shows_the_sets_test_items():
    value, note, near = compare.explore("siamese-arcface", ["Trouser", "Bag"], None, None, 0, FASHION)
    labels = testset.first(compare.PLOT_DIGITS, FASHION)[1]
    assert value["names"] == NAMES and value["dataset"] == FASHION and set(value["labels"]) == {1, 8}
    assert len(value["points"]) == int(((labels == 1) | (labels == 8)).sum())
    assert captions(near)[0] == "#0 · Ankle boot · D = 0.000" and "test item **#0** (an Ankle boot)" in note
    assert "items far apart in the 64-D embedding space" in note
    assert compare.switched(FASHION, *compare.DEFAULTS)[4]["choices"] == NAMES


def test_generate_samples_the_sets_gan_and_names_the_others():
    gan, vaegan, vae, table, *walks, note = generate.on_open(0, 8, 0, 1, 4, FASHION)
    assert gan is not None and vaegan is None and vae is None and walks[0] is not None
    assert isinstance(table, pd.DataFrame) and list(table["samples"]) == ["GAN: G(z)"]
    assert table.loc[0, "judged by"] == "D of the GAN" and 0 <= table.loc[0, "mean D(x) of real test items (512)"] <= 1
    assert "python -m train vaegan --dataset fashion-mnist" in note and "python -m train vae --dataset" in note


# --- a visitor's own models --------------------------------------------------------------------

def test_loading_follows_the_data_set(app_checkpoints, tmp_path, restore_registry):
    with pytest.raises(gr.Error, match="trained on MNIST, not Fashion-MNIST: switch the data set to MNIST"):
        models.load_model("vae2d", str(app_checkpoints / "vae2d"), FASHION)
    own = fashion_checkpoint("vae2d", tmp_path / "vae2d", seed=7)
    message, table = models.load_model("vae2d", str(own), FASHION)
    assert "slot **vae2d** of Fashion-MNIST" in message
    assert table.set_index("slot").loc["vae2d", "status"] == "bundled"   # no session here: the process's model
    assert registry.get("vae2d", dataset=FASHION) is not registry.get("vae2d")


def test_a_visitors_model_stays_theirs_and_on_its_data_set(tmp_path, restore_registry):
    mnist, fashion = registry.get("ae"), registry.get("classifier", dataset=FASHION)
    model = registry.load_into("classifier", str(fashion_checkpoint("classifier", tmp_path / "c", seed=3)),
                               session="visitor-a", dataset=FASHION)
    assert registry.get("classifier", "visitor-a", FASHION) is model
    assert registry.get("classifier", "visitor-b", FASHION) is fashion        # another visitor: the bundled one
    assert registry.get("classifier", "visitor-a") is registry.get("classifier")   # their MNIST slot: untouched
    assert registry.get("ae", "visitor-a") is mnist
    table = models.models_table(FASHION, request=type("R", (), {"session_hash": "visitor-a"})()).set_index("slot")
    assert table.loc["classifier", "status"] == "yours"
    assert models.models_table(request=type("R", (), {"session_hash": "visitor-a"})()).set_index(
        "slot").loc["classifier", "status"] == "bundled"


def test_training_in_the_app_learns_from_the_chosen_set(restore_registry):
    before = registry.get("ae")
    updates = list(models.train_model("ae", 1, 4, None, None, 128, FASHION, progress=lambda *a, **k: None))
    status = updates[-1][0]
    assert status.startswith("**Done**") and "on Fashion-MNIST" in status and "--dataset fashion-mnist" in status
    model = registry.get("ae", dataset=FASHION)
    assert registry.dataset_of(model) == FASHION and model.latent_dim == 4
    assert registry.get("ae") is before                                  # MNIST's autoencoder is as it was
    ae, *_ = draw.reconstruct(fashion_item()[0], FASHION)
    assert ae.shape == (28, 28)


def test_a_model_trained_in_the_app_is_described_as_its_recipe_is_for_the_set(restore_registry):
    list(models.train_model("cvae", 1, None, None, None, 128, FASHION, progress=lambda *a, **k: None))
    model = registry.get("cvae", dataset=FASHION)
    assert model.config["description"] == recipes.get("cvae", FASHION).description
    assert "label term" in model.config["description"] and model.config["training"]["trainer_args"]["label_weight"]


# --- the app -----------------------------------------------------------------------------------

FOLLOWERS = {"reconstruct", "style_transfer", "style_grid", "prior_grid", "compare", "compare_when_ready",
             "explore", "pick", "pick_neighbour", "prepare", "generate", "interpolate_seeds", "on_open",
             "models_table", "load_model", "upload_model", "save_model", "push_model", "train_model",
             "pick_test_digit", "pick_random", "prepare_upload", "sketch_changed", "timelapse_open",
             "timelapse_frame", "code_from_digit", "code_from_test", "decode_point", "interpolate", "thumbnails",
             "pick_end", "decode_sliders", "plane_frame", "describe_digit"}


def test_every_tab_listens_to_the_switch():
    """Each callback that shows data takes the switch's value as an input: the data set is the
    visitor's (a component value of their page), never module state."""
    import app
    switch = next(b for b in app.demo.blocks.values() if getattr(b, "elem_id", None) == "dataset")
    assert isinstance(switch, gr.Radio) and switch.value == "mnist"
    seen, missing = set(), []
    for fn in app.demo.fns.values():
        name = getattr(fn.fn, "__name__", "")
        if name in FOLLOWERS:
            seen.add(name)
            if switch not in fn.inputs:
                missing.append(name)
    assert not missing, missing
    assert seen >= FOLLOWERS - {"on_open"}
    # one event switches every tab's part (`components.follow_switch`): the page runs one trigger's
    # listeners one after another, so each listener more on the switch would delay the others
    on_switch = [fn for fn in app.demo.fns.values() if any(t[0] == switch._id for t in fn.targets)]
    assert len(on_switch) == 1 and switch in on_switch[0].inputs
    parts = switch.parts          # Draw 2, Style 2, the CVAE's sliders, Compare 3, Latent, Generate, Models
    assert len(parts) >= 11 and all(p.shown in on_switch[0].inputs and p.switches in on_switch[0].outputs
                                    for p in parts)
    # a part's model work hangs on the change of its switch count, a State outside the tabs: in a tab
    # the page had not drawn yet, such a State fired its change at the first switch, unchanged
    assert all(p.switches.parent is app.demo and p.opens.parent is app.demo for p in parts)
    assert all(any((p.switches._id, "change") in fn.targets for fn in app.demo.fns.values()) for p in parts)
    # a tab the page has not opened yet catches up when it opens (`components.follow`)
    opened = [fn for fn in app.demo.fns.values() if getattr(fn.fn, "__name__", "") == "opened"]
    assert len(opened) >= 7 and all(switch in fn.inputs for fn in opened)   # Draw 2, Style 2, Compare 3


def test_one_switch_event_updates_the_parts_on_the_page_and_skips_the_others():
    """`follow_switch`: parts the page holds get their new values and count the switch (their model
    work then runs); a part of a tab not opened, or one already showing the set, is left as it is;
    a part that fails says why and leaves the others switching."""
    def words(dataset, request=None):
        return f"words of {dataset}"

    def broken(dataset, request=None):
        raise ValueError("no such thing")
    with gr.Blocks() as demo:
        switch = gr.Radio(list(data.DATASETS), value=data.DEFAULT)
        landing, failing = gr.Markdown(), gr.Markdown()
        with gr.Tab("later") as later:
            hidden = gr.Markdown()
        components.follow(None, switch, words, [landing])
        components.follow(later, switch, words, [hidden])
        components.follow(None, switch, broken, [failing])
        components.when_switched(later, switch)       # a part with no outputs of its own
        event = components.follow_switch(switch)
    switch_parts = event.fn
    values = [True, data.DEFAULT, 0, False, data.DEFAULT, 0, True, data.DEFAULT, 0, True, data.DEFAULT, 4]
    with pytest.warns(UserWarning, match="no such thing"):
        out = switch_parts(None, FASHION, *values)
    skip = gr.skip()
    assert out[:3] == (f"words of {FASHION}", FASHION, 1)
    assert out[3:6] == (skip,) * 3 and out[6:9] == (skip,) * 3 and out[9:] == (FASHION, 5)
    values[1] = FASHION                       # the landing part shows the set already
    with pytest.warns(UserWarning, match="no such thing"):
        assert all(v == skip for v in switch_parts(None, FASHION, *values)[:3])
    # opening the tab brings its part up to date, and marks it as on the page either way
    words_opened, bare_opened = [f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "opened"]
    assert words_opened(None, FASHION, data.DEFAULT, 0) == (f"words of {FASHION}", FASHION, 1, True)
    assert words_opened(None, FASHION, FASHION, 1) == (skip, skip, skip, True)
    assert bare_opened(None, FASHION, data.DEFAULT, 2) == (FASHION, 3, True)


def test_opening_a_tab_sends_its_work_at_once():
    """Every tab hangs all it does on opening on one event without Python (`components.opening`):
    the page would run a trigger's own listeners one at a time."""
    import app
    for label in ("Draw", "Latent space", "Style transfer", "Compare", "Generate", "Models"):
        tab = next(b for b in app.demo.blocks.values() if isinstance(b, gr.Tab) and b.label == label)
        direct = [fn for fn in app.demo.fns.values() if (tab._id, "select") in fn.targets]
        assert len(direct) == 1 and direct[0].fn is None, label
        chained = [fn for fn in app.demo.fns.values() if fn.trigger_after == direct[0]._id]
        names = {getattr(fn.fn, "__name__", "") for fn in chained}
        assert "opened" in names and len(chained) >= 2, (label, names)


def test_warm_up_runs_mnist_first_and_heavy_ones_first(monkeypatch):
    monkeypatch.setattr(preload, "_tasks", [])
    preload.register("a", lambda: None)
    preload.register("b", lambda dataset: None, each_dataset=True)
    preload.register("c", lambda dataset: None, each_dataset=True, heavy=True)
    order = [(name, dataset) for name, _, dataset in preload.plan()]
    assert order == [("c", "mnist"), ("a", None), ("b", "mnist"), ("c", FASHION), ("b", FASHION)]
    assert preload.has_checkpoints(FASHION)


TEXTS = [generate.INTRO, generate.TIMELAPSE_INTRO, generate.EQUILIBRIUM, latent.INTRO, latent.POSTERIOR_INTRO,
         latent.GRID_INTRO, latent.INTERP_INTRO, style.INTRO, compare.INTRO, compare.PROJECTION]


@pytest.mark.parametrize("dataset", list(data.DATASETS))
def test_the_tabs_explanations_speak_of_the_chosen_data_set(dataset):
    """Every placeholder of the tabs' explanations is filled in, with the data set's own words."""
    for text in TEXTS:
        worded = components.in_words(text, dataset)
        assert "«" not in worded and "»" not in worded, text[:60]
    ds = data.get(dataset)
    assert f"a real {ds.title} {ds.noun} (VAE samples" in components.in_words(generate.INTRO, dataset)
    assert f"click {'a digit' if dataset == data.DEFAULT else 'an item'} to see it large" in components.in_words(
        generate.INTRO, dataset)
    assert f"**style** ({ds.style})" in components.in_words(style.INTRO, dataset)
    article = "of a digit into" if dataset == data.DEFAULT else "of an item into"
    assert article in components.in_words(style.INTRO, dataset)
    assert f"the same {ds.noun}?" in components.in_words(compare.INTRO, dataset)
    colour = "coloured by digit." if dataset == data.DEFAULT else "coloured by class."
    assert colour in components.in_words(latent.GRID_INTRO, dataset)
