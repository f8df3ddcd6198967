"""Warm the app up in the background as soon as it serves, so that no visitor's first click waits
for lazy loading: the bundled models, the MNIST test set and what is derived from them (test-set
embeddings, the manifold grid, the scatter), and one run of each tab's callback.

Tabs register their warm-up while the app is built (`register`, in tab order: the landing tab
first); `start()` runs them once, on one daemon thread. A request that comes before its model is
ready waits for the same load: the registry loads each model, and computes each cached value,
once under a lock. Nothing starts at import, so tests and scripts that only build the app load
nothing behind their back.
"""
import logging
import threading

import numpy as np

log = logging.getLogger("deepgen.app")

_tasks = []             # (name, fn) in the order they run
_thread = None
_lock = threading.Lock()


def register(name, fn):
    """Run `fn()` when the app warms up (its errors are logged, never raised)."""
    _tasks.append((name, fn))


def start():
    """Start warming up (once per process); returns the thread."""
    global _thread
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
    for name, fn in list(_tasks):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - a missing model is named by its tab, not here
            log.info("warm-up of %s skipped: %s", name, exc)


def sample_digit():
    """A drawn-looking "1" (28×28 uint8, white on black): input for warming the callbacks."""
    x = np.zeros((28, 28), np.uint8)
    x[4:24, 12:16] = 255
    return x
