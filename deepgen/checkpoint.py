"""Checkpoints: a folder with `model.safetensors`, `config.json` (written by huggingface_hub's
`PyTorchModelHubMixin`), `metrics.json` and a model card `README.md` with the training command.

`load` reads a local folder, a zip of one, or a Hugging Face Hub repo id, and treats each as
coming from a stranger: it never unpickles, and it checks the config against limits and the
weights' names, shapes and dtypes against the safetensors header before it allocates anything.

A GAN's training adds `timelapse.safetensors` (`deepgen.timelapse`): optional, read as safely,
and a model without a readable one loads all the same.

`save` cannot leave a corrupt folder: it writes a unique temporary sibling folder under a lock
per destination (threads and processes), then swaps it into place; `recover` rolls back what a
killed save left behind."""
import fcntl
import inspect
import json
import math
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import types
import typing
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import torch

from . import timelapse as T
from .recipes import model_classes

FILES = ["config.json", "model.safetensors", "metrics.json", "README.md"]
OPTIONAL_FILES = [T.FILE]   # written where the model has one, taken along where present
ALL_FILES = FILES + OPTIONAL_FILES
MODEL_CLASSES = model_classes()   # kind -> class, for every class a recipe trains

MAX_PARAMETERS = 30_000_000      # the biggest bundled model has about 2.6 million
MAX_INT_ARGUMENT = 1 << 20       # any integer constructor argument (a width, a size, a count)
MAX_FLOAT_ARGUMENT = 1e6
MAX_JSON_BYTES = 1_000_000       # config.json and metrics.json
MAX_HEADER_BYTES = 1_000_000     # the JSON header of model.safetensors
MAX_STRING = 20_000              # characters of any string in config.json
MAX_METRIC = 1e12                # larger magnitudes overflow the arithmetic that uses them
MAX_METRICS = 100
MAX_ZIP_BYTES = 200_000_000      # a checkpoint zip, packed and unpacked; also a Hub download

REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")

# safetensors dtype names → torch dtypes
DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
          "U8": torch.uint8, "BOOL": torch.bool}


class CheckpointError(RuntimeError):
    pass


# --- saving ---

def save(model, folder, *, command=None, metrics=None, description=None, training=None, half=True):
    """Write `model` as a checkpoint folder and return its path.

    `command` is the one command that trained it, `training` the resolved training
    configuration (a dict), both shown on the model card. `half` stores float32 tensors as
    float16, like the bundled checkpoints (`load` casts them back). The model's `timelapse`
    (set by training and by `load`), where it has frames, goes to timelapse.safetensors.

    The files go to a unique temporary sibling folder that is then swapped into place, under a
    lock on the destination, so concurrent or interrupted saves never leave a half-written
    folder; files beside the checkpoint (previews) are kept."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    config = {**(model._hub_mixin_config or {}), "kind": model.kind,
              "weights_dtype": "float16" if half else "float32"}
    if command:
        config["command"] = command
    if description:
        config["description"] = description
    if training is not None:
        config["training"] = _plain_training(training)
    _check_config(config, f"the config to save in {folder}")  # never write what `load` refuses
    metrics = metrics or {}
    with _destination_lock(folder):
        _recover(folder)
        tmp = _sibling(folder, "saving")
        tmp.mkdir()
        try:
            model.save_pretrained(tmp, config=config)
            if half:
                _halve_weights(tmp / "model.safetensors")
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
            (tmp / "README.md").write_text(model_card(folder.name, config, metrics, description))
            if getattr(model, "timelapse", None):
                model.timelapse.save(tmp / T.FILE)
            _sync(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _swap(tmp, folder)
    return folder


def save_zip(model, path, **save_options):
    """Write `model` as a zip of a checkpoint folder (what `load` and the app's upload read
    back); `save_options` are those of `save`. Returns the zip's path."""
    path = Path(path)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).strip(".") or "checkpoint"
    partial = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    with tempfile.TemporaryDirectory() as tmp:
        folder = save(model, Path(tmp) / name, **save_options)
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in ALL_FILES:
                    if file in FILES or (folder / file).is_file():
                        archive.write(folder / file, f"{name}/{file}")
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return path


def _plain_training(training):
    if not isinstance(training, dict):
        raise TypeError(f"training must be a dict of settings, not {type(training).__name__}")
    try:
        return json.loads(json.dumps(training, allow_nan=False, default=str))
    except ValueError as exc:
        raise ValueError(f"training settings must be finite JSON values: {exc}") from None


def _halve_weights(path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(path))
    save_file({k: v.half() if v.dtype == torch.float32 else v for k, v in state.items()},
              str(path), metadata={"format": "pt"})


def _sibling(folder, stage):
    """A fresh name beside `folder`, unique to this process, thread and call."""
    return folder.with_name(f".{folder.name}.{stage}-{os.getpid()}-{threading.get_ident()}-"
                            f"{secrets.token_hex(4)}")


def _swap(tmp, folder):
    """Move the previous checkpoint aside, put `tmp` in its place, delete the previous one.
    Any failure on the way rolls back to the previous checkpoint."""
    old = None
    try:
        if folder.exists():
            _move_extras(folder, tmp)
            old = _sibling(folder, "old")
            folder.rename(old)
        tmp.rename(folder)
        _sync(folder.parent)
    except Exception as exc:
        _recover(folder)
        raise CheckpointError(f"could not save {folder} ({type(exc).__name__}: {exc}); "
                              "the checkpoint that was there is unchanged") from exc
    except BaseException:
        _recover(folder)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _move_extras(source, target):
    """Move what is not a checkpoint file (previews, notes) from `source` into `target`, unless
    `target` already has an entry of that name."""
    for entry in source.iterdir():
        if entry.name not in ALL_FILES and not os.path.lexists(target / entry.name):
            entry.rename(target / entry.name)


def _sync(path):
    """Flush a folder (and its checkpoint files) to disk, so a power cut cannot undo a swap."""
    for file in ALL_FILES:
        if (path / file).is_file():
            fd = os.open(path / file, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- locking and recovery ---

_locks = {}                  # destination → [threading.Lock, number of users]
_locks_guard = threading.Lock()


@contextmanager
def _destination_lock(folder):
    """Serialise everything that writes `folder`: a threading lock for this process and an
    `flock` on a sibling `.NAME.lock` file for other processes (removed again afterwards)."""
    folder = Path(os.path.realpath(folder.parent)) / folder.name
    key = str(folder)
    with _locks_guard:
        entry = _locks.setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            lock_file = folder.with_name(f".{folder.name}.lock")
            fd = _flock(lock_file)
            try:
                yield
            finally:
                lock_file.unlink(missing_ok=True)
                os.close(fd)
    finally:
        with _locks_guard:
            entry[1] -= 1
            if not entry[1]:
                del _locks[key]


def _flock(path):
    """An exclusive `flock` on `path`. A holder deletes the file before it lets go, so a waiter
    that then wins a lock on the deleted file tries again on the current one."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held, current = os.fstat(fd), os.stat(path)
            if (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino):
                return fd
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<stage>saving|old)-\d+(?:-\d+-[0-9a-f]+)?")


def recover(parent_folder):
    """Clean up after saves that were killed in `parent_folder`: for each checkpoint with
    leftover `.NAME.saving-*` or `.NAME.old-*` folders, restore the previous checkpoint where
    NAME is missing or incomplete, keep NAME where it is complete, move files beside the
    checkpoint (previews) back, and delete the leftovers. Returns {destination: what was done}
    ("kept", "restored", or "removed" where nothing could be restored)."""
    parent = Path(parent_folder)
    if not parent.is_dir():
        return {}
    names = {m["name"] for e in parent.iterdir() if (m := LEFTOVER.fullmatch(e.name))}
    done = {}
    for name in sorted(names):
        with _destination_lock(parent / name):
            action = _recover(parent / name)
        if action:
            done[parent / name] = action
    return done


def _recover(folder):
    """`recover` for one destination; the caller holds its lock. A save is done when its new
    folder has taken NAME; anything short of that rolls back to the previous checkpoint."""
    leftovers = [e for e in folder.parent.iterdir()
                 if (m := LEFTOVER.fullmatch(e.name)) and m["name"] == folder.name]
    if not leftovers:
        return None
    leftovers.sort(key=lambda e: e.lstat().st_mtime, reverse=True)
    action = "kept"
    if not _complete(folder):
        previous = [e for e in leftovers if ".old-" in e.name and _complete(e)]
        if previous:
            if os.path.lexists(folder):
                aside = _sibling(folder, "old")
                folder.rename(aside)
                if aside.is_dir() and not aside.is_symlink():
                    _move_extras(aside, previous[0])
                leftovers.append(aside)
            previous[0].rename(folder)
            action = "restored"
        else:
            action = "removed"
    for entry in leftovers:
        if not os.path.lexists(entry):
            continue
        if entry.is_dir() and not entry.is_symlink():
            if folder.is_dir() and not folder.is_symlink():
                _move_extras(entry, folder)
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return action


def _complete(folder):
    """Whether `folder` holds a readable config and weights whose header matches their size."""
    if not folder.is_dir() or folder.is_symlink():
        return False
    try:
        read_config(folder)
        read_header(folder / "model.safetensors")
    except CheckpointError:
        return False
    return True


# --- the model card and metrics ---

def model_card(name, config, metrics, description=None):
    """The README.md of a checkpoint: Hub metadata, what it is, how to load it, the training
    command and configuration, and the metrics."""
    from huggingface_hub import ModelCard, ModelCardData

    from .data import DATASETS, DEFAULT

    kind, command, training = config["kind"], config.get("command"), config.get("training")
    class_name = MODEL_CLASSES[kind].__name__
    dataset = DATASETS.get(str((training or {}).get("dataset") or DEFAULT))   # None: one this deepgen lacks
    title = dataset.title if dataset else "an unknown data set"
    data = ModelCardData(library_name="deepgen", license="mit",
                         tags=[*([dataset.name] if dataset else []), "deepgen", kind, "pytorch_model_hub_mixin"])
    description = (description or config.get("description")
                   or f"A `{class_name}` ({kind}) trained on {title} by deepgen.")
    sections = [f"# deepgen `{name}`", description,
                "## How to load", _fence('import deepgen\n\nmodel = deepgen.load("path-or-repo-id")', "python")]
    if command:
        sections += ["## Training command", _fence(command)]
    if training:
        sections += ["## Training configuration", _fence(json.dumps(training, indent=2, sort_keys=True), "json")]
    if metrics:
        rows = [f"| {str(k).replace('|', '/')} | {_format_metric(v)} |" for k, v in sorted(metrics.items())]
        sections += [f"## Metrics ({title} test set, `python -m train.evaluate`)",
                     "\n".join(["| metric | value |", "|---|---|", *rows])]
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n"))


def _fence(text, language=""):
    ticks = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{ticks}{language}\n{text}\n{ticks}"


def _format_metric(value):
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


def write_metrics(folder, metrics):
    """Replace metrics.json and the card's table (atomically, file by file)."""
    folder = Path(folder)
    with _destination_lock(folder):
        _atomic_write(folder / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        _atomic_write(folder / "README.md", model_card(folder.name, read_config(folder), metrics))


def _atomic_write(path, text):
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_metrics(folder):
    """metrics.json as {name: finite number}; anything else in the file (strings, NaN, huge
    magnitudes, a list instead of a dict, broken JSON) is left out, so a hostile file cannot
    break the pages that show or compute with these numbers. Magnitudes are capped at
    `MAX_METRIC` because a finite -1e308 still overflows `exp` and products."""
    try:
        metrics = json.loads(_read_small(Path(folder) / "metrics.json"))
    except (CheckpointError, OSError, ValueError, RecursionError):
        return {}
    if not isinstance(metrics, dict):
        return {}
    clean = {k: v for k, v in metrics.items()
             if len(k) <= 100 and isinstance(v, (int, float)) and not isinstance(v, bool)
             and abs(v) <= MAX_METRIC}  # also false for NaN
    return dict(list(clean.items())[:MAX_METRICS])


# --- reading and validating ---

def _read_small(path, limit=MAX_JSON_BYTES):
    """The text of a regular file of at most `limit` bytes (never a device, pipe or folder)."""
    try:
        with _open_regular(path) as file:
            size = os.fstat(file.fileno()).st_size
            if size > limit:
                raise CheckpointError(f"{path} is {size:,} bytes, over the limit of {limit:,}")
            data = file.read(limit + 1)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: not a deepgen checkpoint") from None
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise CheckpointError(f"{path} is over the limit of {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{path} is not UTF-8 text: {exc}") from None


# constructor arguments renamed since checkpoints were first written: kind → {old: new}
RENAMED_ARGUMENTS = {"gan": {"z_dim": "latent_dim"}}


def _open_regular(path):
    """`path` opened for reading if it is a regular file; a pipe or device is refused without
    blocking on it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CheckpointError(f"{path} is not a regular file")
    return os.fdopen(fd, "rb")


def read_config(folder):
    """config.json, checked: a known kind, JSON scalars everywhere (the training settings
    excepted), and constructor arguments of the right types within limits."""
    path = Path(folder) / "config.json"
    try:
        config = json.loads(_read_small(path))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or config.get("kind") not in MODEL_CLASSES:
        raise CheckpointError(f"{path} names no known model kind (one of {', '.join(MODEL_CLASSES)})")
    for old, new in RENAMED_ARGUMENTS.get(config["kind"], {}).items():
        if old in config and new not in config:
            config[new] = config.pop(old)
    _check_config(config, path)
    return config


def _check_config(config, path):
    parameters = _parameters(MODEL_CLASSES[config["kind"]])
    for key, value in config.items():
        if key == "training":
            if not isinstance(value, dict) or len(json.dumps(value)) > MAX_STRING:
                raise CheckpointError(f"{path}: 'training' must be a small dict of settings")
        elif key in parameters:
            problem = _argument_problem(value, parameters[key])
            if problem:
                raise CheckpointError(f"{path}: '{key}' = {_short(value)} is not {problem}")
        elif not _scalar(value):
            raise CheckpointError(f"{path}: '{key}' must be a number, a string, true/false or null")
    if config.get("weights_dtype", "float32") not in ("float32", "float16"):
        raise CheckpointError(f"{path}: weights_dtype must be float32 or float16")


def _parameters(cls):
    return {name: p for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _scalar(value):
    if isinstance(value, str):
        return len(value) <= MAX_STRING
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (bool, int))


def _argument_problem(value, parameter):
    """What a constructor argument should be, if `value` is not that; else None."""
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        default = parameter.default
        annotation = type(default) if default not in (inspect.Parameter.empty, None) else None
    allowed = (typing.get_args(annotation) if isinstance(annotation, types.UnionType)
               or typing.get_origin(annotation) is typing.Union else (annotation,))
    problems = []
    for kind in allowed:
        if kind is None or kind is type(None):
            if value is None:
                return None
            problems.append("null")
        elif kind is bool:
            if isinstance(value, bool):
                return None
            problems.append("true/false")
        elif kind is int:
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT_ARGUMENT:
                return None
            problems.append(f"a whole number from 0 to {MAX_INT_ARGUMENT:,}")
        elif kind is float:
            if (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and abs(value) <= MAX_FLOAT_ARGUMENT):  # also false for NaN
                return None
            problems.append(f"a number within ±{MAX_FLOAT_ARGUMENT:g}")
        elif kind is str:
            if isinstance(value, str) and len(value) <= 100:
                return None
            problems.append("a short string")
        elif _scalar(value) and value is not None:
            return None
    return " or ".join(problems) or "a number, string or true/false"


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_header(path):
    """The tensors a safetensors file declares, {name: (dtype, shape)}, read from its header
    alone and checked against the file's size."""
    return _read_weights(path)[0]


def _read_weights(path, check=None, data=False):
    """({name: (dtype, shape)} from the header, the file's bytes if `data`), from one open file.
    `check(tensors)` runs on the header before the size is checked or any data is read."""
    path = Path(path)
    try:
        with _open_regular(path) as file:
            size = os.fstat(file.fileno())
            prefix = file.read(8)
            length = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
            if not 2 <= length <= MAX_HEADER_BYTES:
                raise CheckpointError(f"{path} is not a readable safetensors file: its header length "
                                      f"is {length:,}, not between 2 and {MAX_HEADER_BYTES:,} bytes")
            tensors, end = _parse_header(path, file.read(length))
            if check is not None:
                check(tensors)
            if size.st_size != 8 + length + end:
                raise CheckpointError(f"{path} is {size.st_size:,} bytes but its header describes "
                                      f"{8 + length + end:,}: truncated or not a safetensors file")
            if data:
                file.seek(0)
                return tensors, file.read(size.st_size)
            return tensors, None
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror or exc}") from None


def _parse_header(path, raw):
    """({name: (dtype, shape)}, end of the data) from a safetensors header, each entry checked."""
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a readable safetensors file: its header is not a dict")
    header.pop("__metadata__", None)
    tensors, end = {}, 0
    for name, entry in header.items():
        try:
            dtype = DTYPES[entry["dtype"]]
            shape, (begin, stop) = entry["shape"], entry["data_offsets"]
            numbers = [*shape, begin, stop]
            if (not isinstance(shape, list) or len(shape) > 8
                    or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers)
                    or stop - begin != math.prod(shape) * dtype.itemsize):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path} is not a readable safetensors file: the header's entry "
                                  f"for '{_short(name)[1:-1]}' is malformed") from None
        tensors[name] = (dtype, tuple(shape))
        end = max(end, stop)
    return tensors, end


def _skeleton(cls, arguments, config_path):
    """The model built on the `meta` device (no memory for its tensors), refused if too big."""
    try:
        with torch.device("meta"):
            skeleton = cls(**arguments)
    except Exception as exc:
        raise CheckpointError(f"{config_path} does not describe a valid {cls.__name__}: {exc}") from None
    size = sum(t.numel() for t in (*skeleton.parameters(), *skeleton.buffers()))
    if size > MAX_PARAMETERS:
        raise CheckpointError(f"{config_path} describes a {cls.__name__} of {size:,} parameters, over "
                              f"the limit of {MAX_PARAMETERS:,}")
    return skeleton


def _check_header(weights, header, skeleton):
    """Refuse a weights header that does not name exactly the model's tensors with their shapes
    (and a float dtype for float tensors)."""
    expected = skeleton.state_dict()
    missing = [k for k in expected if k not in header]
    unexpected = [k for k in header if k not in expected]
    misshapen = [f"{k} is {list(header[k][1])}, the model needs {list(t.shape)}"
                 for k, t in expected.items() if k in header and header[k][1] != tuple(t.shape)]
    wrong_type = [f"{k} is {header[k][0]}, the model needs {t.dtype}" for k, t in expected.items()
                  if k in header and header[k][0].is_floating_point != t.dtype.is_floating_point]
    problems = [f"{label}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
                for label, items in (("missing tensors", missing), ("unexpected tensors", unexpected),
                                     ("wrong shapes", misshapen), ("wrong dtypes", wrong_type)) if items]
    if problems:
        raise CheckpointError(f"{weights} does not match config.json ({type(skeleton).__name__}): "
                              + "; ".join(problems))


# --- loading ---

def valid_repo_id(repo_id):
    """Whether `repo_id` is a plain Hub id `owner/name` (no path, URL or revision)."""
    return (isinstance(repo_id, str) and REPO_ID.fullmatch(repo_id) is not None
            and ".." not in repo_id and "--" not in repo_id and not repo_id.endswith(".git"))


def resolve(path_or_repo_id, *, token=None, public=False):
    """A local folder as is; otherwise a Hub repo id, downloaded (only the checkpoint files above).

    `token` is sent to the Hub: a string, `False` for none, `None` for the host's own login.
    `public=True` is for ids typed by strangers: local paths are never read, the id must be
    `owner/name`, and no token is sent unless one is given."""
    if public:
        if not valid_repo_id(str(path_or_repo_id)):
            raise CheckpointError(f"'{_short(str(path_or_repo_id))[1:-1]}' is not a Hub repo id: "
                                  "write it as owner/name")
        return _download(str(path_or_repo_id), False if token is None else token)
    p = Path(path_or_repo_id).expanduser()
    if p.is_dir():
        return p
    return _download(str(path_or_repo_id), token)


def _download(repo_id, token):
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import (HFValidationError, LocalEntryNotFoundError, OfflineModeIsEnabled,
                                        RepositoryNotFoundError)
    try:
        revision = None
        if not constants.HF_HUB_OFFLINE:  # offline, only what is cached is read
            info = HfApi(token=token).model_info(repo_id, files_metadata=True, token=token)
            size = sum(f.size or 0 for f in info.siblings or [] if f.rfilename in ALL_FILES)
            if size > MAX_ZIP_BYTES:
                raise CheckpointError(f"the checkpoint files of '{repo_id}' are {size:,} bytes, over "
                                      f"the limit of {MAX_ZIP_BYTES:,}")
            revision = info.sha
        return Path(snapshot_download(repo_id, allow_patterns=ALL_FILES, token=token, revision=revision))
    except CheckpointError:
        raise
    except HFValidationError:
        raise CheckpointError(f"'{repo_id}' is neither a checkpoint folder nor a Hub repo id "
                              "(owner/name)") from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"there is no Hub repo '{repo_id}' (or it is private: log in "
                              "with `hf auth login` or set HF_TOKEN)") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        raise CheckpointError(f"'{repo_id}' is not a local folder and the Hugging Face Hub "
                              "cannot be reached (offline, or HF_HUB_OFFLINE=1): download it where "
                              "there is a network, or give a local folder") from None
    except Exception as exc:
        raise CheckpointError(f"could not download '{repo_id}' from the Hub: {type(exc).__name__}: {exc}") from None


def extract_zip(path, into):
    """Unpack a checkpoint zip into the folder `into`, refusing anything but the checkpoint
    files (at the top or in one folder): no absolute or `..` paths, no links, no more than
    `MAX_ZIP_BYTES` packed or unpacked. Returns `into`."""
    path, into = Path(path), Path(into)
    if path.stat().st_size > MAX_ZIP_BYTES:
        raise CheckpointError(f"{path} is over the limit of {MAX_ZIP_BYTES:,} bytes")
    try:
        with zipfile.ZipFile(path) as archive:
            members = _checked_members(path, archive.infolist())
            budget = MAX_ZIP_BYTES
            for info in members:
                with archive.open(info) as source, open(into / PurePosixPath(info.filename).name, "xb") as target:
                    while chunk := source.read(1 << 20):
                        budget -= len(chunk)
                        if budget < 0:
                            raise CheckpointError(f"{path} unpacks to more than {MAX_ZIP_BYTES:,} bytes")
                        target.write(chunk)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError, EOFError,
            OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable zip file: {exc}") from None
    return into


def _checked_members(path, infos):
    if len(infos) > 2 * len(FILES):
        raise CheckpointError(f"{path} holds {len(infos)} entries: a checkpoint zip holds only "
                              f"{', '.join(ALL_FILES)}")
    files, folders = [], set()
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name).parts
        if name.startswith(("/", "\\")) or "\\" in name or ":" in name or ".." in parts:
            raise CheckpointError(f"{path} holds an unsafe path '{_short(name)[1:-1]}'")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise CheckpointError(f"{path} holds a link '{_short(name)[1:-1]}'")
        if info.is_dir():
            continue
        if not parts or parts[-1] not in ALL_FILES or len(parts) > 2:
            raise CheckpointError(f"{path} holds '{_short(name)[1:-1]}': a checkpoint zip holds only "
                                  f"{', '.join(ALL_FILES)}")
        files.append(info)
        folders.add(parts[:-1])
    names = [PurePosixPath(info.filename).name for info in files]
    if len(set(names)) != len(names) or len(folders) > 1:
        raise CheckpointError(f"{path} holds more than one checkpoint")
    if sum(info.file_size for info in files) > MAX_ZIP_BYTES:
        raise CheckpointError(f"{path} unpacks to more than {MAX_ZIP_BYTES:,} bytes")
    return files


def load(path_or_repo_id, device="cpu", *, token=None, public=False):
    """The model saved at a folder, a zip of one, or a Hub repo, of the right class, in eval mode.

    Strict: a missing, extra or misshapen tensor raises `CheckpointError` naming the file, and
    nothing is allocated before the config and the weights' header pass their checks. Nothing is
    written for a local folder. `token` and `public` are those of `resolve`.
    The model gets `.metrics`, `.config` and `.source` attributes."""
    source = str(path_or_repo_id)
    p = Path(path_or_repo_id).expanduser()
    if not public and p.is_file():
        if not zipfile.is_zipfile(p):
            raise CheckpointError(f"{p} is a file but not a checkpoint zip: give a checkpoint folder, "
                                  "a zip of one, or a Hub repo id (owner/name)")
        with tempfile.TemporaryDirectory(prefix="deepgen-zip-") as tmp:
            model = _load_folder(extract_zip(p, tmp))
    else:
        model = _load_folder(resolve(path_or_repo_id, token=token, public=public))
    model.to(device).eval()
    model.source = source
    return model


def _load_folder(folder):
    from safetensors import SafetensorError
    from safetensors.torch import load as load_bytes

    config = read_config(folder)
    cls = MODEL_CLASSES[config["kind"]]
    arguments = {k: v for k, v in config.items() if k in _parameters(cls)}
    skeleton = _skeleton(cls, arguments, folder / "config.json")
    weights = folder / "model.safetensors"
    _, data = _read_weights(weights, check=lambda header: _check_header(weights, header, skeleton),
                             data=True)
    try:
        state = load_bytes(data)
    except (SafetensorError, ValueError) as exc:
        raise CheckpointError(f"{weights} is not a readable safetensors file: {exc}") from None
    model = cls(**arguments)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{weights} does not match config.json ({cls.__name__}): {exc}") from None
    model.metrics = read_metrics(folder)
    model.config = config
    model.timelapse = read_timelapse(folder)
    return model


def read_timelapse(folder):
    """The checkpoint's time-lapse (`timelapse.TimeLapse`), or None where it has none or it
    cannot be read (a warning says why): the model is usable either way."""
    path = Path(folder) / T.FILE
    if not os.path.lexists(path):
        return None
    try:
        with _open_regular(path) as file:
            return T.from_bytes(file.read(T.MAX_BYTES + 1))
    except (OSError, CheckpointError, T.TimeLapseError) as exc:
        warnings.warn(f"{path} is left out: {exc}", stacklevel=2)
        return None


def halve(folder):
    """Store a checkpoint's float32 tensors as float16 (half the size; `load` casts them back).
    The file is replaced atomically, and the config records it."""
    from safetensors.torch import load_file, save_file

    folder = Path(folder)
    with _destination_lock(folder):
        weights = folder / "model.safetensors"
        state = load_file(str(weights))
        half = {k: v.half() if v.dtype == torch.float32 else v for k, v in state.items()}
        tmp = weights.with_name(f".{weights.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        save_file(half, str(tmp), metadata={"format": "pt"})
        os.replace(tmp, weights)
        config = read_config(folder)
        if config.get("weights_dtype") != "float16" and config.get("command"):
            config["command"] += f" && python -m train.halve {folder}"
        config["weights_dtype"] = "float16"
        _atomic_write(folder / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
        _atomic_write(folder / "README.md", model_card(folder.name, config, read_metrics(folder)))
