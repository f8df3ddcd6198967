"""The models the app serves: the bundled ones, shared and read-only, and each visitor's own.

There is a slot per (data set, recipe). A bundled slot is filled lazily from
`recipes.bundled_path(recipe, dataset, root=$DEEPGEN_CHECKPOINTS)` (default `./checkpoints/<recipe>`
for MNIST, `./checkpoints/<dataset>/<recipe>` for the others) and never replaced from the web.
What a visitor trains, loads or uploads is kept in their session (`webapp.session`) and seen by
them alone: `get(slot, session, dataset)` gives the visitor's own model where there is one and
the bundled one otherwise. A model serves only the data set it was trained on. A failed load
keeps what was there. Derived data (test-set embeddings, plots) is cached per model object, so no
session sees data derived from another session's model, and each model's data comes from its
own data set (`dataset_of`).
"""
import os
import secrets
import tempfile
import threading
import time
import weakref
from pathlib import Path

import torch

import deepgen
from deepgen import CheckpointError, recipes
from deepgen import data as D
from deepgen.checkpoint import save_zip

from . import public
from .session import SessionStore

ENV_VAR = "DEEPGEN_CHECKPOINTS"
SLOTS = {name: (recipe.kind, recipe.description) for name, recipe in recipes.RECIPES.items()}   # one per recipe
SIAMESE_SLOTS = recipes.SIAMESE
ZIP_DIR = Path(tempfile.gettempdir()) / "deepgen-app" / "zips"
ZIP_MAX_AGE = 3600


class ModelMissing(LookupError):
    """No usable model in a slot; the message says how to get one."""


STORE = SessionStore()   # each visitor's own models, by (session, (data set, slot))
_models = {}             # (data set, slot) -> bundled model in eval mode
_failures = {}           # (data set, slot) -> (folder state, message) of the last failed automatic load
_cache = weakref.WeakKeyDictionary()   # model -> {key: value}; goes with the model
_computing = weakref.WeakKeyDictionary()   # model -> {key: lock held while that value is computed}
_exports = weakref.WeakKeyDictionary()    # model -> its checkpoint zip
_lock = threading.RLock()


def checkpoint_dir():
    return Path(os.environ.get(ENV_VAR) or "checkpoints")


def session_of(request):
    """The visitor's session id from a `gr.Request` (None outside a web call)."""
    return getattr(request, "session_hash", None) if request is not None else None


def dataset_name(dataset=None):
    """The data set a UI value names (None or "": MNIST); ValueError listing the names otherwise."""
    return D.get(dataset or D.DEFAULT).name


def dataset_of(model):
    """The name of the data set `model` was trained on."""
    return D.dataset_of(model).name


def train_command(slot, dataset=D.DEFAULT):
    """The command that trains the bundled checkpoint of `slot` on `dataset`."""
    dataset = dataset_name(dataset)
    folder = recipes.bundled_path(slot, dataset).as_posix()
    option = "" if dataset == D.DEFAULT else f" --dataset {dataset}"
    return f"python -m train {slot}{option} --out {folder}"


def _name(slot, dataset):
    """How a message names a slot: 'vae', or 'vae' for Fashion-MNIST."""
    return f"'{slot}'" if dataset == D.DEFAULT else f"'{slot}' for {D.get(dataset).title}"


def slot_for(name, loss=None):
    """The slot a training run of recipe `name` fills: the recipe's own."""
    return name


def check(slot, model, dataset=None):
    """Raise ValueError unless `model` can serve `slot` (its recipe says what it needs) on
    `dataset` (None: any data set deepgen knows)."""
    if slot not in SLOTS:
        raise ValueError(f"unknown slot '{slot}'; choose one of {', '.join(SLOTS)}")
    recipes.get(slot).check(model)
    trained_on = D.dataset_of(model)
    if dataset is not None and trained_on.name != dataset_name(dataset):
        wanted = D.get(dataset).title
        raise ValueError(f"this {model.kind} was trained on {trained_on.title}, not {wanted}: switch the data "
                         f"set to {trained_on.title} to use it, or give a checkpoint trained on {wanted}")


def _folder_state(folder):
    try:
        return tuple((folder / f).stat().st_mtime_ns for f in ("config.json", "model.safetensors"))
    except OSError:
        return None


def bundled(slot, dataset=D.DEFAULT):
    """The bundled model of `slot` on `dataset`, loaded on first use (a caller that comes during
    the load waits for it); else ModelMissing, whose message says how to train one."""
    dataset = dataset_name(dataset)
    key = (dataset, slot)
    model = _models.get(key)
    if model is not None:           # loaded: no waiting behind another slot's load
        return model
    with _lock:
        if key in _models:
            return _models[key]
        if slot not in SLOTS:
            raise ModelMissing(f"unknown model '{slot}'")
        folder = recipes.bundled_path(slot, dataset, root=checkpoint_dir())
        state = _folder_state(folder)
        failed = _failures.get(key)
        if failed and failed[0] == state:
            raise ModelMissing(failed[1])
        try:
            if state is None:
                raise FileNotFoundError
            model = deepgen.load(folder)
            check(slot, model, dataset)
            model = for_serving(model)
        except (FileNotFoundError, CheckpointError, ValueError) as exc:
            command = train_command(slot, dataset)
            message = (f"Checkpoint {_name(slot, dataset)} is missing — train it with `{command}` "
                       "(or load one in the Models tab).") if state is None else (
                       f"Checkpoint {_name(slot, dataset)} in {folder} cannot be used ({exc}) — retrain it "
                       f"with `{command}` (or load one in the Models tab).")
            _failures[key] = (state, message)
            raise ModelMissing(message) from None
        _models[key] = model
        return model


def get(slot, session=None, dataset=D.DEFAULT):
    """The visitor's own model in `slot` on `dataset` if they have one, else the bundled one
    (ModelMissing if neither is there)."""
    dataset = dataset_name(dataset)
    if session is not None:
        own = STORE.get(session, (dataset, slot))
        if own is not None:
            return own
    return bundled(slot, dataset)


def own(slot, session, dataset=D.DEFAULT):
    """The visitor's own model in `slot` on `dataset`, or None."""
    return STORE.get(session, (dataset_name(dataset), slot)) if session is not None else None


def for_serving(model):
    """Eval mode, convolution weights channels-last (CPU convolutions run about 1.5× faster)."""
    return model.eval().to(memory_format=torch.channels_last)


def available(slot, session=None, dataset=D.DEFAULT):
    try:
        get(slot, session, dataset)
        return True
    except ModelMissing:
        return False


def put(slot, model, session=None, dataset=None):
    """Make `model` the visitor's `slot` on the data set it was trained on, which must be
    `dataset` where one is given (checked first; TooLarge past their memory share). Without a
    session (scripts, tests) it replaces the bundled model of the process."""
    check(slot, model, dataset)
    key = (dataset_of(model), slot)
    model = for_serving(model)
    if session is not None:
        STORE.put(session, key, model)
        return model
    with _lock:
        _models[key] = model
        _failures.pop(key, None)
    return model


def load_into(slot, source, session=None, dataset=None):
    """Load a checkpoint folder, zip or Hub repo id into the visitor's `slot` (on `dataset`, if
    given: a checkpoint of another data set is refused); on any error what was there stays. In
    public mode only Hub ids `owner/name` are read, without the host's token, never a server path."""
    source = (source or "").strip()
    if not source:
        raise ValueError("Give a Hub repo id (owner/name)." if public.enabled() else
                         "Give a checkpoint folder or a Hub repo id (owner/name).")
    if public.enabled():
        model = deepgen.load(public.hub_id(source), public=True)
    else:
        model = deepgen.load(source)
    return put(slot, model, session, dataset)


def load_upload(slot, path, session=None, dataset=None):
    """Load an uploaded checkpoint zip into the visitor's `slot` (on `dataset`, if given)."""
    if not path or not Path(path).is_file():
        raise ValueError("Upload a checkpoint zip first (one made by Save).")
    model = deepgen.load(path)
    model.source = f"uploaded {Path(path).name}"
    return put(slot, model, session, dataset)


def export(slot, session=None, dataset=D.DEFAULT):
    """The visitor's model in `slot` on `dataset` as a checkpoint zip in a temporary folder (what
    `deepgen.load` and the upload read back). Nothing is written to the checkpoint folder, and
    a model is zipped once however often it is downloaded (until the zip expires)."""
    model = get(slot, session, dataset)
    with _lock:
        path = _exports.get(model)
    if path is not None and path.exists():
        return path
    config = getattr(model, "config", None) or {}
    prune_exports()
    folder = ZIP_DIR / secrets.token_hex(8)
    folder.mkdir(parents=True)
    name = slot if dataset_of(model) == D.DEFAULT else f"{dataset_of(model)}-{slot}"
    path = save_zip(model, folder / f"deepgen-{name}.zip", command=config.get("command"),
                    metrics=getattr(model, "metrics", None), description=config.get("description"),
                    training=config.get("training"))
    with _lock:
        _exports[model] = path
    return path


def prune_exports(max_age=ZIP_MAX_AGE):
    """Delete exported zips older than `max_age` seconds (Gradio serves its own copies)."""
    limit = time.time() - max_age
    try:
        folders = list(ZIP_DIR.iterdir())
    except OSError:
        return
    for folder in folders:
        try:
            if folder.stat().st_mtime < limit:
                for file in folder.iterdir():
                    file.unlink(missing_ok=True)
                folder.rmdir()
        except OSError:
            pass


def forget(session):
    """Back to the bundled models: drop everything the visitor holds."""
    return STORE.clear(session) if session is not None else 0


def memo(model, key, compute):
    """compute(model), computed once per model object and key (a caller that comes while it is
    computed waits for that computation rather than starting a second one)."""
    with _lock:
        if key in _cache.get(model, {}):
            return _cache[model][key]
        computing = _computing.setdefault(model, {}).setdefault(key, threading.Lock())
    with computing:
        with _lock:
            if key in _cache.get(model, {}):
                return _cache[model][key]
        value = compute(model)
        with _lock:
            _cache.setdefault(model, {})[key] = value
        return value


def cached(slot, key, compute, session=None, dataset=D.DEFAULT):
    """compute(model) for the model the visitor sees in `slot` on `dataset`, computed once per model."""
    return memo(get(slot, session, dataset), key, compute)


def reset():
    """Forget every loaded model, every session's models and every cache (tests; a new
    checkpoint folder)."""
    with _lock:
        _models.clear()
        _failures.clear()
        _cache.clear()
        _computing.clear()
        _exports.clear()
    STORE.clear_all()
