"""deepgen web app: `python app.py` serves http://127.0.0.1:7860 (also a Hugging Face Space's entry point).

Models come from `$DEEPGEN_CHECKPOINTS` (default ./checkpoints), MNIST from `$DEEPGEN_DATA`; both are
read on first use, so the app starts in seconds and runs offline with whatever checkpoints exist.
`$DEEPGEN_THREADS` (default 1) sets torch's CPU threads: the models are small, so one thread per
request answers fastest and lets sessions (and a training run) work side by side without
oversubscribing the cores. `$DEEPGEN_PRELOAD=0` skips warming the models up after start-up
(`webapp.preload`), for tests that time the app's own answers.

The data-set switch under the header (MNIST or Fashion-MNIST) is each visitor's own: every tab
takes its value as an input and shows that set's models, test images and class names.

Public mode (on a Space, where `SPACE_ID` is set, or with `python app.py --public`) is for anonymous
visitors sharing the process: no server folders, no host token, bounded training (`webapp.public`).
In every mode a visitor's own models stay in their session, model work shares one concurrency
limit, the queue refuses calls past `QUEUE_SIZE` at once, and uploads and outputs expire.
"""
import argparse
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
THREADS = max(1, int(os.environ.get("DEEPGEN_THREADS") or 1))
# torch.set_num_threads reaches only the thread that calls it: Gradio's worker threads would start
# OpenMP and MKL teams as wide as the machine. The environment, read before torch loads, reaches all.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))
# Gradio summarises its last GRADIO_ANALYTICS_MAX_EVENTS calls with pandas after every call (for its
# monitoring page): at the default 10 000 that costs more than a model call. Summarise seldom, keep few.
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "500")
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "500")

import gradio as gr  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(THREADS)

from starlette.middleware import Middleware  # noqa: E402

from deepgen import data  # noqa: E402
from webapp import components, preload, public, registry, session, uploads  # noqa: E402
from webapp.style import CSS, JS, THEME  # noqa: E402
from webapp.tabs import compare, draw, generate, latent, models, style  # noqa: E402

HEADER = """# deepgen · convolutional networks: applications
Autoencoders, VAEs, conditional VAEs, Siamese networks with metric-learning losses, GANs and VAE-GANs,
trained on MNIST's handwritten digits and on Fashion-MNIST's clothes. Pick a data set and a tab."""
# Calls running model work at once, over all listeners (training has its own limit): one per core,
# since each call uses one torch thread.
MODEL_WORKERS = int(os.environ.get("DEEPGEN_WORKERS") or min(8, os.cpu_count() or 1))
QUEUE_SIZE = 64            # calls waiting past this get Gradio's "busy, try again" at once
# Waiting visitors hear their place in the queue every second; Gradio's default tells every one of
# them each time any call starts, which under load costs more Python time than the calls themselves.
QUEUE_STATUS_EVERY = 1.0    # seconds
QUEUE_POLL = float(os.environ.get("DEEPGEN_QUEUE_POLL") or 0.005)   # seconds
DELETE_CACHE = (900, 3600)  # every 15 minutes, delete uploads and outputs older than an hour
# Gradio keeps a session state (about 0.5 MB here, built from every component's config) for each
# session it has seen, 10 000 by default: each API call without a session id is a new session.
SESSIONS_KEPT = 500


def forget_visitor(request: gr.Request):
    """When a visitor's page closes, their own models go."""
    registry.forget(registry.session_of(request))


def share_one_limit(demo, limit=MODEL_WORKERS):
    """Put every listener that runs Python (training, and the quick updates that make a tab follow
    the data-set switch, excepted) under one concurrency limit, so the whole app, not each
    endpoint, does at most `limit` calls at once."""
    for fn in demo.fns.values():
        if fn.fn is not None and fn.concurrency_id not in ("training", components.FOLLOW):
            fn.concurrency_id, fn.concurrency_limit = "model", limit


def dataset_switch():
    """The data-set switch under the header. Its value is the visitor's own (Gradio keeps a
    component's value per page), and every tab's callbacks take it as an input."""
    return gr.Radio([(d.title, d.name) for d in data.DATASETS.values()], value=data.DEFAULT,
                    label="Data set", info="Every tab shows the chosen data set: digits or clothes.",
                    elem_id="dataset", elem_classes=["dataset-switch"])


def build_demo(public_mode=None):
    """The app; `public_mode` (default: as `webapp.public` says) switches public mode first."""
    if public_mode is not None:
        public.enable(public_mode)
    with gr.Blocks(title="deepgen", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(HEADER)
        dataset = dataset_switch()
        with gr.Tabs(overflow_behavior="wrap"):         # on a phone every tab stays in sight
            with gr.Tab("Draw", id="draw") as tab:
                drawn = draw.build(tab, dataset)
            with gr.Tab("Latent space", id="latent") as tab:
                latent.build(tab, drawn.digit, dataset)
            with gr.Tab("Style transfer", id="style") as tab:
                style.build(tab, dataset)
            with gr.Tab("Compare", id="compare") as tab:
                compare.build(tab, dataset)
            with gr.Tab("Generate", id="generate") as tab:
                generate.build(tab, dataset)
            with gr.Tab("Models", id="models") as tab:
                models.build(demo, dataset, tab)
        components.follow_switch(dataset)
        demo.unload(forget_visitor)
    share_one_limit(demo)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=MODEL_WORKERS, status_update_rate=QUEUE_STATUS_EVERY)
    # Gradio's queue looks for work every millisecond, about a tenth of a core even when idle.
    demo._queue.sleep_when_free = max(demo._queue.sleep_when_free, QUEUE_POLL)
    return demo


def _public_from_command_line():
    if __name__ != "__main__":
        return None
    parser = argparse.ArgumentParser(description="Serve the deepgen web app.")
    parser.add_argument("--public", action="store_true",
                        help="public mode, as on a Hugging Face Space (also on when SPACE_ID is set)")
    args = parser.parse_args(sys.argv[1:])
    return True if args.public else None


demo = build_demo(_public_from_command_line())
_sweeper = None


def launch(blocks=None, **kwargs):
    """Launch `blocks` (default: `demo`) with the theme and CSS (which Gradio 6 takes in `launch`),
    and start sweeping idle sessions and old output files."""
    global _sweeper
    kwargs.setdefault("max_file_size", uploads.MAX_UPLOAD_BYTES)
    kwargs.setdefault("app_kwargs", {"middleware": [Middleware(uploads.BodyLimit)]})   # data: URLs, JSON bodies
    kwargs.setdefault("state_session_capacity", SESSIONS_KEPT)
    if _sweeper is None:
        _sweeper = session.start_sweeper(registry.STORE, also=(components.prune_pngs, registry.prune_exports))
    blocks = blocks or demo
    wait = not kwargs.pop("prevent_thread_lock", False)
    preload.start()         # load the bundled models and derived data while the server starts
    served = blocks.launch(theme=THEME, css=CSS, js=JS, prevent_thread_lock=True, **kwargs)
    if wait:
        blocks.block_thread()
    return served


if __name__ == "__main__":
    launch()
