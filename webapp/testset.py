"""The MNIST test set, loaded on first use (never at start-up) from `$DEEPGEN_DATA`."""
import random
import threading

from deepgen import data

_loaded = {}     # data folder -> (images, labels) or the message of a failed load
_lock = threading.Lock()


class TestSetMissing(RuntimeError):
    pass


def tensors():
    """(images N×1×28×28 in [0, 1], labels N) of the MNIST test set, or TestSetMissing."""
    folder = str(data.resolve_data_dir())
    with _lock:
        if folder not in _loaded:
            try:
                _loaded[folder] = data.mnist_tensors(train=False)
            except data.DataMissing as exc:
                _loaded[folder] = ("The MNIST test set is not available, so test digits cannot be picked: "
                                   f"{exc}")
        value = _loaded[folder]
    if isinstance(value, str):
        raise TestSetMissing(value)
    return value


def size():
    return len(tensors()[1])


def digit(index):
    """(1×1×28×28 image, label, index) of test digit `index`; "random" or None picks one at random."""
    images, labels = tensors()
    if index is None or str(index).strip().lower() in ("", "random"):
        index = random.randrange(len(labels))
    try:
        index = int(float(index))
    except (TypeError, ValueError):
        raise ValueError(f"The test digit index must be a whole number from 0 to {len(labels) - 1}, "
                         f"not '{index}'.") from None
    if not 0 <= index < len(labels):
        raise ValueError(f"The test digit index must be from 0 to {len(labels) - 1}, not {index}.")
    return images[index:index + 1], int(labels[index]), index


def first(n):
    images, labels = tensors()
    return images[:n], labels[:n]
