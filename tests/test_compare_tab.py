"""The Compare tab's lesson: each loss's own formula with the model's margin and the student's
numbers, the embeddings on their sphere in 3-D (filter, marks, neighbours), and the 3-D view in
the browser (hover, click)."""
import base64
import io

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from webapp import components, registry, sphere, testset
from webapp.tabs import compare

pytestmark = pytest.mark.usefixtures("app_checkpoints")

# loss -> what its text must name: its formula and its margin (as the recipe sets it)
OWN = {
    "contrastive": [r"(1 - Y)\max(\alpha - D, 0)^2", r"\alpha = 1", "max(α − D, 0)²"],
    "triplet": [r"\|F(A) - F(N)\|^2 + \alpha", r"\alpha = 0.5", "‖F(A) − F(N)‖² ≥"],
    "softmax": [r"L_{softmax}", r"W_{y_i}^T x_i + b_{y_i}", "hyperplanes"],
    "nsoftmax": [r"L_{Nsoftmax}", "s = 20", "logit s·cos θ"],
    "sphereface": [r"L_{SphereFace}", r"\cos(m\theta_{y_i})", "m = 4", "ψ(θ)"],
    "cosface": [r"L_{CosFace}", r"\cos\theta_{y_i} - m", "m = 0.35", "cos θ − m ="],
    "arcface": [r"L_{ArcFace}", r"\cos(\theta_{y_i} + m)", "m = 0.5", "cos(θ + m) = cos("],
}
NAMES = {"softmax": r"L_{softmax}", "nsoftmax": r"L_{Nsoftmax}", "sphereface": r"L_{SphereFace}",
         "cosface": r"L_{CosFace}", "arcface": r"L_{ArcFace}"}


def picked_digit(index):
    return Image.fromarray(components.pick_test_digit(index)[0])


@pytest.fixture
def pair():
    return picked_digit(0), picked_digit(1)


@pytest.mark.parametrize("loss", list(OWN))
def test_each_loss_shows_its_own_formula_and_margin(pair, loss):
    slot = f"siamese-{loss}"
    xa, xb = components.as_digit(pair[0]), components.as_digit(pair[1])
    details = compare.compare_one(slot, xa, xb)[1]
    for text in OWN[loss]:
        assert text in details, (text, details)
    for other, name in NAMES.items():
        if other != loss:
            assert name not in details
    r = compare.inference.compare(registry.get(slot), xa, xb)
    assert f"{r['cosine']:.3f}" in details and f"{r['angle']:.1f}°" in details     # the student's numbers
    assert f"{r['distance']:.3f}" in details and f"threshold {r['threshold']:.3f}" in details
    assert "calibrated per model on training pairs" in details


def test_arcface_margin_effect_uses_the_digit_angle(pair):
    model = registry.get("siamese-arcface")
    xa = components.as_digit(pair[0])
    cos = model.loss.cos(model(xa)).detach()
    theta = float(torch.rad2deg(torch.acos(cos.max())))
    details = compare.compare_one("siamese-arcface", xa, components.as_digit(pair[1]))[1]
    assert f"θ = {theta:.1f}°" in details
    expected = np.cos(np.radians(theta) + model.loss.margin)
    assert f"= {expected:.3f}" in details


def test_formula_shows_before_both_digits_are_given(pair):
    out = compare.compare_when_ready(pair[0], None, "siamese-triplet", "siamese-sphereface")
    assert out[1].startswith("Give both") and r"\|F(A) - F(N)\|^2" in out[1]
    assert r"L_{SphereFace}" in out[6] and "m = 4" in out[6]


def test_sphere_holds_unit_points_coloured_by_digit(pair):
    value, note, near = compare.explore("siamese-arcface", compare.DIGITS, *pair, 0)
    points = np.array(value["points"])
    assert points.shape == (compare.PLOT_DIGITS, 3)
    assert np.allclose(np.linalg.norm(points, axis=1), 1, atol=1e-3)
    labels = testset.first(compare.PLOT_DIGITS)[1]
    assert value["labels"] == [int(labels[i]) for i in value["index"]]
    assert sorted(set(value["labels"])) == list(range(10))
    assert [m["name"] for m in value["marks"]] == ["A", "B"]
    assert all(abs(np.linalg.norm(m["xyz"]) - 1) < 1e-3 for m in value["marks"])
    assert value["sprite"] == compare.PLOT_DIGITS
    assert "variance" in note and "not preserved" in note


def test_sphere_filter_shows_only_the_ticked_digits(pair):
    value = compare.explore("siamese-cosface", ["4", "9"], *pair, 0)[0]
    labels = testset.first(compare.PLOT_DIGITS)[1]
    assert set(value["labels"]) == {4, 9}
    assert len(value["points"]) == int(((labels == 4) | (labels == 9)).sum())
    none, note, _ = compare.explore("siamese-cosface", [], None, None, 0)
    assert none["points"] == [] and none["marks"] == [] and note.startswith("Tick at least one digit")


def test_nearest_of_a_test_digit_is_itself_at_distance_zero():
    value, note, near = compare.explore("siamese-arcface", compare.DIGITS, None, None, 5)
    assert len(near) == compare.NEIGHBOURS
    image, caption = near[0]
    assert caption.startswith("#5 ·") and caption.endswith("D = 0.000")
    assert np.array_equal(image, components.pick_test_digit(5)[0])
    distances = [float(c.rsplit("= ", 1)[1]) for _, c in near]
    assert distances == sorted(distances)
    assert value["picked"] == 5 and value["ring"][0] == 5 and len(value["ring"]) == compare.NEIGHBOURS


def test_click_on_the_sphere_and_on_a_neighbour_pick_a_digit():
    index, value, _, near = compare.pick("siamese-arcface", compare.DIGITS, None, None,
                                         gr.EventData(None, {"index": 42}))
    assert index == 42 and value["picked"] == 42 and near[0][1].startswith("#42 ·")
    second = int(near[1][1][1:].split(" ")[0])
    index, value, _, near = compare.pick_neighbour("siamese-arcface", compare.DIGITS, None, None, 42,
                                                   gr.SelectData(None, {"index": 1, "value": None}))
    assert index == second and near[0][1].startswith(f"#{second} ·")
    with pytest.raises(gr.Error, match="Click on a point"):
        compare.pick("siamese-arcface", compare.DIGITS, None, None, gr.EventData(None, {}))


@pytest.mark.parametrize("args, message", [
    (("siamese-arcface", compare.DIGITS, None, None, 10_000), "index"),
    (("vae", compare.DIGITS, None, None, 0), "not a Siamese"),
    (("siamese-arcface", ["x"], None, None, 0), "0–9"),
])
def test_bad_sphere_input_is_a_message(args, message):
    with pytest.raises(gr.Error, match=message):
        compare.explore(*args)


@pytest.mark.parametrize("typed", [-5, 10_000, "x"])
def test_an_index_typed_wrong_keeps_the_sphere_when_something_else_changes(pair, typed):
    """Drawing A, ticking digits or opening the tab reads the index box too: while it holds a wrong
    index, the sphere and the neighbours stay as they are and the note says why, with no error;
    the index box's own Enter gives the error."""
    view, note, near = compare.explore_around("siamese-arcface", compare.DIGITS, *pair, typed)
    assert view == gr.skip() and near == gr.skip()
    assert "index must be" in note and "press Enter" in note
    with pytest.raises(gr.Error, match="index must be"):
        compare.explore("siamese-arcface", compare.DIGITS, *pair, typed)
    value, note, near = compare.explore_around("siamese-arcface", ["4"], *pair, 7)
    assert set(value["labels"]) == {4} and value["picked"] == 7 and near[0][1].startswith("#7 ·")


def test_sprite_sheet_holds_the_plotted_digits():
    url = sphere.sprite_sheet(compare.PLOT_DIGITS)
    sheet = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    rows = -(-compare.PLOT_DIGITS // sphere.COLUMNS)
    assert sheet.shape == (rows * sphere.CELL, sphere.COLUMNS * sphere.CELL)
    r, c = divmod(123, sphere.COLUMNS)
    cell = sheet[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28]
    assert np.array_equal(cell, components.pick_test_digit(123)[0])


# --- in the browser ---------------------------------------------------------------------------

from test_browser import app_page, block, browser, url  # noqa: E402,F401 - fixtures and helpers

FIND_POINT = """
(canvas) => {
  const g = canvas.getContext('2d'), w = canvas.width, h = canvas.height, ratio = w / canvas.clientWidth;
  const px = g.getImageData(0, 0, w, h).data;
  let coloured = 0, spot = null;
  for (let y = 0; y < h; y += 2) for (let x = 0; x < w; x += 2) {
    const i = 4 * (y * w + x), r = px[i], gg = px[i + 1], b = px[i + 2], a = px[i + 3];
    if (a > 200 && Math.max(r, gg, b) - Math.min(r, gg, b) > 60) {
      coloured++;
      if (!spot) spot = [x / ratio, y / ratio];
    }
  }
  return {coloured, spot};
}
"""


@pytest.mark.browser
def test_sphere_renders_hovers_and_clicks(browser, url):  # noqa: F811
    with app_page(browser, url) as page:
        page.get_by_role("tab", name="Compare").first.click()
        canvas = page.locator(".sphere-view > canvas")
        canvas.wait_for(timeout=30_000)
        near = block(page, "Nearest neighbours (test digit # · digit · distance D; click one to move there)")
        near.get_by_text("#0 ·").first.wait_for(timeout=60_000)       # the view of digit #0 came
        canvas.scroll_into_view_if_needed()
        found = canvas.evaluate(FIND_POINT)
        assert found["coloured"] > 500, found                         # points drawn in colour
        box = canvas.bounding_box()
        x, y = box["x"] + found["spot"][0] + 1, box["y"] + found["spot"][1] + 1
        page.mouse.move(x, y)
        tip = page.locator(".sphere-view .tip")
        tip.wait_for(state="visible", timeout=5_000)
        shown = tip.inner_text()
        assert "test #" in shown
        index = int(shown.rsplit("#", 1)[1])
        page.mouse.click(x, y)
        near.get_by_text(f"#{index} ·").first.wait_for(timeout=30_000)
        assert block(page, "Nearest neighbours of test digit # (0–9999)").locator("input").input_value() \
            == str(index)
        assert not page.console_errors, page.console_errors
