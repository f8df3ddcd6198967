"""MNIST, found through one setting.

The data folder is, in order: the `data_dir` argument (the CLI's `--data-dir`), the
environment variable `DEEPGEN_DATA`, else `./data`. Where MNIST is missing there, it is
downloaded; where that fails (offline), `DataMissing` says which settings to use.
"""
import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

ENV_VAR = "DEEPGEN_DATA"
DEFAULT_DIR = "data"


class DataMissing(RuntimeError):
    pass


def resolve_data_dir(data_dir=None):
    return Path(data_dir or os.environ.get(ENV_VAR) or DEFAULT_DIR)


def _has_mnist(root):
    raw = root / "MNIST" / "raw"
    return all((raw / f"{name}-ubyte").exists() or (raw / f"{name}-ubyte.gz").exists()
               for name in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1"))


def mnist_tensors(train=True, data_dir=None, download=True):
    """MNIST as (images float32 N×1×28×28 in [0, 1], labels int64 N)."""
    from torchvision.datasets import MNIST

    root = resolve_data_dir(data_dir)
    if not _has_mnist(root) and not download:
        raise DataMissing(_missing_message(root))
    try:
        ds = MNIST(str(root), train=train, download=not _has_mnist(root) and download)
    except Exception as exc:  # torchvision raises URLError, RuntimeError, OSError offline
        raise DataMissing(_missing_message(root) + f" (download failed: {exc})") from exc
    images = ds.data.unsqueeze(1).float().div_(255.0)
    return images, ds.targets.long()


def _missing_message(root):
    return (f"MNIST was not found in '{root}' and could not be downloaded: "
            f"pass --data-dir PATH or set {ENV_VAR}=PATH to a folder that holds MNIST/raw/*-ubyte.")


_cache = {}


def mnist(train=True, data_dir=None, limit=None):
    """A TensorDataset of MNIST (cached per process); `limit` keeps the first N images."""
    key = (train, str(resolve_data_dir(data_dir)))
    if key not in _cache:
        _cache[key] = TensorDataset(*mnist_tensors(train, data_dir))
    ds = _cache[key]
    return Subset(ds, range(min(limit, len(ds)))) if limit else ds


def loader(dataset, batch_size=128, shuffle=True, seed=0, drop_last=False):
    g = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=g, drop_last=drop_last)


def few_labels(dataset, per_class, seed=0):
    """A Subset with `per_class` examples of each digit, drawn reproducibly."""
    labels = torch.as_tensor([int(dataset[i][1]) for i in range(len(dataset))]) if not isinstance(
        dataset, TensorDataset) else dataset.tensors[1]
    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in range(10):
        idx = torch.nonzero(labels == c).flatten()
        picked += idx[torch.randperm(len(idx), generator=g)[:per_class]].tolist()
    return Subset(dataset, picked)
