"""Where MNIST comes from, what happens when it is missing, and few-label subsets."""
import os
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.utils.data import Subset, TensorDataset

from deepgen import DataMissing
from deepgen import data as D

SHARED = Path(os.environ["DEEPGEN_DATA"])  # where conftest found MNIST


def assert_names_both_settings(message, folder):
    assert "--data-dir" in message and "DEEPGEN_DATA" in message
    assert str(folder) in message


def test_missing_data_and_failed_download(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("DEEPGEN_DATA", str(tmp_path))
    with pytest.raises(DataMissing) as err:
        D.mnist_tensors(train=False)
    assert offline, "a download should have been attempted (and failed)"
    assert_names_both_settings(str(err.value), tmp_path)


def test_missing_data_without_download_touches_no_network(tmp_path, offline):
    with pytest.raises(DataMissing) as err:
        D.mnist_tensors(train=True, data_dir=tmp_path, download=False)
    assert offline == []
    assert_names_both_settings(str(err.value), tmp_path)


def test_data_dir_argument_beats_the_environment(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("DEEPGEN_DATA", str(tmp_path))
    assert D.resolve_data_dir(SHARED) == SHARED
    images, labels = D.mnist_tensors(train=False, data_dir=SHARED)
    assert offline == []
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (10_000,) and labels.dtype == torch.int64
    assert images.min() >= 0 and images.max() <= 1


def test_environment_beats_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPGEN_DATA", str(tmp_path))
    assert D.resolve_data_dir() == tmp_path
    monkeypatch.delenv("DEEPGEN_DATA")
    assert D.resolve_data_dir() == Path("data")


def test_limit_keeps_the_first_images(mnist_test_slice):
    x, y = mnist_test_slice
    ds = D.mnist(train=False, data_dir=SHARED, limit=100)
    assert len(ds) == 100
    first_x, first_y = ds[0]
    assert torch.equal(first_x, x[0]) and first_y == y[0]


@pytest.mark.parametrize("per_class", [1, 5, 20])
def test_few_labels_gives_exactly_per_class_of_each_digit(mnist_test_slice, per_class):
    ds = TensorDataset(*mnist_test_slice)
    subset = D.few_labels(ds, per_class, seed=3)
    picked = [int(ds[i][1]) for i in subset.indices]
    assert Counter(picked) == {digit: per_class for digit in range(10)}
    assert len(set(subset.indices)) == len(subset.indices)


def test_few_labels_of_a_subset(mnist_test_slice):
    ds = Subset(TensorDataset(*mnist_test_slice), range(300))
    subset = D.few_labels(ds, 4)
    assert Counter(int(subset[i][1]) for i in range(len(subset))) == {d: 4 for d in range(10)}


def test_few_labels_is_reproducible_and_depends_on_the_seed(mnist_test_slice):
    ds = TensorDataset(*mnist_test_slice)
    assert D.few_labels(ds, 5, seed=1).indices == D.few_labels(ds, 5, seed=1).indices
    assert D.few_labels(ds, 5, seed=1).indices != D.few_labels(ds, 5, seed=2).indices


def test_loader_is_reproducible(mnist_test_slice):
    ds = TensorDataset(*mnist_test_slice)
    first = [y for _, y in D.loader(ds, batch_size=64, seed=4)]
    again = [y for _, y in D.loader(ds, batch_size=64, seed=4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert sorted(torch.cat(first).tolist()) == sorted(mnist_test_slice[1].tolist())


@pytest.mark.parametrize("name", list(D.DATASETS))
def test_the_idx_reader_matches_torchvision(name):
    """deepgen reads the raw files itself (torchvision's import takes seconds); the result is
    torchvision's, image for image and label for label."""
    ds = D.get(name)
    for train in (False, True):
        x, y = D.tensors(name, train=train, data_dir=SHARED, download=False)
        reference = ds.source()(str(SHARED), train=train, download=False)
        assert torch.equal(x, reference.data.unsqueeze(1).float() / 255)
        assert torch.equal(y, reference.targets)


def test_the_idx_reader_takes_gzipped_files_and_refuses_others(tmp_path):
    import gzip
    raw = (SHARED / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").read_bytes()
    (tmp_path / "labels.gz").write_bytes(gzip.compress(raw))
    assert torch.equal(D.read_idx(tmp_path / "labels.gz"), D.read_idx(SHARED / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"))
    (tmp_path / "short").write_bytes(raw[:100])
    with pytest.raises(DataMissing, match="truncated"):
        D.read_idx(tmp_path / "short")
    (tmp_path / "text").write_bytes(b"not an idx file")
    with pytest.raises(DataMissing, match="not an IDX file"):
        D.read_idx(tmp_path / "text")


@pytest.mark.parametrize("count, nrow", [(1, 8), (7, 3), (10, 10), (64, 8)])
def test_grid_lays_digits_out_as_torchvision_does(count, nrow):
    from torchvision.utils import make_grid

    from deepgen.images import grid, to_uint8
    images = torch.rand(count, 1, 28, 28, generator=torch.Generator().manual_seed(count)) * 1.2 - 0.1
    expected = to_uint8(make_grid(images.clamp(0, 1), nrow=nrow, padding=2, pad_value=0.3)[0])
    assert (grid(images, nrow) == expected).all()
