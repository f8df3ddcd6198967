"""Time the data-set switch in a browser: with the page on the Generate tab, from the click on
the switch until the GAN's samples change, and the queue joins the page sends meanwhile.

    python app.py &
    python benchmarks/bench_switch.py [http://127.0.0.1:7860] [--switches 6]

Needs Playwright and Debian's chromium (/usr/bin/chromium). Target: under 1 s.
"""
import argparse
import json
import statistics
import time

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:7860")
    parser.add_argument("--switches", type=int, default=6)
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(args.url)
        page.get_by_role("tab", name="Generate").click()
        page.wait_for_selector("#samples-gan img", timeout=60000)
        time.sleep(3)
        joins = []
        page.on("request", lambda r: joins.append(json.loads(r.post_data or "{}").get("fn_index"))
                if "queue/join" in r.url else None)
        times = []
        for i in range(args.switches):
            title = "Fashion-MNIST" if i % 2 == 0 else "MNIST"
            before, joins[:] = page.inner_html("#samples-gan"), []
            start = time.perf_counter()
            page.locator("#dataset").get_by_label(title, exact=True).check()
            page.wait_for_function("b => document.querySelector('#samples-gan').innerHTML != b", arg=before,
                                   timeout=30000)
            times.append(time.perf_counter() - start)
            print(f"to {title:13s} Generate changed after {times[-1]:.2f} s, {len(joins)} queue joins sent by then",
                  flush=True)
            time.sleep(2)
        browser.close()
    verdict = "ok" if statistics.median(times) < 1 else "SLOW"
    print(f"median {statistics.median(times):.2f} s, max {max(times):.2f} s   {verdict}")


if __name__ == "__main__":
    main()
