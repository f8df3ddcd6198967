"""The app as a new student meets it, in Debian's chromium: the landing tab, drawing on the first
stroke on every sketchpad (also after Clear and Undo), and failed actions that leave what was
shown in place. Needs `apt-get install chromium` (missing → the tests fail)."""
import pytest

from test_browser import app_page, block, browser, url  # noqa: F401 - fixtures and helpers

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
        tab = page.get_by_role("tab", name="Draw").first
        assert tab.get_attribute("aria-selected") == "true"
        assert page.locator(".digit-pad").first.is_visible()


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
