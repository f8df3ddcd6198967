"""The models the app serves, one per slot, held in this module (never in `gr.State`).

A slot is filled lazily from `$DEEPGEN_CHECKPOINTS/<slot>` (default `./checkpoints`), or by
loading a checkpoint folder or Hub repo, or by a training run. A failed load keeps the model
that was there. Derived data (test-set embeddings, plots) is cached per slot and per model.
"""
import os
import threading
from pathlib import Path

import torch

import deepgen
from deepgen import CheckpointError

ENV_VAR = "DEEPGEN_CHECKPOINTS"
SIAMESE_LOSSES = ["arcface", "cosface", "contrastive", "triplet", "softmax", "nsoftmax", "sphereface"]
SLOTS = {
    "classifier": ("classifier", "CNN digit classifier"),
    "ae": ("ae", "autoencoder"),
    "vae": ("vae", "variational autoencoder"),
    "vae2d": ("vae", "VAE with a 2-D latent space"),
    "cvae": ("cvae", "conditional VAE"),
    "gan": ("gan", "DCGAN"),
    "vaegan": ("vaegan", "VAE-GAN"),
    **{f"siamese-{loss}": ("siamese", f"Siamese network, {loss} loss") for loss in SIAMESE_LOSSES},
}
SIAMESE_SLOTS = [s for s in SLOTS if s.startswith("siamese-")]


class ModelMissing(LookupError):
    """No usable model in a slot; the message says how to get one."""


_models = {}        # slot -> model in eval mode
_failures = {}      # slot -> (folder state, message) of the last failed automatic load
_cache = {}         # (slot, key) -> (model, value)
_lock = threading.RLock()


def checkpoint_dir():
    return Path(os.environ.get(ENV_VAR) or "checkpoints")


def train_command(slot):
    if slot.startswith("siamese-"):
        return f"python -m train siamese --loss {slot.removeprefix('siamese-')} --out checkpoints/{slot}"
    return f"python -m train {slot} --out checkpoints/{slot}"


def slot_for(name, loss="arcface"):
    """The slot a training run of model `name` fills."""
    return f"siamese-{loss}" if name == "siamese" else name


def check(slot, model):
    """Raise ValueError unless `model` can serve `slot`."""
    if slot not in SLOTS:
        raise ValueError(f"unknown slot '{slot}'; choose one of {', '.join(SLOTS)}")
    kind = SLOTS[slot][0]
    if getattr(model, "kind", None) != kind:
        raise ValueError(f"slot '{slot}' needs a {kind} checkpoint, this one is a {getattr(model, 'kind', '?')}")
    if slot == "vae2d" and model.latent_dim != 2:
        raise ValueError(f"slot 'vae2d' needs a VAE with a 2-D latent space, this one has {model.latent_dim}")


def _folder_state(folder):
    try:
        return tuple((folder / f).stat().st_mtime_ns for f in ("config.json", "model.safetensors"))
    except OSError:
        return None


def get(slot):
    """The model in `slot`, loading the bundled checkpoint on first use; else ModelMissing."""
    with _lock:
        if slot in _models:
            return _models[slot]
        if slot not in SLOTS:
            raise ModelMissing(f"unknown model '{slot}'")
        folder = checkpoint_dir() / slot
        state = _folder_state(folder)
        failed = _failures.get(slot)
        if failed and failed[0] == state:
            raise ModelMissing(failed[1])
        try:
            if state is None:
                raise FileNotFoundError
            model = deepgen.load(folder)
            check(slot, model)
            model = for_serving(model)
        except (FileNotFoundError, CheckpointError, ValueError) as exc:
            message = (f"Checkpoint '{slot}' is missing — train it with `{train_command(slot)}` "
                       "(or load one in the Models tab).") if state is None else (
                       f"Checkpoint '{slot}' in {folder} cannot be used ({exc}) — retrain it with "
                       f"`{train_command(slot)}` (or load one in the Models tab).")
            _failures[slot] = (state, message)
            raise ModelMissing(message) from None
        _models[slot] = model
        return model


def for_serving(model):
    """Eval mode, convolution weights channels-last (CPU convolutions run about 1.5× faster)."""
    return model.eval().to(memory_format=torch.channels_last)


def available(slot):
    try:
        get(slot)
        return True
    except ModelMissing:
        return False


def put(slot, model):
    """Make `model` the one every tab uses for `slot` (checked first)."""
    check(slot, model)
    model = for_serving(model)
    with _lock:
        _models[slot] = model
        _failures.pop(slot, None)


def load_into(slot, source):
    """Load a checkpoint folder or Hub repo id into `slot`; on any error the current model stays."""
    source = (source or "").strip()
    if not source:
        raise ValueError("Give a checkpoint folder or a Hub repo id (owner/name).")
    model = deepgen.load(source)
    check(slot, model)
    put(slot, model)
    return model


def cached(slot, key, compute):
    """compute(model) for the current model of `slot`, computed once per model."""
    model = get(slot)
    hit = _cache.get((slot, key))
    if hit is not None and hit[0] is model:
        return hit[1]
    value = compute(model)
    _cache[(slot, key)] = (model, value)
    return value


def reset():
    """Forget every loaded model and cache (tests; a new checkpoint folder)."""
    with _lock:
        _models.clear()
        _failures.clear()
        _cache.clear()
