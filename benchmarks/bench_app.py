"""Time the app's interactive callbacks in-process, and `python app.py` until it serves.

    python benchmarks/bench_app.py [--calls 50] [--checkpoints DIR] [--skip-startup] [--skip-first]

Targets: each callback's median under 50 ms, but 500 ms for the Latent tab's "Fit Q to this
digit" (an optimisation a student asks for, 30 gradient steps); the app serving within 10 s; the first call of each
tab on a fresh `python app.py`, made as soon as it serves, within 1 s. Checkpoints come from
--checkpoints, else $DEEPGEN_CHECKPOINTS, else ./checkpoints; slots missing there are filled with
untrained models of the same architecture (same cost), in a temporary folder.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIT_Q = "latent: fit Q to the digit shown (30 steps; −log P(X), k = 128)"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DEEPGEN_DATA", str(ROOT.parent / "shared" / "data"))


def complete_checkpoints(folder, scratch):
    """`folder` if every slot is there, else a scratch folder linking the present ones (and the
    other data sets' folders) and holding untrained stand-ins for the missing ones."""
    from deepgen import data, recipes, save

    missing = [s for s in recipes.RECIPES if not (folder / s / "model.safetensors").exists()]
    if not missing:
        return folder, []
    for slot in recipes.RECIPES:
        target = scratch / slot
        if slot in missing:
            save(recipes.get(slot).build(), target, command="benchmark stand-in (untrained)")
        else:
            target.symlink_to((folder / slot).resolve())
    for name in data.DATASETS:
        if (folder / name).is_dir():
            (scratch / name).symlink_to((folder / name).resolve())
    return scratch, missing


def timed(fn, calls):
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def bench_callbacks(calls):
    import numpy as np
    from PIL import Image

    from deepgen import inference
    from webapp import cvae_sliders, registry
    from webapp.components import pick_test_digit, prepare_sketch
    from webapp.tabs import compare, draw, generate, latent, style

    a, label, _ = pick_test_digit(0)
    b, _, _ = pick_test_digit(1)
    a, b = Image.fromarray(a), Image.fromarray(b)
    item, item_label, _ = pick_test_digit(0, "fashion-mnist")
    item = Image.fromarray(item)
    ink = np.zeros((280, 280, 4), np.uint8)
    ink[40:240, 120:160, 3] = 255
    sketch = {"background": None, "layers": [], "composite": ink}
    rng = np.random.default_rng(0)
    gan = registry.get("gan")
    cases = {
        "prepare sketch (280×280 → 28×28)": lambda: prepare_sketch(sketch),
        "reconstruct (AE, VAE, VAE-GAN, classifier, code)": lambda: draw.reconstruct(a),
        "decode one slider move (VAE)": lambda: latent.decode_latent(*rng.uniform(-3, 3, 32).round(2)),
        "decode a point of the 2-D plane (vae2d, row by row)": lambda: latent.decode_point(*rng.uniform(-3, 3, 2)),
        "hover over the 2-D plane (server function, PNG data URL)": lambda: latent.hover_decode(rng.uniform(-3, 3, 2)),
        "latent: sort the sliders by KL (tab open)": lambda: latent.sort_sliders(None, *([0.0] * 32)),
        "latent: describe a digit (μ, σ, sample, error map, ELBO)": lambda: latent.describe_digit(a, 0, None, None),
        FIT_Q: lambda: latent.fit_posterior(a),
        "latent: pick an interpolation end (3 walks, path)": lambda: latent.pick_end(
            __import__("gradio").SelectData(None, {"index": int(rng.integers(30)), "value": None}), "A", 0, 1, 10),
        "style row (CVAE, 10 labels)": lambda: style.style_transfer(a, label, style.LABEL_SOURCES[0]),
        "style row, Fashion-MNIST (CVAE drawn row by row)": lambda: style.style_transfer(
            item, item_label, style.LABEL_SOURCES[0], dataset="fashion-mnist"),
        "CVAE sliders, Fashion-MNIST: sweep every style dimension": lambda: cvae_sliders.sweep_style(
            "fashion-mnist", item_label, *rng.uniform(-2, 2, 6).round(2)),
        "compare (ArcFace + CosFace, neighbours, PCA plot)": lambda: compare.compare(a, b),
        "64 GAN samples and their D(x)": lambda: inference.discriminator_scores(gan, inference.generate(gan, 64, 0)),
        "generate 32, the tab's default (GAN + VAE-GAN + VAE, D)": lambda: generate.generate(int(rng.integers(1000)), 32),
        "generate 64, the most (GAN + VAE-GAN + VAE, D)": lambda: generate.generate(int(rng.integers(1000)), 64),
    }
    print(f"callbacks, {calls} calls each (after one warm-up call that loads models and caches):")
    results = {}
    for name, fn in cases.items():
        fn()
        median, worst = timed(fn, calls)
        results[name] = median
        target = 500 if name == FIT_Q else 50
        print(f"  {name:<56} median {median:7.1f} ms   max {worst:7.1f} ms   {'ok' if median < target else 'SLOW'}")
    return results


def bench_http(calls):
    """The same actions through the app's HTTP API with gradio_client (what a browser waits for)."""
    from gradio_client import Client, handle_file

    import app
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        client = Client(app.demo.local_url, verbose=False)
        a, label, _ = client.predict(0, api_name="/draw_pick")
        b, _, _ = client.predict(1, api_name="/draw_pick")
        rng = __import__("numpy").random.default_rng(0)
        cases = {
            "/reconstruct": lambda: client.predict(handle_file(a), api_name="/reconstruct"),
            "/decode_latent": lambda: client.predict(*rng.uniform(-3, 3, 32).round(2).tolist(),
                                                     api_name="/decode_latent"),
            "/style_transfer": lambda: client.predict(handle_file(a), label, "true label (test digits)",
                                                      api_name="/style_transfer"),
            "/compare": lambda: client.predict(handle_file(a), handle_file(b), "siamese-arcface",
                                               "siamese-cosface", api_name="/compare"),
            "/generate (64)": lambda: client.predict(0, 64, api_name="/generate"),
        }
        print(f"over HTTP with gradio_client, {calls} calls each (request, queue, PNG encoding, download):")
        for name, fn in cases.items():
            fn()
            median, worst = timed(fn, calls)
            print(f"  {name:<56} median {median:7.1f} ms   max {worst:7.1f} ms")
    finally:
        app.demo.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_startup(checkpoints, runs=3, limit=60):
    print(f"`python app.py` until http://127.0.0.1:PORT/ answers ({runs} runs):")
    times = []
    for _ in range(runs):
        port = free_port()
        env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "DEEPGEN_CHECKPOINTS": str(checkpoints)}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while time.perf_counter() - start < limit:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.05)
            elapsed = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        times.append(elapsed)
        print(f"  serving after {elapsed:5.2f} s")
    print(f"  median {statistics.median(times):.2f} s   {'ok' if statistics.median(times) < 10 else 'SLOW'}")
    return times


def first_call_cases(client, files):
    """Each tab's first action over HTTP, in the order a visitor meets the tabs."""
    from gradio_client import handle_file

    digit = handle_file(str(files / "digit.png"))
    return {
        "Draw: /reconstruct": lambda: client.predict(digit, api_name="/reconstruct"),
        "Latent space: /latent_overview": lambda: client.predict(api_name="/latent_overview"),
        "Latent space: /decode_point": lambda: client.predict(0.5, -0.5, api_name="/decode_point"),
        "Latent space: /interpolate": lambda: client.predict(0, 1, 10, api_name="/interpolate"),
        "Style transfer: /style_transfer": lambda: client.predict(digit, None, "classifier's prediction",
                                                                  api_name="/style_transfer"),
        "Compare: /compare": lambda: client.predict(digit, digit, "siamese-arcface", "siamese-cosface",
                                                    api_name="/compare"),
        "Generate: /generate (32)": lambda: client.predict(0, 32, api_name="/generate"),
    }


def bench_first_calls(checkpoints, limit=120, wait=0.0):
    """A fresh `python app.py`; as soon as it serves (and `wait` seconds more), the first call of
    each tab, timed one after the other as a visitor would make them."""
    from gradio_client import Client
    from PIL import Image

    from webapp.preload import sample_digit

    print(f"first call of each tab on a fresh `python app.py`, {wait:g} s after it serves:")
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "DEEPGEN_CHECKPOINTS": str(checkpoints)}
    url = f"http://127.0.0.1:{port}/"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {}
    try:
        while time.perf_counter() - start < limit:
            try:
                with urllib.request.urlopen(url, timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        print(f"  serving after {time.perf_counter() - start:5.2f} s")
        time.sleep(wait)
        client = Client(url, verbose=False)
        with tempfile.TemporaryDirectory() as files:
            Image.fromarray(sample_digit()).save(Path(files) / "digit.png")
            for name, fn in first_call_cases(client, Path(files)).items():
                t = time.perf_counter()
                fn()
                results[name] = time.perf_counter() - t
                print(f"  {name:<52} {results[name] * 1000:7.0f} ms   {'ok' if results[name] <= 1 else 'SLOW'}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=50)
    p.add_argument("--checkpoints", default=os.environ.get("DEEPGEN_CHECKPOINTS") or str(ROOT / "checkpoints"))
    p.add_argument("--threads", type=int, default=int(os.environ.get("DEEPGEN_THREADS") or 1),
                   help="torch threads (default: as the app, $DEEPGEN_THREADS or 1)")
    p.add_argument("--skip-startup", action="store_true")
    p.add_argument("--skip-http", action="store_true")
    p.add_argument("--skip-first", action="store_true", help="skip the first calls on a fresh app")
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):     # as app.py: every thread, not just this one
        os.environ[var] = str(args.threads)
    import torch
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        folder, missing = complete_checkpoints(Path(args.checkpoints), Path(scratch))
        if missing:
            print(f"untrained stand-ins for the missing checkpoints: {', '.join(missing)}")
        os.environ["DEEPGEN_CHECKPOINTS"] = str(folder)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
        bench_callbacks(args.calls)
        if not args.skip_http:
            bench_http(args.calls)
        if not args.skip_startup:
            bench_startup(folder)
        if not args.skip_first:
            bench_first_calls(folder)               # a visitor who clicks the moment it serves
            bench_first_calls(folder, wait=15)      # one who reads the landing tab first


if __name__ == "__main__":
    main()
