"""The test sets the app shows (MNIST's by default; any entry of `deepgen.data.DATASETS`),
each loaded on first use (never at start-up) from `$DEEPGEN_DATA`."""
import random
import threading

from deepgen import data

_loaded = {}     # (data folder, data set) -> (images, labels) or the message of a failed load
_lock = threading.Lock()


class TestSetMissing(RuntimeError):
    pass


def tensors(dataset=data.DEFAULT):
    """(images N×1×28×28 in [0, 1], labels N) of `dataset`'s test set, or TestSetMissing."""
    ds = data.get(dataset)
    key = (str(data.resolve_data_dir()), ds.name)
    with _lock:
        if key not in _loaded:
            try:
                _loaded[key] = (data.mnist_tensors(train=False) if ds.name == data.DEFAULT
                                else data.tensors(ds.name, train=False))
            except data.DataMissing as exc:
                _loaded[key] = (f"The {ds.title} test set is not available, so test {ds.noun}s cannot be "
                                f"picked: {exc}")
        value = _loaded[key]
    if isinstance(value, str):
        raise TestSetMissing(value)
    return value


def size(dataset=data.DEFAULT):
    return len(tensors(dataset)[1])


def digit(index, dataset=data.DEFAULT):
    """(1×1×28×28 image, label, index) of test image `index`; "random" or None picks one at random."""
    images, labels = tensors(dataset)
    noun = data.get(dataset).noun
    if index is None or str(index).strip().lower() in ("", "random"):
        index = random.randrange(len(labels))
    try:
        index = int(float(index))
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"The test {noun} index must be a whole number from 0 to {len(labels) - 1}, "
                         f"not '{index}'.") from None
    if not 0 <= index < len(labels):
        raise ValueError(f"The test {noun} index must be from 0 to {len(labels) - 1}, not {index}.")
    return images[index:index + 1], int(labels[index]), index


def first(n, dataset=data.DEFAULT):
    images, labels = tensors(dataset)
    return images[:n], labels[:n]
