"""Shared test settings: offline, MNIST from ../shared/data unless DEEPGEN_DATA says otherwise."""
import os
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DEEPGEN_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny batches gain nothing from threads, and threads fight any other job on the machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def mnist_test_slice():
    """The first 512 MNIST test images and labels."""
    from deepgen.data import mnist_tensors
    x, y = mnist_tensors(train=False)
    return x[:512], y[:512]


@pytest.fixture
def offline(monkeypatch):
    """Every URL fails as it would without a network; the attempts are recorded."""
    attempts = []

    def no_network(request, *args, **kwargs):
        attempts.append(getattr(request, "full_url", request))
        raise urllib.error.URLError("network is unreachable (test)")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return attempts


def make_checkpoints(folder, slots=None):
    """Untrained checkpoints for the app's slots (fast; enough to test the plumbing). The
    siamese-arcface one carries a calibration in its metrics, the others do not."""
    from deepgen import recipes, save

    torch.manual_seed(0)
    for slot in slots or recipes.RECIPES:
        metrics = {"untrained": 1}
        if slot == "siamese-arcface":
            metrics.update(threshold=0.8, calibration_a=-12.0, calibration_b=9.6)
        save(recipes.get(slot).build(), Path(folder) / slot, command=f"test fixture {slot}", metrics=metrics)
    return Path(folder)


@pytest.fixture(scope="session")
def app_checkpoints(tmp_path_factory):
    """A checkpoint folder with every slot filled, made the app's folder for the session."""
    from webapp import registry

    folder = make_checkpoints(tmp_path_factory.mktemp("checkpoints"))
    old = os.environ.get(registry.ENV_VAR)
    os.environ[registry.ENV_VAR] = str(folder)
    registry.reset()
    yield folder
    if old is None:
        os.environ.pop(registry.ENV_VAR, None)
    else:
        os.environ[registry.ENV_VAR] = old
    registry.reset()
