"""Checkpoints: a folder with `model.safetensors`, `config.json` (written by huggingface_hub's
`PyTorchModelHubMixin`), `metrics.json` and a model card `README.md` with the training command.

`load` reads a local folder or a Hugging Face Hub repo id, strictly, and never unpickles."""
import inspect
import json
import os
import shutil
from pathlib import Path

import torch

from .models import MODEL_CLASSES

FILES = ["config.json", "model.safetensors", "metrics.json", "README.md"]


class CheckpointError(RuntimeError):
    pass


def save(model, folder, command=None, metrics=None, description=None):
    """Write the checkpoint to a temporary sibling folder, then swap it into place, so an
    interrupted save never leaves a half-written folder where a good one was."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.saving-{os.getpid()}"
    old = folder.parent / f".{folder.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    config = {**(model._hub_mixin_config or {}), "kind": model.kind}
    if command:
        config["command"] = command
    try:
        model.save_pretrained(tmp, config=config)
        (tmp / "metrics.json").write_text(json.dumps(metrics or {}, indent=2, sort_keys=True) + "\n")
        (tmp / "README.md").write_text(model_card(folder.name, config, metrics or {}, description))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if folder.exists():
        for extra in folder.iterdir():  # previews and other files beside the checkpoint stay
            if extra.name not in FILES and not (tmp / extra.name).exists():
                extra.rename(tmp / extra.name)
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def model_card(name, config, metrics, description=None):
    kind, command = config["kind"], config.get("command")
    class_name = MODEL_CLASSES[kind].__name__
    lines = ["---", "library_name: deepgen", "license: mit", "tags:", "- mnist", "- deepgen",
             f"- {kind}", "- pytorch_model_hub_mixin", "---", "", f"# deepgen `{name}`", "",
             description or f"A `{class_name}` ({kind}) trained on MNIST by deepgen.", "",
             "Load it with `deepgen.load(\"path-or-repo-id\")`.", ""]
    if command:
        lines += ["## Training command", "", "```", command, "```", ""]
    if metrics:
        lines += ["## Metrics (MNIST test set, `python -m train.evaluate`)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in sorted(metrics.items())]
        lines.append("")
    return "\n".join(lines)


def write_metrics(folder, metrics):
    """Replace metrics.json and the card's table (atomically, file by file)."""
    folder = Path(folder)
    _atomic_write(folder / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    _atomic_write(folder / "README.md", model_card(folder.name, read_config(folder), metrics))


def _atomic_write(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def resolve(path_or_repo_id):
    """A local folder as is; otherwise a Hub repo id, downloaded (only the four files above)."""
    p = Path(path_or_repo_id).expanduser()
    if p.is_dir():
        return p
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (HFValidationError, LocalEntryNotFoundError, RepositoryNotFoundError)
    try:
        return Path(snapshot_download(str(path_or_repo_id), allow_patterns=FILES))
    except HFValidationError:
        raise CheckpointError(f"'{path_or_repo_id}' is neither a checkpoint folder nor a Hub repo id "
                              "(owner/name)") from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"there is no Hub repo '{path_or_repo_id}' (or it is private: log in "
                              "with `hf auth login` or set HF_TOKEN)") from None
    except LocalEntryNotFoundError:
        raise CheckpointError(f"'{path_or_repo_id}' is not a local folder and the Hugging Face Hub "
                              "cannot be reached (offline, or HF_HUB_OFFLINE=1): download it where "
                              "there is a network, or give a local folder") from None
    except Exception as exc:
        raise CheckpointError(f"could not download '{path_or_repo_id}' from the Hub: {exc}") from None


def read_config(folder):
    path = Path(folder) / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: not a deepgen checkpoint") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or config.get("kind") not in MODEL_CLASSES:
        raise CheckpointError(f"{path} names no known model kind (one of {', '.join(MODEL_CLASSES)})")
    return config


def read_metrics(folder):
    try:
        return json.loads((Path(folder) / "metrics.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def load(path_or_repo_id, device="cpu"):
    """The model saved at a folder or Hub repo, of the right class, in eval mode.

    Strict: a missing, extra or misshapen tensor raises `CheckpointError` naming the file.
    The model gets `.metrics`, `.config` and `.source` attributes."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = resolve(path_or_repo_id)
    config = read_config(folder)
    cls = MODEL_CLASSES[config["kind"]]
    params = inspect.signature(cls.__init__).parameters
    try:
        model = cls(**{k: v for k, v in config.items() if k in params and k != "self"})
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{folder / 'config.json'} does not describe a valid {cls.__name__}: {exc}") from None
    weights = folder / "model.safetensors"
    try:
        state = load_file(str(weights), device=str(device))
    except FileNotFoundError:
        raise CheckpointError(f"{weights} is missing") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} is not a readable safetensors file: {exc}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{weights} does not match config.json ({cls.__name__}): {exc}") from None
    model.to(device).eval()
    model.metrics = read_metrics(folder)
    model.config = config
    model.source = str(path_or_repo_id)
    return model


def halve(folder):
    """Store a checkpoint's float32 tensors as float16 (half the size; `load` casts them back).
    The file is replaced atomically, and the config records it."""
    from safetensors.torch import load_file, save_file

    folder = Path(folder)
    weights = folder / "model.safetensors"
    state = load_file(str(weights))
    half = {k: v.half() if v.dtype == torch.float32 else v for k, v in state.items()}
    tmp = weights.with_name(weights.name + ".tmp")
    save_file(half, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, weights)
    config = read_config(folder)
    if config.get("weights_dtype") != "float16" and config.get("command"):
        config["command"] += f" && python -m train.halve {folder}"
    config["weights_dtype"] = "float16"
    _atomic_write(folder / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
    _atomic_write(folder / "README.md", model_card(folder.name, config, read_metrics(folder)))
