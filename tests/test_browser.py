"""The app in Debian's chromium, driven by Playwright: draw a digit with the mouse, visit every tab,
and fail on any console error. Needs `apt-get install chromium` (missing → the test fails)."""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from webapp import registry

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
TABS = ["Models", "Draw", "Latent space", "Style transfer", "Compare", "Generate"]

pytestmark = pytest.mark.browser


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(checkpoints, tmp_path_factory, **env):
    """`python app.py` in its own process (as a person starts it) serving `checkpoints`, on a free
    port, with the extra environment `env`; yields its address."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), registry.ENV_VAR: str(checkpoints), **env}
    log = tmp_path_factory.mktemp("app") / "app.log"
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=log.open("w"))
    address = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(address, timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"`python app.py` did not serve {address}: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def url(app_checkpoints, tmp_path_factory):
    """`python app.py` serving the test checkpoints."""
    with serve_app(app_checkpoints, tmp_path_factory) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium under Playwright, or None where it is not installed (the tests then fail)."""
    if not os.path.exists(CHROMIUM):
        yield None
        return
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def app_page(browser, url):
    """A page on the app that records console errors in `page.console_errors`."""
    if browser is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium with `apt-get install -y chromium`")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.console_errors.append(f"uncaught: {e}"))
    try:
        page.goto(url)
        page.get_by_role("tab", name="Models").wait_for(timeout=60_000)
        yield page
    finally:
        page.close()


def block(page, label):
    """The component whose label reads `label`."""
    return page.locator(".block").filter(has=page.get_by_text(label, exact=True)).first


def test_draw_a_digit_and_see_it_rebuilt(browser, url):
    with app_page(browser, url) as page:
        draw_a_seven(page)


def draw_a_seven(page):
    page.get_by_role("tab", name="Draw").first.click()
    pad = page.locator(".digit-pad").first
    box = pad.locator("canvas").first.bounding_box()         # no tool to pick: the brush is ready
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 50, y - 80)
    page.mouse.down()
    for i in range(20):                                   # a "7": the bar, then the stem
        page.mouse.move(x - 50 + 5 * i, y - 80)
    for i in range(30):
        page.mouse.move(x + 50 - 3 * i, y - 80 + 6 * i)
    page.mouse.up()
    for label in ("Your digit: 28×28 input", "Autoencoder f(g(x))", "VAE f(μ(x))", "VAE-GAN f(μ(x))"):
        block(page, label).locator("img").first.wait_for(timeout=60_000)
    src = block(page, "VAE f(μ(x))").locator("img").first.get_attribute("src")
    assert src.startswith("data:image/png;base64,")                  # sent inline, not as a file
    prediction = block(page, "Classifier: P(digit)")
    prediction.get_by_text("%").first.wait_for(timeout=30_000)
    assert prediction.get_by_text("%").count() == 10
    assert not page.console_errors, page.console_errors


def test_every_tab_opens_without_console_errors(browser, url):
    with app_page(browser, url) as page:
        visit_every_tab(page)


def visit_every_tab(page):
    for name in TABS:
        page.get_by_role("tab", name=name).first.click()
        page.wait_for_timeout(600)
    page.get_by_role("tab", name="Generate").first.click()
    page.locator("#samples-gan img").first.wait_for(timeout=60_000)
    page.get_by_role("tab", name="Latent space").first.click()
    scatter = block(page, "Test digits' μ(x), 2-D VAE (click to decode)").locator("img").first
    scatter.wait_for(timeout=60_000)
    scatter.click(position={"x": 200, "y": 150})
    block(page, "Decoded point").locator("img").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    assert not page.console_errors, page.console_errors
