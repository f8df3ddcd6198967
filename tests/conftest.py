"""Shared test settings: offline, MNIST from ../shared/data unless DEEPGEN_DATA says otherwise."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DEEPGEN_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def mnist_test_slice():
    """The first 512 MNIST test images and labels."""
    from deepgen.data import mnist_tensors
    x, y = mnist_tensors(train=False)
    return x[:512], y[:512]
