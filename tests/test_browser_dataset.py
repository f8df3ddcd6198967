"""The data-set switch in Debian's chromium: after switching to Fashion-MNIST every tab shows
clothes (class names such as "Trouser", not digits), drawing gives way to test items, and the
Models tab lists the Fashion-MNIST slots. A tab opened after the switch catches up as it opens
(Gradio adds a tab's components to the page only then). Needs `apt-get install chromium` (missing → the test fails)."""
import re

import pytest

from test_app_dataset import FASHION, both_datasets
from test_browser import app_page, block, browser, serve_app  # noqa: F401 - fixtures and helpers
from deepgen import data

pytestmark = pytest.mark.browser
NAMES = list(data.class_names(FASHION))
WAIT = 90_000           # ms; a busy machine is slow, an idle one answers each step in a few seconds


@pytest.fixture(scope="module")
def both_url(app_checkpoints, tmp_path_factory):
    """`python app.py` serving the test MNIST checkpoints and Fashion-MNIST ones for BUNDLED."""
    folder = both_datasets(app_checkpoints, tmp_path_factory.mktemp("browser-both"))
    # no warm-up competing with the test for the cores
    with serve_app(folder, tmp_path_factory, DEEPGEN_PRELOAD="0") as address:
        yield address


def captions(page, label):
    """The caption texts of the grid of digits labelled `label`, once it shows clothes."""
    grid = block(page, label)
    grid.locator("figcaption").first.wait_for(timeout=WAIT)
    return [t.strip() for t in grid.locator("figcaption").all_inner_texts()]


def no_digit_only(texts):
    return not [t for t in texts if re.fullmatch(r"\d", t)]


def test_switching_to_fashion_shows_clothes_in_every_tab(browser, both_url):  # noqa: F811
    with app_page(browser, both_url) as page:
        page.get_by_role("tab", name="Draw").first.click()
        page.locator(".digit-pad").first.wait_for(state="visible", timeout=WAIT)
        page.get_by_role("radio", name="Fashion-MNIST").check()

        # Draw: no sketchpad; test item #0 (an ankle boot) and the classifier's classes
        block(page, "Your item: 28×28 input").locator("img").first.wait_for(timeout=WAIT)
        assert page.locator(".digit-pad:visible").count() == 0
        assert page.get_by_role("tab", name="Draw (digits only)").first.is_disabled()
        block(page, "Classifier: P(item)").get_by_text("Ankle boot").first.wait_for(timeout=WAIT)
        assert page.get_by_text("drawing is for digits").first.is_visible()

        # Style transfer: one item decoded in the ten classes, and the grid of items × classes
        page.get_by_role("tab", name="Style transfer").first.click()
        assert captions(page, "Its style, decoded with each class (T-shirt/top, Trouser, …)") == NAMES
        grid = captions(page, "Source (first column, #test index), then the ten classes")
        assert grid[1:11] == NAMES and no_digit_only(grid)

        # Latent space: the test items to interpolate between are named by class
        page.get_by_role("tab", name="Latent space").first.click()
        page.get_by_text("Trouser · #", exact=False).first.wait_for(timeout=WAIT)

        # Generate: the Fashion-MNIST GAN's samples; the missing generators say how to train them
        page.get_by_role("tab", name="Generate").first.click()
        page.locator("#samples-gan img").first.wait_for(timeout=WAIT)
        page.get_by_text("a real Fashion-MNIST item", exact=False).first.wait_for(timeout=WAIT)
        page.locator("code:visible", has_text="python -m train vaegan --dataset fashion-mnist").first.wait_for(
            timeout=WAIT)

        # Models: the Fashion-MNIST slots, and how to train the missing ones
        page.get_by_role("tab", name="Models").first.click()
        page.get_by_text("train: python -m train ae --dataset fashion-mnist").first.wait_for(timeout=WAIT)

        # Compare (last: it embeds the test set when it first opens): two test items, classes named
        page.get_by_role("tab", name="Compare").first.click()
        shown = block(page, "Classes shown")
        shown.get_by_text("Trouser", exact=True).wait_for(timeout=WAIT)
        assert shown.get_by_text("3", exact=True).count() == 0
        block(page, "Item B: 28×28 input").locator("img").first.wait_for(timeout=WAIT)
        assert page.locator(".digit-pad:visible").count() == 0
        assert not page.console_errors, page.console_errors


def test_a_switch_with_compare_drawn_redraws_its_sphere_without_an_error(browser, both_url):  # noqa: F811
    """With the Compare tab on the page, a switch relabels the classes on the sphere and redraws it
    for the new set, and no error toast appears: the sphere once redrew on a `.change` of the input
    image, which read the class checkboxes before the page had relabelled them, and the server,
    already holding the new classes, refused the old names."""
    with app_page(browser, both_url) as page:
        page.get_by_role("tab", name="Compare").first.click()
        page.get_by_text("test digits, embedded by", exact=False).first.wait_for(timeout=WAIT)
        page.get_by_role("radio", name="Fashion-MNIST").check()
        block(page, "Classes shown").get_by_text("Trouser", exact=True).wait_for(timeout=WAIT)
        page.get_by_text("test items, embedded by", exact=False).first.wait_for(timeout=WAIT)
        assert page.locator(".toast-body").count() == 0
        assert not page.console_errors, page.console_errors


def test_a_switch_forgets_the_digit_described_in_latent_space(browser, both_url):  # noqa: F811
    """The digit described under the sliders, its ELBO and its fitted Q belong to the set it came
    from: after a switch they are gone, not left beside the new set's sliders and scatter."""
    with app_page(browser, both_url) as page:
        page.get_by_role("tab", name="Latent space").first.click()
        page.get_by_role("button", name="Use test digit").click()
        said = page.get_by_text("The reconstruction term is the mean").first
        said.wait_for(timeout=WAIT)
        page.get_by_role("button", name="Fit Q to this digit").click()
        fitted = page.get_by_text("Q fitted to this digit alone").first
        fitted.wait_for(timeout=WAIT)
        page.get_by_role("radio", name="Fashion-MNIST").check()
        said.wait_for(state="hidden", timeout=WAIT)
        fitted.wait_for(state="hidden", timeout=WAIT)
        assert block(page, "Your digit x").locator("img").count() == 0
        assert not page.console_errors, page.console_errors
