"""The attacks that were tried on the hosted app, replayed: each test is one defect, written as the
attack. Two gradio_client sessions stand for two visitors of one public app; what one of them
trains, loads, uploads or resets must change nothing for the other, nothing from the web may
write into the checkpoint folder or use the host's Hub token, and the app's resources are bounded.
"""
import base64
import io
import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import httpx
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from deepgen import recipes
from deepgen.checkpoint import save_zip
from webapp import components, public, registry
from webapp.session import SessionStore
from webapp.tabs import models


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_module(app_checkpoints):
    threads = torch.get_num_threads()
    import app
    yield app
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def served(app_module):
    """The app in public mode, launched in-process: (its Blocks, its URL)."""
    blocks = app_module.build_demo(public_mode=True)
    app_module.launch(blocks, prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(),
                      quiet=True)
    try:
        yield blocks, blocks.local_url
    finally:
        blocks.close()
        public.enable(False)
        registry.reset()


@pytest.fixture
def visitors(served):
    """Two visitors: two gradio_client sessions of the same app."""
    return Client(served[1], verbose=False), Client(served[1], verbose=False)


@pytest.fixture
def local_mode():
    """The same app with public mode off (as `python app.py` on one's own machine)."""
    public.enable(False)
    yield
    public.enable(True)


@pytest.fixture(scope="module")
def digit(served):
    digit, _, _ = Client(served[1], verbose=False).predict(3, api_name="/draw_pick")
    return digit


def pixels(picture):
    """A picture an endpoint returned (a file, or an inline PNG data URL) as grey levels."""
    if isinstance(picture, dict):
        picture = io.BytesIO(base64.b64decode(picture["url"].split(",", 1)[1]))
    return np.asarray(Image.open(picture).convert("L"), dtype=np.int16)


def seen_by(client, digit):
    """What the visitor's Draw tab shows for `digit`: AE, VAE and VAE-GAN reconstructions."""
    ae, vae, vaegan, *_ = client.predict(handle_file(digit), api_name="/reconstruct")
    return [pixels(p) for p in (ae, vae, vaegan)]


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def statuses(client):
    table = client.predict(api_name="/models")
    return {row[0]: row[2] for row in table["data"]}


def other_zip(tmp_path, slot, seed):
    """A checkpoint zip of a freshly initialised model for `slot` (different weights from the bundled one)."""
    torch.manual_seed(seed)
    return str(save_zip(recipes.get(slot).build(), tmp_path / f"{slot}-{seed}.zip"))


def folder_state(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*"))


# --- 1. one visitor could replace the models everyone sees ------------------------------------

def test_a_training_run_changes_nothing_for_another_visitor(visitors, digit):
    a, b = visitors
    before = seen_by(b, digit)
    status, _, _ = a.submit("ae", 1, 4, None, None, 128, api_name="/train").result(timeout=120)
    assert status.startswith("**Done**")
    assert not same(seen_by(a, digit)[:1], before[:1])            # A sees the autoencoder it trained …
    assert same(seen_by(b, digit), before)                        # … B still sees the bundled one
    assert statuses(a)["ae"] == "yours" and statuses(b)["ae"] == "bundled"


def test_an_upload_changes_nothing_for_another_visitor_until_reset(visitors, digit, tmp_path):
    a, b = visitors
    before = seen_by(b, digit)
    message, _ = a.predict("vae", handle_file(other_zip(tmp_path, "vae", 1)), api_name="/upload_model")
    assert "Loaded" in message
    assert not same(seen_by(a, digit)[1:2], before[1:2]) and same(seen_by(b, digit), before)
    # Derived data is cached per model: B's D(x) of real digits stays that of the bundled GAN.
    real_scores = lambda client: [row[-1] for row in client.predict(0, 4, api_name="/generate")[3]["data"]]  # noqa: E731
    b_scores = real_scores(b)
    a.predict("gan", handle_file(other_zip(tmp_path, "gan", 2)), api_name="/upload_model")
    assert real_scores(a) != b_scores and real_scores(b) == b_scores
    # A failed upload keeps what A had; going back to the bundled models drops it.
    with pytest.raises(AppError, match="zip"):
        a.predict("vae", handle_file(_not_a_zip(tmp_path)), api_name="/upload_model")
    assert statuses(a)["vae"] == "yours"
    message, table = a.predict(api_name="/back_to_bundled")
    assert "Back to the bundled models" in message and {row[2] for row in table["data"]} == {"bundled"}
    assert same(seen_by(a, digit), before)


def _not_a_zip(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    return str(path)


def test_loading_a_server_folder_changes_nothing_for_another_visitor(visitors, digit, app_checkpoints,
                                                                      local_mode):
    a, b = visitors
    before = seen_by(b, digit)
    message, _ = a.predict("vae", str(app_checkpoints / "vae"), api_name="/load_model")   # local mode only
    assert "for you alone" in message
    assert statuses(a)["vae"] == "yours" and statuses(b)["vae"] == "bundled"
    assert same(seen_by(b, digit), before)


# --- 2. visitors overwrote checkpoints on disk -----------------------------------------------

def test_saving_never_writes_the_checkpoint_folder(visitors, app_checkpoints):
    a, b = visitors
    a.submit("ae", 1, 4, None, None, 128, api_name="/train").result(timeout=120)
    before = folder_state(app_checkpoints)
    with ThreadPoolExecutor(8) as pool:                           # 8 concurrent saves from 2 visitors
        results = list(pool.map(lambda c: c.predict("ae", api_name="/save_model"), [a, b] * 4))
    assert folder_state(app_checkpoints) == before
    import deepgen
    latent = {deepgen.load(path).latent_dim for path, message in results}
    assert all("Ready" in message for _, message in results)
    assert latent == {4, recipes.get("ae").resolved_model_args()["latent_dim"]}   # A's model, B's bundled one


# --- 3. visitors pushed and loaded with the host's Hub token ----------------------------------

@pytest.fixture
def hub_spy(monkeypatch):
    """The host has HF_TOKEN set, the Hub looks reachable, and every use of huggingface_hub's
    HfApi or snapshot_download is recorded (and fails) instead of going out."""
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    calls = []

    class SpyApi:
        def __init__(self, *args, token=None, **kwargs):
            calls.append(("HfApi", token))

        def __getattr__(self, name):
            def refuse(*args, **kwargs):
                calls.append((name, kwargs.get("token")))
                raise RuntimeError("the test's Hub is not reachable")
            return refuse

    def spy_download(repo_id, *args, token=None, **kwargs):
        calls.append(("snapshot_download", repo_id, token))
        raise LocalEntryNotFoundError("the test's Hub is not reachable")

    monkeypatch.setenv("HF_TOKEN", "hf_the_hosts_own_token")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub, "HfApi", SpyApi)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", spy_download)
    return calls


def test_a_push_never_uses_the_hosts_token(visitors, hub_spy, monkeypatch):
    from huggingface_hub import constants
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    a, _ = visitors
    with pytest.raises(AppError, match="sign-in|Sign in"):               # public: no sign-in, no push
        a.predict("vae", "victim/x", "", api_name="/push_model")
    with pytest.raises(AppError, match="sign-in|Sign in"):               # a typed token is not asked for
        a.predict("vae", "victim/x", "hf_typed_by_a_visitor", api_name="/push_model")
    assert hub_spy == []
    signed_in = gr.OAuthToken(token="hf_the_visitors_sign_in", scope="write-repos", expires_at=time.time() + 600)
    with pytest.raises(gr.Error, match="Not pushed|push"):             # public: the visitor's own sign-in
        models.push_model("vae", "visitor/x", "hf_typed_by_a_visitor", oauth_token=signed_in)
    assert [call for call in hub_spy if call[0] == "HfApi"] == [("HfApi", "hf_the_visitors_sign_in")]
    hub_spy.clear()
    public.enable(False)
    try:
        with pytest.raises(AppError, match="host's own token is never used"):
            a.predict("vae", "victim/x", "", api_name="/push_model")
        assert hub_spy == []
        with pytest.raises(AppError, match="Not pushed|push"):
            a.predict("vae", "victim/x", "hf_the_visitors_token", api_name="/push_model")
    finally:
        public.enable(True)
    assert hub_spy and all(call[1] == "hf_the_visitors_token" for call in hub_spy if call[0] == "HfApi")
    assert "hf_the_hosts_own_token" not in json.dumps(hub_spy)


def test_public_loads_from_the_hub_only_and_without_a_token(visitors, hub_spy, app_checkpoints):
    a, _ = visitors
    with pytest.raises(AppError, match="cannot be reached"):
        a.predict("vae", "someone/deepgen-vae", api_name="/load_model")
    assert hub_spy == [("snapshot_download", "someone/deepgen-vae", False)]
    refused = [str(app_checkpoints / "vae"), "vae", "someone/deepgen-vae/extra", "../../etc/passwd",
               "https://huggingface.co/someone/x", "someone/x@main", "/tmp", "~/x", "file:///etc/passwd"]
    for source in refused:
        with pytest.raises(AppError, match="not a Hub repo id"):
            a.predict("vae", source, api_name="/load_model")
    # An id shaped like a server folder goes to the Hub, never to the disk: no hint that it exists.
    messages = []
    for source in ("checkpoints/vae", "nosuchdir/vae"):
        with pytest.raises(AppError) as info:
            a.predict("vae", source, api_name="/load_model")
        messages.append(str(info.value).replace(source, "ID"))
    assert messages[0] == messages[1]
    assert [c[0] for c in hub_spy] == ["snapshot_download"] * 3 and statuses(a)["vae"] == "bundled"


# --- 8. heavy work could monopolise the server --------------------------------------------------

def test_public_training_is_bounded(visitors):
    a, b = visitors
    with pytest.raises(AppError, match=f"at most {public.TRAIN_BUDGET:,}"):
        a.predict("gan", 50, None, None, None, 1024, api_name="/train")
    long_run = a.submit("gan", 1, None, None, None, public.TRAIN_BUDGET // 64 * 64, api_name="/train")
    deadline = time.time() + 60
    while len(long_run.outputs()) < 2 and time.time() < deadline:    # running: past its first update
        time.sleep(0.2)
    try:
        with pytest.raises(AppError, match="already have a training run"):
            a.predict("ae", 1, None, None, None, 128, api_name="/train")
        with pytest.raises(AppError, match="busy"):                   # the process's one place is taken
            b.predict("ae", 1, None, None, None, 128, api_name="/train")
    finally:
        long_run.cancel()
    deadline = time.time() + 30                                       # a stopped run frees its place
    while True:
        try:
            status, _, _ = b.predict("ae", 1, None, None, None, 128, api_name="/train")
            break
        except AppError:
            if time.time() > deadline:
                raise
            time.sleep(1)
    assert status.startswith("**Done**")


def test_a_full_queue_says_busy_at_once(served, monkeypatch):
    blocks, url = served
    assert blocks._queue.max_size == 64
    monkeypatch.setattr(blocks._queue, "max_size", 2)
    barrier = threading.Barrier(24)

    def call(_):
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            start = time.perf_counter()
            r = http.post(f"{url}gradio_api/call/generate", json={"data": [0, 64]})
            answer = (r.status_code, r.json(), time.perf_counter() - start)
            if r.status_code == 200:                                  # drain the accepted call
                http.get(f"{url}gradio_api/call/generate/{r.json()['event_id']}").read()
            return answer

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(call, range(24)))
    busy = [a for a in answers if a[0] == 503]
    assert busy and all("Queue is full" in a[1]["detail"] for a in busy)
    assert max(a[2] for a in busy) < 2.0                               # refused at once, not after a wait
    assert any(a[0] == 200 for a in answers)


# --- 6. the disk filled up; sessions must not fill memory either --------------------------------

def test_uploads_and_outputs_expire(served, app_module, tmp_path):
    blocks, _ = served
    frequency, age = blocks.delete_cache
    assert blocks.delete_cache == app_module.DELETE_CACHE and frequency <= 3600 and age <= 24 * 3600
    old_png = components.PNG_DIR / f"old-{os.getpid()}.png"
    components.PNG_DIR.mkdir(parents=True, exist_ok=True)
    old_png.write_bytes(b"\x89PNG")
    old_zip = registry.ZIP_DIR / f"old-{os.getpid()}"
    old_zip.mkdir(parents=True, exist_ok=True)
    (old_zip / "deepgen-vae.zip").write_bytes(b"PK")
    an_hour_ago = time.time() - 2 * 3600
    for path in (old_png, old_zip / "deepgen-vae.zip", old_zip):
        os.utime(path, (an_hour_ago, an_hour_ago))
    components.prune_pngs()
    registry.prune_exports()
    assert not old_png.exists() and not old_zip.exists()


def test_sessions_expire_and_their_memory_is_capped():
    now = [0.0]
    store = SessionStore(idle_seconds=60, session_bytes=3_000, total_bytes=5_000, clock=lambda: now[0])
    model = lambda n: torch.nn.Linear(n, 1, bias=False)               # noqa: E731 - n × 4 bytes
    store.put("a", "vae", model(500))
    store.put("a", "ae", model(500))
    store.put("a", "gan", model(500))                                 # 6 000 bytes > 3 000: oldest go
    assert store.get("a", "vae") is None and store.get("a", "gan") is not None
    store.put("b", "vae", model(600))
    store.put("c", "vae", model(600))                                 # over 5 000 in total: A's model goes
    assert store.usage() == (2, 2, 4_800) and store.get("a", "gan") is None
    with pytest.raises(ValueError, match="more than"):
        store.put("d", "vae", model(1000))
    now[0] = 30
    store.get("b", "ae")                                              # B is active, C is not
    now[0] = 80
    store.sweep()
    assert store.get("b", "vae") is not None and store.get("c", "vae") is None
    assert store.clear("b") == 1 and store.get("b", "vae") is None


def test_a_closed_page_drops_the_visitors_models(app_module):
    class Closed:
        session_hash = "closed-page"
    registry.put("ae", recipes.get("ae").build(), session="closed-page")
    assert registry.own("ae", "closed-page") is not None
    app_module.forget_visitor(Closed())
    assert registry.own("ae", "closed-page") is None
