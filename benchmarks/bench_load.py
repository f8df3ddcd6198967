"""Load test: `python app.py --public` under many concurrent visitors, over raw HTTP.

    python benchmarks/bench_load.py [--clients 50] [--seconds 60] [--checkpoints DIR]

Each client (a visitor with its own session id, as a browser tab has; `--no-sessions` makes
every call a new session, like a raw API flood) loops for `--seconds`, alternating /reconstruct and /compare through Gradio's queue
API (POST /gradio_api/call/<api_name>, then GET /gradio_api/call/<api_name>/<event_id> for the
event stream) and times each call from the POST to its "complete" event. Reported: requests/s,
median and p95 latency per endpoint, errors (HTTP errors, "error" events, queue full), and the
server's RSS when it first serves, once warmed up (its start: the app preloads its models and
derived data in the background, and one call of each endpoint is made), at its peak and after.

Targets on 2 cores: zero errors, p95 of /reconstruct under 2 s, RSS back within 200 MB of its
start after the run. Checkpoints as in bench_app.py (missing slots get untrained stand-ins).
"""
import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DEEPGEN_DATA", str(ROOT.parent / "shared" / "data"))

from benchmarks.bench_app import complete_checkpoints, free_port  # noqa: E402

API = "gradio_api"


def rss_mb(pid):
    """Resident memory of process `pid` in MB (from /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid):
    """CPU time (user + system) process `pid` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid, timeout=180):
    """Wait until the app has finished warming up: under 20 % of a core over 2 s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        before = cpu_seconds(pid)
        time.sleep(2)
        if cpu_seconds(pid) - before < 0.4:     # Gradio's queue polls, idle, at about 10 % of a core
            return True
    return False


DATASET = "mnist"      # the data-set switch, an input of every endpoint (raw HTTP sends every input)


def start_server(checkpoints):
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "DEEPGEN_CHECKPOINTS": str(checkpoints)}
    proc = subprocess.Popen([sys.executable, "app.py", "--public"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the app did not serve within 120 s")


def digit_png(seed):
    """A drawn-looking digit as PNG bytes (a stroke at a seed-dependent slant)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((28, 28), np.uint8)
    slant = rng.uniform(-0.3, 0.3)
    for r in range(4, 24):
        c = int(14 + slant * (r - 14))
        img[r, c - 2:c + 2] = 255
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(url, pictures):
    files = [("files", (f"digit{i}.png", data, "image/png")) for i, data in enumerate(pictures)]
    paths = httpx.post(f"{url}{API}/upload", files=files, timeout=30).json()
    return [{"path": p, "meta": {"_type": "gradio.FileData"}, "orig_name": Path(p).name} for p in paths]


async def call(http, url, api_name, data, session=None):
    """One queued call → (seconds, None) or (seconds, error text)."""
    start = time.perf_counter()
    r = await http.post(f"{url}{API}/call/{api_name}", json={"data": data, "session_hash": session})
    if r.status_code != 200:
        return time.perf_counter() - start, f"HTTP {r.status_code}: {r.text[:200]}"
    event_id = r.json()["event_id"]
    event = None
    async with http.stream("GET", f"{url}{API}/call/{api_name}/{event_id}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    return time.perf_counter() - start, f"error event: {line[5:].strip()[:200]}"
                return time.perf_counter() - start, None
    return time.perf_counter() - start, f"stream ended without a result (last event {event})"


async def client(url, files, seconds, index, results, sessions):
    """One visitor: its own session (as a browser tab has), or none (each call a new session)."""
    session = f"bench-{index}-{os.getpid()}" if sessions else None
    limits = httpx.Limits(max_connections=2)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        deadline = time.perf_counter() + seconds
        turn = index
        while time.perf_counter() < deadline:
            a, b = files[turn % len(files)], files[(turn + 1) % len(files)]
            api_name, data = (("reconstruct", [a, DATASET]) if turn % 2 == 0 else
                              ("compare", [a, b, "siamese-arcface", "siamese-cosface", DATASET]))
            try:
                seconds_taken, error = await call(http, url, api_name, data, session)
            except httpx.HTTPError as exc:
                seconds_taken, error = float("nan"), f"{type(exc).__name__}: {exc}"
            results.append((api_name, seconds_taken, error))
            turn += 1


async def load(url, files, clients, seconds, sessions=True):
    results = []
    await asyncio.gather(*(client(url, files, seconds, i, results, sessions) for i in range(clients)))
    return results


def p95(values):
    return float(np.percentile(values, 95)) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-sessions", action="store_true",
                        help="send no session id, so that every call is a new session (a raw API flood)")
    parser.add_argument("--checkpoints", type=Path,
                        default=Path(os.environ.get("DEEPGEN_CHECKPOINTS") or ROOT / "checkpoints"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        checkpoints, missing = complete_checkpoints(args.checkpoints.resolve(), Path(scratch))
        if missing:
            print(f"untrained stand-ins for: {', '.join(missing)}")
        proc, url = start_server(checkpoints)
        try:
            rss_serving = rss_mb(proc.pid)
            files = upload(url, [digit_png(i) for i in range(8)])
            warm = asyncio.run(load(url, files, 2, 0.01))             # one call of each endpoint
            if any(error for *_, error in warm):
                raise SystemExit(f"warm-up failed: {[e for *_, e in warm if e][:3]}")
            if not wait_idle(proc.pid):
                print("warning: the app was still busy warming up after 180 s")
            rss_warm = rss_mb(proc.pid)
            peak, running = [rss_warm], True

            def sample():
                while running:
                    peak.append(rss_mb(proc.pid))
                    time.sleep(0.5)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            began, cpu_began = time.perf_counter(), cpu_seconds(proc.pid)
            results = asyncio.run(load(url, files, args.clients, args.seconds, not args.no_sessions))
            wall, cpu = time.perf_counter() - began, cpu_seconds(proc.pid) - cpu_began
            running = False
            sampler.join()
            time.sleep(5)                                             # let the last buffers go
            rss_after = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    report = {"clients": args.clients, "seconds": round(wall, 1), "cores": os.cpu_count(), "endpoints": {}}
    print(f"{args.clients} clients ({'no sessions' if args.no_sessions else 'one session each'}) for "
          f"{wall:.0f} s on {os.cpu_count()} cores, public mode")
    for api_name in ("reconstruct", "compare"):
        done = [t for name, t, error in results if name == api_name and error is None]
        errors = [error for name, _, error in results if name == api_name and error is not None]
        row = {"requests": len(done), "per_s": round(len(done) / wall, 2),
               "median_s": round(statistics.median(done), 3) if done else None,
               "p95_s": round(p95(done), 3), "errors": len(errors)}
        report["endpoints"][api_name] = row
        print(f"/{api_name:12s} {row['requests']:5d} done, {row['per_s']:6.2f}/s, median {row['median_s']} s, "
              f"p95 {row['p95_s']} s, {row['errors']} errors" + (f" (first: {errors[0]})" if errors else ""))
    total = sum(r["requests"] for r in report["endpoints"].values())
    print(f"total {total / wall:.2f} requests/s; the server used {cpu / wall:.2f} cores, "
          f"{cpu / max(total, 1) * 1000:.0f} ms of CPU per request")
    report["server_cores"], report["cpu_ms_per_request"] = round(cpu / wall, 2), round(cpu / max(total, 1) * 1000)
    report["rss_mb"] = {"serving": round(rss_serving), "start": round(rss_warm), "peak": round(max(peak)),
                        "after": round(rss_after)}
    print(f"RSS: {rss_serving:.0f} MB when it first serves, {rss_warm:.0f} MB warmed up (the start), "
          f"{max(peak):.0f} MB peak, {rss_after:.0f} MB after (+{rss_after - rss_warm:.0f} MB)")
    errors = sum(r["errors"] for r in report["endpoints"].values())
    ok = (errors == 0 and report["endpoints"]["reconstruct"]["p95_s"] < 2.0 and rss_after - rss_warm <= 200)
    print(("targets met" if ok else "targets NOT met") + ": zero errors, p95 of /reconstruct < 2 s, "
          "RSS within 200 MB of its start")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
