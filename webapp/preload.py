"""Warm the app up in the background while it starts serving, so that no visitor's first click waits
for lazy loading: the bundled models, the test sets and what is derived from them (test-set
embeddings, the manifold grid, the scatter), and one run of each tab's callback.

Tabs register their warm-up while the app is built (`register`, in tab order: the landing tab
first). `start()` runs them once, WORKERS at a time (each model call uses one core), the heavy
ones first: every tab on MNIST first, then, for the other data sets, the tabs whose warm-up takes a
data set (`each_dataset`), skipping data sets with no bundled checkpoint at all. A request that
comes before its model is ready waits for the same load: the registry loads each model, and
computes each cached value, once under a lock. Nothing starts at import, so tests and scripts
that only build the app load nothing behind their back.
"""
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from deepgen import data, recipes

log = logging.getLogger("deepgen.app")

ENV_VAR = "DEEPGEN_PRELOAD"
WORKERS = min(4, os.cpu_count() or 1)   # warm-ups at once: they run while the app waits for its first visitors
_tasks = []             # (name, fn, each_dataset, heavy) in the order the tabs registered them
_thread = None
_lock = threading.Lock()


def register(name, fn, each_dataset=False, heavy=False):
    """Run `fn()` when the app warms up, or with `each_dataset` `fn(dataset)` for MNIST and then,
    after every tab's MNIST warm-up, for each other data set that has a bundled checkpoint (its
    errors are logged, never raised). `heavy` warm-ups (seconds of derived data) start first,
    on every core at once; a light one a visitor needs sooner costs a request little if it comes
    later."""
    _tasks.append((name, fn, each_dataset, heavy))


def plan(datasets=None):
    """The warm-ups in the order they start: [(name, fn, dataset or None)]. MNIST's (and the
    warm-ups that take no data set) come first, then each other data set's; within each, the
    heavy ones first, else in the order the tabs registered them."""
    datasets = [d for d in (datasets if datasets is not None else data.DATASETS) if d != data.DEFAULT]
    ordered = sorted(_tasks, key=lambda task: not task[3])
    first = [(name, fn, data.DEFAULT if each else None) for name, fn, each, _ in ordered]
    later = [(name, fn, d) for d in datasets for name, fn, each, _ in ordered if each]
    return first + later


def has_checkpoints(dataset):
    """Whether any bundled checkpoint of `dataset` is there to warm."""
    from . import registry
    root = registry.checkpoint_dir()
    return any((recipes.bundled_path(name, dataset, root=root) / "config.json").is_file()
               for name in recipes.RECIPES)


def start():
    """Start warming up (once per process; never where `$DEEPGEN_PRELOAD` is 0, as for tests that
    time the app's own answers); returns the thread, or None."""
    global _thread
    if os.environ.get(ENV_VAR, "1").strip() == "0":
        return None
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_run, name="deepgen-preload", daemon=True)
            _thread.start()
    return _thread


def wait(timeout=None):
    """Block until the warm-up is done (True), or `timeout` seconds pass (False)."""
    thread = _thread
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()


def _run():
    """Take the warm-ups in plan order on WORKERS threads (each model call uses one core)."""
    present = {}
    queue = []
    for name, fn, dataset in plan():
        if dataset not in (None, data.DEFAULT):
            if dataset not in present:
                present[dataset] = has_checkpoints(dataset)
            if not present[dataset]:
                continue
        queue.append((name, fn, dataset))
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="deepgen-preload") as pool:
        for _ in pool.map(_warm, queue):
            pass


def _warm(task):
    name, fn, dataset = task
    try:
        fn() if dataset is None else fn(dataset)
    except Exception as exc:  # noqa: BLE001 - a missing model is named by its tab, not here
        log.info("warm-up of %s (%s) skipped: %s", name, dataset or "mnist", exc)


def sample_digit():
    """A drawn-looking "1" (28×28 uint8, white on black): input for warming the callbacks."""
    x = np.zeros((28, 28), np.uint8)
    x[4:24, 12:16] = 255
    return x
