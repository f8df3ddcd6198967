"""Public mode: the app hosted for anonymous visitors who share one process (a Hugging Face
Space, or `python app.py --public`); off for `python app.py` on one's own machine.

In public mode nothing a visitor does reads the server's folders or uses the host's Hub token,
and training runs are bounded: a budget of images × epochs per run, one run per visitor, and
`TRAINING_RUNS` at once in the whole process. A run that finds no free place is refused at once
rather than queued, so nobody can line up hours of training ahead of other visitors.
"""
import os
import re
import threading
from contextlib import contextmanager

from gradio.utils import get_space

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
# Images × epochs of one run: about 2.5 minutes of one core for the GAN, the slowest per image.
TRAIN_BUDGET = 15_000
TRAINING_RUNS = 1          # runs at once in the whole process

_public = bool(os.environ.get("SPACE_ID"))
_training = set()           # sessions with a run going
_lock = threading.Lock()
_places = threading.BoundedSemaphore(TRAINING_RUNS)


class Refused(ValueError):
    """Something public mode does not allow; the message says what is possible instead."""


def enabled():
    return _public


def enable(on=True):
    """Switch public mode (app start-up; tests)."""
    global _public
    _public = bool(on)


def on_space():
    """True on a Hugging Face Space, the one place where Gradio's Hub sign-in is real (elsewhere
    Gradio only mocks it)."""
    return get_space() is not None


def hub_id(source):
    """`source` stripped if it is a Hub repo id `owner/name`; else Refused."""
    source = (source or "").strip()
    if not HUB_ID.match(source) or ".." in source:
        raise Refused(f"'{source[:100]}' is not a Hub repo id. This public demo loads models only from "
                      "the Hugging Face Hub, written as owner/name (or upload a checkpoint zip).")
    return source


def check_budget(epochs, images):
    if epochs * images > TRAIN_BUDGET:
        raise Refused(f"In this public demo a run may use at most {TRAIN_BUDGET:,} images × epochs "
                      f"(e.g. {TRAIN_BUDGET // 5:,} images for 5 epochs); this one asks for "
                      f"{epochs * images:,}. Run `python -m train` on your own machine for longer runs.")


@contextmanager
def one_run(session):
    """Hold the visitor's single training run and one of the process's places for runs;
    Refused at once while they have a run going or every place is taken."""
    with _lock:
        if session in _training:
            raise Refused("You already have a training run going: wait for it to finish, or stop it.")
        if not _places.acquire(blocking=False):
            raise Refused(f"The trainer is busy ({TRAINING_RUNS} run{'s' if TRAINING_RUNS > 1 else ''} at "
                          "a time in this public demo): try again in a few minutes.")
        _training.add(session)
    try:
        yield
    finally:
        with _lock:
            _training.discard(session)
            _places.release()
