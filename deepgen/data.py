"""The data sets deepgen learns from, one entry each, found through one setting.

Every entry of `DATASETS` is a torchvision data set of 28×28 single-channel images in ten
classes: adding one (KMNIST, say) is one more entry. A model's configuration names its data set
(`dataset_of`); checkpoints that name none are MNIST's.

The data folder is, in order: the `data_dir` argument (the CLI's `--data-dir`), the
environment variable `DEEPGEN_DATA`, else `./data`. It holds each data set in torchvision's
layout, `<folder>/raw/*-ubyte` (`MNIST/raw`, `FashionMNIST/raw`). Where a set is missing there,
it is downloaded; where that fails (offline), `DataMissing` says which settings to use.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

ENV_VAR = "DEEPGEN_DATA"
DEFAULT_DIR = "data"
DEFAULT = "mnist"


class DataMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class DataSet:
    """One data set: where torchvision finds it, what its labels mean, and how the app gets a
    picture of a new item."""
    name: str            # what `--dataset` takes
    title: str           # how people write it
    torchvision: str     # class in torchvision.datasets; its files are in <data dir>/<torchvision>/raw
    classes: tuple       # the name of each label, by label
    noun: str            # one image of it: "digit", "item"
    input: str           # how the app takes a new image: "draw" (a sketch pad) or "picture" (upload or test image)
    input_note: str      # that, said to the user
    normalize: tuple | None = None   # (mean, std) applied to the [0, 1] pixels; None keeps [0, 1], which
                                     # the generative models' Bernoulli likelihood needs
    style: str = "shape, shade, size"   # what a conditional model's code holds beside the class, said to the user

    @property
    def folder(self):
        return self.torchvision

    def source(self):
        from torchvision import datasets
        return getattr(datasets, self.torchvision)


DATASETS = {d.name: d for d in [
    DataSet("mnist", "MNIST", "MNIST", tuple(str(d) for d in range(10)), "digit", "draw",
            "Draw a digit: the sketch is fitted into 20×20 pixels and centred by its centre of mass, as MNIST's "
            "digits are.", style="slant, thickness, size"),
    DataSet("fashion-mnist", "Fashion-MNIST", "FashionMNIST",
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
             "Ankle boot"), "item", "picture",
            "Upload a product photo or pick a test image: it is made grey, inverted where the background is "
            "light, fitted into 28×28 pixels and centred, as Fashion-MNIST's items are.", style="cut, shade, size"),
]}


def get(name):
    """The data set called `name`; ValueError listing the names otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown data set '{name}'; choose one of {', '.join(DATASETS)}") from None


def dataset_of(model):
    """The data set a model was trained on, as its configuration says (MNIST where it says
    nothing: checkpoints from before there was a choice)."""
    config = getattr(model, "config", None) or {}
    training = config.get("training") if isinstance(config.get("training"), dict) else {}
    name = training.get("dataset") or config.get("dataset") or DEFAULT
    try:
        return get(name)
    except ValueError:
        raise ValueError(f"this model was trained on '{name}', a data set deepgen does not know "
                         f"(it knows {', '.join(DATASETS)})") from None


def class_names(dataset=DEFAULT):
    return get(dataset).classes


def resolve_data_dir(data_dir=None):
    return Path(data_dir or os.environ.get(ENV_VAR) or DEFAULT_DIR)


FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),     # torchvision's names,
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}      # the same for every set here


def _raw_file(root, ds, name):
    """The path of `name` in the set's raw folder, plain or gzipped, or None."""
    raw = root / ds.folder / "raw"
    return next((path for path in (raw / name, raw / f"{name}.gz") if path.is_file()), None)


def _has_files(root, ds):
    return all(_raw_file(root, ds, name) for names in FILES.values() for name in names)


def read_idx(path):
    """An IDX file (LeCun's MNIST format: zero bytes, a type code, the dimension count, each
    dimension as a big-endian int32, then the values) as a uint8 tensor."""
    import gzip

    import numpy as np

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DataMissing(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, offset=4))
    values = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if values.size != int(np.prod(shape)):
        raise DataMissing(f"{path} is truncated: {values.size} values for the shape {shape}")
    return torch.from_numpy(values.reshape(shape).copy())


def tensors(dataset=DEFAULT, train=True, data_dir=None, download=True):
    """A data set as (images float32 N×1×28×28, in [0, 1] unless it is normalised, labels int64 N)."""
    ds = get(dataset)
    root = resolve_data_dir(data_dir)
    if not _has_files(root, ds):
        if not download:
            raise DataMissing(_missing_message(ds, root))
        try:
            ds.source()(str(root), train=train, download=True)
        except Exception as exc:  # torchvision raises URLError, RuntimeError, OSError offline
            raise DataMissing(_missing_message(ds, root) + f" (download failed: {exc})") from exc
    # Read here rather than through torchvision, whose import alone takes seconds.
    pixels, labels = (read_idx(_raw_file(root, ds, name)) for name in FILES[train])
    images = pixels.unsqueeze(1).float().div_(255.0)
    if ds.normalize:
        mean, std = ds.normalize
        images = images.sub_(mean).div_(std)
    return images, labels.long()


def mnist_tensors(train=True, data_dir=None, download=True):
    """MNIST as (images float32 N×1×28×28 in [0, 1], labels int64 N)."""
    return tensors(DEFAULT, train, data_dir, download)


def _missing_message(ds, root):
    return (f"{ds.title} was not found in '{root}' and could not be downloaded: "
            f"pass --data-dir PATH or set {ENV_VAR}=PATH to a folder that holds {ds.folder}/raw/*-ubyte.")


_cache = {}


def tensor_dataset(dataset=DEFAULT, train=True, data_dir=None, limit=None):
    """A TensorDataset of a data set (cached per process); `limit` keeps the first N images."""
    key = (get(dataset).name, train, str(resolve_data_dir(data_dir)))
    if key not in _cache:
        _cache[key] = TensorDataset(*tensors(dataset, train, data_dir))
    ds = _cache[key]
    return Subset(ds, range(min(limit, len(ds)))) if limit else ds


def mnist(train=True, data_dir=None, limit=None):
    """A TensorDataset of MNIST (cached per process); `limit` keeps the first N images."""
    return tensor_dataset(DEFAULT, train, data_dir, limit)


def loader(dataset, batch_size=128, shuffle=True, seed=0, drop_last=False, distributed=False):
    """Batches of `dataset`; shuffled by a generator of its own (`loader.generator`, whose state a
    resumed run restores). `distributed`: each process of a torchrun group reads its own shard."""
    g = torch.Generator().manual_seed(seed)
    if distributed:
        from torch.utils.data.distributed import DistributedSampler
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, generator=g, drop_last=drop_last)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=g, drop_last=drop_last)


def few_labels(dataset, per_class, seed=0):
    """A Subset with `per_class` examples of each class, drawn reproducibly."""
    labels = torch.as_tensor([int(dataset[i][1]) for i in range(len(dataset))]) if not isinstance(
        dataset, TensorDataset) else dataset.tensors[1]
    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in range(10):
        idx = torch.nonzero(labels == c).flatten()
        picked += idx[torch.randperm(len(idx), generator=g)[:per_class]].tolist()
    return Subset(dataset, picked)
