"""A sketchpad's value → an MNIST digit, and the limits on what a sketch payload may hold.

Gradio's sketchpad (an ImageEditor) hands callbacks {"background", "layers", "composite"}. It
draws on a transparent canvas, so the ink is the alpha channel of the RGBA composite; a composite
without transparency (a picture sent by a program) is read as an upload. Every canvas is shrunk
before anything else looks at it, so a huge one costs no full-size pass.

The browser sends a drawing to the component's `accept_blobs` server function (one PNG per
layer, the background and the composite) and then an `{"id": ...}` payload; a program may send
files instead. `check_payload` and `guard_blobs` bound both before Gradio decodes anything.
"""
import threading

import numpy as np

from deepgen.preprocess import (
    INK, MAX_DECODED_BYTES, MIN_CONTRAST, InputError, from_image, mnist_style, open_image, reduce_array, shrink)

from .rebuilt import override

MAX_LAYERS = 4
MAX_PENDING_BYTES = 64 * 2**20   # drawings sent to accept_blobs and not (yet) used, all sessions
COVERED = 0.98                  # a canvas with more ink than this fraction is covered, not a digit
EMPTY = "The canvas is empty: draw a digit."
BLANK = "The canvas is blank: draw a digit."
COVERED_MESSAGE = "The canvas is covered in ink: clear it and draw a digit."


def from_sketch(value):
    """A sketchpad value {"background", "layers", "composite"} (or a bare image) → 1×1×28×28.
    Without a composite, the layer with the most ink is the drawing."""
    if value is None:
        raise InputError(EMPTY)
    composite = value
    if isinstance(value, dict):
        layers = [layer for layer in value.get("layers") or [] if layer is not None]
        check_layers(len(layers))
        composite = value.get("composite")
        if composite is None and layers:
            composite = max((canvas(layer) for layer in layers), key=_inked)
    if composite is None:
        raise InputError(EMPTY)
    return from_canvas(canvas(composite))


def check_layers(count):
    if count > MAX_LAYERS:
        raise InputError(f"A drawing has at most {MAX_LAYERS} layers, not {count}.")


def canvas(image):
    """A canvas (array, PIL image, path or bytes) as a uint8 array, shrunk to the working size."""
    if isinstance(image, np.ndarray):
        return reduce_array(image)
    return np.asarray(shrink(open_image(image)))


def _inked(array):
    return 0 if array.ndim < 3 or array.shape[2] != 4 else int((array[..., 3] > 0).sum())


def from_canvas(array):
    """A shrunk canvas → 1×1×28×28: the alpha channel where the canvas is transparent anywhere,
    otherwise the picture as an upload."""
    if array.ndim == 3 and array.shape[2] == 4 and array[..., 3].min() < 255:
        ink = array[..., 3].astype(np.float32) / 255.0
        if (ink > INK).mean() > COVERED:
            raise InputError(COVERED_MESSAGE)
        return mnist_style(ink, BLANK)
    if array.ndim == 3 and array.shape[2] == 4:
        rgb = array[..., :3]
        if int(rgb.max()) - int(rgb.min()) < MIN_CONTRAST * 255 and rgb.mean() < 128:
            raise InputError(COVERED_MESSAGE)           # opaque and dark all over: the brush's ink
    return from_image(array)


# --- limits on payloads, before Gradio decodes them ---------------------------------------------

def check_payload(payload, blob_storage=None, budget=MAX_DECODED_BYTES):
    """InputError if a sketchpad payload (Gradio's EditorData) holds more than MAX_LAYERS layers or
    more than `budget` bytes once all its pictures are decoded as RGBA; reads headers only."""
    if payload is None:
        return
    if getattr(payload, "id", None) is not None:
        cached = (blob_storage or {}).get(payload.id)
        if cached is None:
            return
        background, layers, composite = cached.background, cached.layers, cached.composite
    else:
        background, layers, composite = payload.background, payload.layers, payload.composite
    layers = [layer for layer in layers or [] if layer is not None]
    check_layers(len(layers))
    total = 0
    for part in (background, *layers, composite):
        if part is not None:
            pil = open_image(part if isinstance(part, (bytes, bytearray)) else part.path, budget, reduce=False)
            total += pil.width * pil.height * 4
            pil.close()
    if total > budget:
        raise InputError(f"The drawing is too large: its pictures hold {total // 2**20} MB decoded, "
                         f"at most {budget // 2**20} MB.")


def guard_blobs(component, max_bytes=MAX_PENDING_BYTES):
    """Bound the sketchpad's `accept_blobs` server function: a layer index below MAX_LAYERS, one
    picture within the decoding budget per call, and at most `max_bytes` of drawings held for
    payloads that never come (the oldest are dropped)."""
    from fastapi import HTTPException

    original, lock = component.accept_blobs, threading.Lock()

    def accept_blobs(data):
        kind, index = data.data.get("type"), data.data.get("index")
        if kind not in ("background", "layer", "composite"):
            raise HTTPException(400, "A drawing part is a background, a layer or a composite.")
        if kind == "layer":
            try:
                index = int(index)
            except (TypeError, ValueError):
                raise HTTPException(400, "A layer needs its index.") from None
            if not 0 <= index < MAX_LAYERS:
                raise HTTPException(413, f"A drawing has at most {MAX_LAYERS} layers.")
        if len(data.files) != 1:
            raise HTTPException(400, "Send one picture per call.")
        try:
            open_image(data.files[0][1], reduce=False).close()
        except InputError as exc:
            raise HTTPException(413 if "too large" in str(exc) else 400, str(exc)) from None
        with lock:
            result = original(data)
            _drop_oldest(component.blob_storage, max_bytes)
        return result

    accept_blobs._is_server_fn = True
    override(component, "accept_blobs", accept_blobs)
    return component


def _drop_oldest(storage, max_bytes):
    def size(blobs):
        parts = (blobs.background, blobs.composite, *blobs.layers)
        return sum(len(p) for p in parts if p is not None)

    ids = list(storage)
    sizes = {key: size(blobs) for key in ids if (blobs := storage.get(key)) is not None}
    total = sum(sizes.values())
    for key in ids[:-1]:                # the newest drawing stays
        if total <= max_bytes:
            break
        if storage.pop(key, None) is not None:
            total -= sizes.get(key, 0)
