"""The app as a new student meets it, in Debian's chromium: the landing tab, drawing on the first
stroke on every sketchpad (also after Clear and Undo), failed actions that leave what was shown in
place, numbers shown as text, and a phone-sized window. Needs `apt-get install chromium` (missing →
the tests fail)."""
import contextlib
import re

import pytest

from test_browser import CHROMIUM, app_page, block, browser, url  # noqa: F401 - fixtures and helpers

pytestmark = pytest.mark.browser


def stroke(page, pad, dx=0):
    """One vertical stroke on a sketchpad, with the mouse only (no toolbar)."""
    box = pad.locator("canvas").first.bounding_box()
    x, y = box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2
    page.mouse.move(x, y - 90)
    page.mouse.down()
    for i in range(30):
        page.mouse.move(x + i, y - 90 + 6 * i)
    page.mouse.up()


def digit_shown(page, label):
    """The 28×28 input box of a DigitInput labelled `label`."""
    return block(page, f"{label}: 28×28 input").locator("img")


def no_error_badges(page):
    """No output shows Gradio's "Error" badge in place of its value (the badge's element stays
    in the page, hidden)."""
    shown = page.locator("[data-testid=status-tracker]:not(.hide)")
    return shown.get_by_text("Error", exact=True).count() == 0


def test_landing_tab_is_draw(browser, url):  # noqa: F811
    with app_page(browser, url) as page:
        page.locator(".digit-pad").first.wait_for(state="visible", timeout=30_000)   # the page may still be drawing
        tab = page.get_by_role("tab", name="Draw").first
        assert tab.get_attribute("aria-selected") == "true"


def test_first_stroke_draws_on_every_pad(browser, url):  # noqa: F811
    with app_page(browser, url) as page:
        page.get_by_role("tab", name="Draw").first.click()
        pad = page.locator(".digit-pad").first
        pad.locator("canvas").first.wait_for()
        stroke(page, pad)
        digit_shown(page, "Your digit").first.wait_for(timeout=30_000)
        block(page, "Autoencoder f(g(x))").locator("img").first.wait_for(timeout=30_000)

        pad.get_by_role("button", name="Clear canvas").click()          # after Clear
        digit_shown(page, "Your digit").first.wait_for(state="detached", timeout=10_000)
        stroke(page, pad, dx=-20)
        digit_shown(page, "Your digit").first.wait_for(timeout=30_000)

        pad.get_by_role("button", name="Undo").click()                  # after Undo
        page.wait_for_timeout(500)
        stroke(page, pad, dx=20)
        page.wait_for_timeout(500)
        assert pad.get_by_role("button", name="Undo").is_enabled()    # the stroke was drawn
        digit_shown(page, "Your digit").first.wait_for(timeout=30_000)

        for tab, label in (("Style transfer", "Source digit"), ("Compare", "Digit A")):
            page.get_by_role("tab", name=tab).first.click()
            pad = page.locator(".digit-pad:visible").first
            pad.locator("canvas").first.wait_for()
            page.wait_for_timeout(300)
            stroke(page, pad)
            digit_shown(page, label).first.wait_for(timeout=30_000)
        assert not page.console_errors, page.console_errors


def test_drawn_digit_before_drawing_keeps_the_sliders(browser, url):  # noqa: F811
    with app_page(browser, url) as page:
        page.get_by_role("tab", name="Latent space").first.click()
        decoded = block(page, "Decoded f(h)").locator("img").first
        decoded.wait_for(timeout=60_000)
        page.get_by_role("button", name="Drawn digit").click()
        page.get_by_text("There is no digit yet").first.wait_for(timeout=10_000)
        page.wait_for_timeout(500)
        assert no_error_badges(page)
        assert page.locator(".latent-sliders input[type=range]").count() == 32
        assert decoded.is_visible()


def test_fit_q_before_a_digit_says_so_and_after_one_shows_the_gap(browser, url):  # noqa: F811
    with app_page(browser, url) as page:
        page.get_by_role("tab", name="Latent space").first.click()
        block(page, "Decoded f(h)").locator("img").first.wait_for(timeout=60_000)
        fit = page.get_by_role("button", name="Fit Q to this digit")
        fit.click()
        page.get_by_text("Press “Drawn digit” or “Use test digit” first").first.wait_for(timeout=10_000)
        page.get_by_role("button", name="Use test digit").click()
        block(page, "Your digit x").locator("img").first.wait_for(timeout=30_000)
        fit.click()
        page.get_by_text("Q fitted to this digit alone").first.wait_for(timeout=30_000)
        assert page.get_by_text("−ELBO with the fitted Q:").first.is_visible()
        page.get_by_role("button", name="Use test digit").click()      # a new digit: the old numbers go
        page.get_by_text("Q fitted to this digit alone").first.wait_for(state="hidden", timeout=30_000)
        assert no_error_badges(page)


def test_bad_coordinate_keeps_the_scatter(browser, url):  # noqa: F811
    with app_page(browser, url) as page:
        page.get_by_role("tab", name="Latent space").first.click()
        scatter = block(page, "Test digits' μ(x), 2-D VAE (click to decode)").locator("img").first
        scatter.wait_for(timeout=60_000)
        block(page, "h₁").locator("input").fill("50")
        page.get_by_role("button", name="Decode this point").click()
        page.get_by_text("Coordinates must lie in").first.wait_for(timeout=10_000)
        page.wait_for_timeout(500)
        assert no_error_badges(page)
        assert scatter.is_visible()


def test_bad_upload_keeps_the_outputs(browser, url, tmp_path):  # noqa: F811
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    with app_page(browser, url) as page:
        page.get_by_role("tab", name="Draw").first.click()
        pad = page.locator(".digit-pad").first
        pad.locator("canvas").first.wait_for()
        stroke(page, pad)
        rebuilt = block(page, "Autoencoder f(g(x))").locator("img").first
        rebuilt.wait_for(timeout=30_000)
        page.get_by_role("tab", name="Upload").first.click()
        block(page, "Upload a picture of a digit").locator("input[type=file]").set_input_files(bad)
        page.get_by_text("not an image").first.wait_for(timeout=10_000)
        page.wait_for_timeout(500)
        assert no_error_badges(page)
        assert rebuilt.is_visible()
        assert digit_shown(page, "Your digit").first.is_visible()


# --- numbers as text, and a phone ---------------------------------------------------------------

@contextlib.contextmanager
def phone_page(browser, url):  # noqa: F811
    """The app in a 400×800 window, recording console errors in `page.console_errors`."""
    if browser is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium with `apt-get install -y chromium`")
    page = browser.new_page(viewport={"width": 400, "height": 800})
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.console_errors.append(f"uncaught: {e}"))
    try:
        page.goto(url)
        page.get_by_role("tab", name="Draw").first.wait_for(timeout=60_000)
        yield page
    finally:
        page.close()


def captions(page, grid_label):
    """The caption texts of the grid of digits labelled `grid_label`, once it shows some."""
    labels = block(page, grid_label).locator("figcaption")
    labels.first.wait_for(timeout=60_000)
    return [t.strip() for t in labels.all_inner_texts()]


# What each tab shows that no other tab does.
TAB_MARKS = {
    "Draw": lambda page: page.locator(".digit-pad:visible").first,
    "Latent space": lambda page: page.get_by_text("Decoded f(h)", exact=True).first,
    "Style transfer": lambda page: page.get_by_text("Its style, decoded with each label 0–9", exact=True).first,
    "Compare": lambda page: page.get_by_text("Digit A: 28×28 input", exact=True).first,
    "Generate": lambda page: page.get_by_text("GAN: G(z), captioned with D(x)", exact=True).first,
    "Models": lambda page: page.get_by_role("button", name="Train", exact=True),
}


def test_every_tab_within_reach_on_a_phone(browser, url):  # noqa: F811
    with phone_page(browser, url) as page:
        assert page.get_by_role("button", name="More tabs").count() == 0      # no overflow menu
        for name, mark in TAB_MARKS.items():
            tab = page.get_by_role("tab", name=name).first
            box = tab.bounding_box()
            assert tab.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 400, name
            tab.click()
            mark(page).wait_for(timeout=30_000)
            assert mark(page).is_visible(), name
        page.evaluate("window.scrollTo(0, 0)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 400    # nothing wider than the phone
        assert not page.console_errors, page.console_errors


def test_samples_fill_a_phone_width(browser, url):  # noqa: F811
    with phone_page(browser, url) as page:
        page.get_by_role("tab", name="Generate").first.click()
        gallery = page.locator("#samples-gan")
        gallery.locator("figcaption").first.wait_for(timeout=60_000)
        assert gallery.bounding_box()["width"] >= 320                       # not squeezed beside the others
        digit = gallery.locator("img").first.bounding_box()
        assert digit["width"] >= 40 and digit["width"] == pytest.approx(digit["height"], abs=2)


def test_latent_pictures_fill_a_phone_width(browser, url):  # noqa: F811
    with phone_page(browser, url) as page:
        page.get_by_role("tab", name="Latent space").first.click()
        for label in ("Decoded 15×15 grid of the 2-D VAE", "Test digits' μ(x), 2-D VAE (click to decode)"):
            picture = block(page, label)
            picture.scroll_into_view_if_needed()
            assert picture.bounding_box()["width"] >= 320, label              # one under the other
        thumbs = block(page, "Test digits: click one to make it an end")
        thumbs.scroll_into_view_if_needed()
        thumbs.locator("img").first.wait_for(timeout=60_000)
        assert thumbs.locator("img").first.bounding_box()["width"] >= 28        # big enough for a finger


def test_sphere_neighbours_show_whole_captions_on_a_phone(browser, url):  # noqa: F811
    with phone_page(browser, url) as page:
        page.get_by_role("tab", name="Compare").first.click()
        labels = page.locator(".neighbours .caption-label")
        labels.first.wait_for(timeout=60_000)
        assert labels.count() == 8
        assert all(re.fullmatch(r"#\d+ · \d · D = \d\.\d{3}", t.strip()) for t in labels.all_inner_texts())
        assert labels.evaluate_all("ls => ls.every(l => l.scrollWidth <= l.clientWidth + 1)")   # none cut off


def test_a_digits_label_stays_above_its_picture_on_a_phone(browser, url):  # noqa: F811
    with phone_page(browser, url) as page:
        page.get_by_role("tab", name="Test set").first.click()
        for label in ("Your digit: 28×28 input", "VAE f(μ(x))"):
            shown = block(page, label)
            picture = shown.locator("img").first
            picture.wait_for(timeout=60_000)
            shown.scroll_into_view_if_needed()
            words, image = shown.locator("label").first.bounding_box(), picture.bounding_box()
            assert words["y"] + words["height"] <= image["y"] + 1, label           # not over the digit
            assert image["height"] >= 56 and image["y"] + image["height"] <= shown.bounding_box()["y"] + \
                shown.bounding_box()["height"] + 1, label                          # whole, and not tiny


def test_formulas_fit_a_phone(browser, url):  # noqa: F811
    # the Latent and Style tabs' identities and a digit's filled-in ELBO, whole within the column
    def shown_formulas(page):
        return page.locator(".katex-display").evaluate_all(
            "ds => ds.filter(d => d.offsetParent).map(d => [d.scrollWidth, d.clientWidth, d.textContent.slice(0, 20)])")

    with phone_page(browser, url) as page:
        page.get_by_role("tab", name="Latent space").first.click()
        page.get_by_role("button", name="Use test digit").click()
        page.get_by_text("The reconstruction term is the mean").first.wait_for(timeout=60_000)
        latent = shown_formulas(page)
        page.get_by_role("tab", name="Style transfer").first.click()
        page.get_by_text("Since the decoder is told").first.wait_for(timeout=30_000)
        style = shown_formulas(page)
        assert len(latent) == 4 and len(style) == 1
        assert [w for w in latent + style if w[0] > w[1] + 1] == []


def test_models_table_keeps_readable_columns_on_a_phone(browser, url):  # noqa: F811
    with phone_page(browser, url) as page:
        page.get_by_role("tab", name="Models").first.click()
        table = page.locator(".models-table")
        table.get_by_text("classifier", exact=True).first.wait_for(timeout=60_000)
        headers = table.locator("th.header-cell")
        widths = [headers.nth(i).bounding_box()["width"] for i in range(headers.count())]
        cells = table.locator(".virtual-row").first.locator(".body-cell")
        assert len(widths) == 6 and min(widths) >= 80, widths              # not a letter a line
        assert [round(cells.nth(i).bounding_box()["width"]) for i in range(6)] == [round(w) for w in widths]
        viewport = table.locator(".virtual-table-viewport")
        assert viewport.evaluate("e => e.scrollWidth > e.clientWidth")      # it scrolls sideways ...
        page.evaluate("window.scrollTo(0, 0)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 400  # ... and the page does not


def test_numbers_are_text_under_the_digits(browser, url):  # noqa: F811
    with app_page(browser, url) as page:
        page.get_by_role("tab", name="Generate").first.click()
        page.locator("#samples-gan figcaption").first.wait_for(timeout=60_000)
        d = [t.strip() for t in page.locator("#samples-gan figcaption").all_inner_texts()]
        assert len(d) == 32 and all(re.fullmatch(r"[01]\.\d\d", c) for c in d), d
        first = page.locator("#samples-gan figcaption").first
        size = float(first.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))
        caption, digit = first.bounding_box(), first.locator("xpath=..").locator("img").bounding_box()
        assert size >= 11 and caption["y"] >= digit["y"] + digit["height"] - 1          # readable, under the digit
        page.get_by_text("0.5, not 1, is the goal").first.wait_for(timeout=10_000)

        page.get_by_role("tab", name="Style transfer").first.click()
        page.get_by_role("button", name="Show grid").click()
        grid = captions(page, "Source (first column, #test index), then labels 0–9")
        assert len(grid) == 6 * 11
        assert all(re.fullmatch(r"#\d{1,4}", c) for c in grid[::11]), grid[::11]
        assert grid[1:11] == [str(d) for d in range(10)]
        assert not page.console_errors, page.console_errors
