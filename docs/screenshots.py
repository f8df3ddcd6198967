"""The README's screenshots: every tab of a running app in Debian's chromium, as a student uses it.

    python app.py &                                   # the bundled checkpoints
    python docs/screenshots.py http://127.0.0.1:7860  # writes docs/screenshots/*.webp

A "7" is drawn on the Draw tab first, so the tabs that reuse the drawing show it; the last picture is
the Style transfer tab on Fashion-MNIST. Needs Playwright and `apt-get install -y chromium`.
"""
import argparse
import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
OUT = Path(__file__).parent / "screenshots"
WAIT = 120_000   # ms


def block(page, label):
    return page.locator(".block").filter(has=page.get_by_text(label, exact=True)).first


def draw_a_seven(page):
    canvas = page.locator(".digit-pad:visible").first.locator("canvas").first
    canvas.wait_for()
    page.wait_for_timeout(300)
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 50, y - 80)
    page.mouse.down()
    for i in range(20):
        page.mouse.move(x - 50 + 5 * i, y - 80)
    for i in range(30):
        page.mouse.move(x + 50 - 3 * i, y - 80 + 6 * i)
    page.mouse.up()


def save(page, name, height):
    """The top `height` pixels of the page as WebP (a tenth of a PNG's size)."""
    page.wait_for_timeout(1500)         # let plots and images settle
    png = page.screenshot(full_page=True)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.crop((0, 0, image.width, min(height, image.height)))
    OUT.mkdir(exist_ok=True)
    image.save(OUT / f"{name}.webp", quality=80, method=6)
    print(f"{OUT / name}.webp  {image.width}×{image.height}")


def tab(page, name):
    page.get_by_role("tab", name=name).first.click()


def main(url):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(WAIT)
        page.goto(url)
        page.locator(".digit-pad canvas").first.wait_for(timeout=WAIT)
        draw_a_seven(page)
        block(page, "Classifier: P(digit)").get_by_text("%").first.wait_for(timeout=WAIT)
        save(page, "draw", 1500)

        tab(page, "Latent space")
        block(page, "Test digits' μ(x), 2-D VAE (click to decode)").locator("img").first.wait_for(timeout=WAIT)
        page.get_by_role("button", name="Drawn digit").click()       # the "7" as a distribution
        block(page, "A sample f(μ + σ·ε)").locator("img").first.wait_for(timeout=WAIT)
        page.get_by_role("button", name="Fit Q to this digit").click()    # its amortisation gap
        page.get_by_text("Q fitted to this digit alone").first.wait_for(timeout=WAIT)
        save(page, "latent", 2500)

        tab(page, "Style transfer")
        block(page, "Source (first column, #test index), then labels 0–9").locator("img").first.wait_for(timeout=WAIT)
        draw_a_seven(page)
        block(page, "Its style, decoded with each label 0–9").locator("img").first.wait_for(timeout=WAIT)
        save(page, "style", 1700)

        tab(page, "Compare")
        draw_a_seven(page)                                          # digit A
        page.get_by_role("tab", name="Test set").locator("visible=true").nth(1).click()   # digit B
        for name in "AB":          # a click before both images are in says that one is missing
            block(page, f"Digit {name}: 28×28 input").locator("img").first.wait_for(timeout=WAIT)
        page.get_by_role("button", name="Compare").click()
        block(page, "Test embeddings (2-D PCA), A and B marked").locator("img").first.wait_for(timeout=WAIT)
        save(page, "compare", 1900)

        tab(page, "Generate")
        page.locator("#samples-gan img").first.wait_for(timeout=WAIT)
        save(page, "generate", 1700)

        tab(page, "Models")
        page.locator("table:visible").first.wait_for(timeout=WAIT)
        save(page, "models", 1300)

        page.get_by_role("radio", name="Fashion-MNIST").check()
        tab(page, "Style transfer")
        page.get_by_role("tab", name="Test set").locator("visible=true").first.click()
        # the row's captions, not its label, which changes first
        block(page, "Its style, decoded with each class (T-shirt/top, Trouser, …)").get_by_text(
            "Ankle boot").first.wait_for(timeout=WAIT)
        save(page, "style-fashion-mnist", 1700)
        browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:7860")
    main(parser.parse_args().url)
