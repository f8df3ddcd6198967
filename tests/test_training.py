"""Short training runs of every model, the event stream, and the `python -m train` CLI."""
import functools
import json
import math
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import deepgen
from deepgen.metric_losses import LOSSES
from deepgen.models import GAN, VAE, VAEGAN
from deepgen.training import MODELS, GANTrainer, VAEGANTrainer, build_model, train
from train.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(limit=256, batch_size=32, epochs=2, log_every=2, device="cpu")
STEPS = 2 * 256 // 32
IMAGE_MODELS = ["ae", "vae", "vae2d", "cvae", "gan", "vaegan"]
RUNS = [(m, None) for m in MODELS if m != "siamese"] + [("siamese", loss) for loss in LOSSES]
FALLING = {"classifier": "loss", "ae": "bce", "vae": "neg_elbo", "vae2d": "neg_elbo", "cvae": "neg_elbo",
           "gan": "class_loss", "vaegan": "pixel_bce", "siamese": "loss"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny batches gain nothing from threads, and threads fight any other job on the machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(name, loss=None):
    return _run(name, loss)


@functools.cache
def _run(name, loss):
    kw = {"loss": loss} if loss else {}
    return list(train(name, **SETTINGS, **kw))


def run_id(case):
    return case[0] if case[1] is None else f"siamese-{case[1]}"


@pytest.mark.parametrize("case", RUNS, ids=map(run_id, RUNS))
def test_events_count_steps_and_epochs(case):
    events = run(*case)
    steps = [e.step for e in events]
    assert steps == sorted(set(steps)) and steps[-1] == STEPS
    assert all(e.steps == STEPS and e.epochs == 2 for e in events)
    assert [e.step for e in events if e.epoch_end] == [STEPS // 2, STEPS]
    assert [e.done for e in events] == [False] * (len(events) - 1) + [True]
    assert all(math.isfinite(v) for e in events for v in e.losses.values())
    assert all(e.model is events[0].model for e in events)


@pytest.mark.parametrize("case", RUNS, ids=run_id)
def test_loss_goes_down(case):
    events = run(*case)
    key = FALLING[case[0]]
    first = np.mean([e.losses[key] for e in events[:2]])
    last = np.mean([e.losses[key] for e in events[-2:]])
    assert last < 0.95 * first, (key, first, last)


def is_grid_of_digits(picture):
    h, w = picture.shape
    return (picture.dtype == np.uint8 and (h - 2) % 30 == 0 and (w - 2) % 30 == 0
            and picture.max() > picture.min())


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_previews_at_epoch_ends(name):
    events = run(name)
    assert all((e.preview is not None) == e.epoch_end for e in events)
    assert all(is_grid_of_digits(e.preview) for e in events if e.epoch_end)


@pytest.mark.parametrize("case", [("classifier", None), ("siamese", "arcface")], ids=run_id)
def test_no_preview_for_non_image_models(case):
    assert all(e.preview is None for e in run(*case))


def test_gan_runs_finite_and_previews_an_8_by_8_grid():
    events = run("gan")
    assert set(events[-1].losses) == {"d_loss", "g_loss", "class_loss", "certainty"}
    preview = events[-1].preview
    assert preview.dtype == np.uint8 and preview.shape == (2 + 8 * 30, 2 + 8 * 30)
    samples = events[-1].model.sample(4)
    assert samples.shape == (4, 1, 28, 28) and torch.isfinite(samples).all()


def test_vaegan_reports_all_its_terms():
    assert set(run("vaegan")[-1].losses) == {"d_loss", "gen", "kl", "feature_rec", "pixel_bce"}


def test_classifier_learns_something():
    assert run("classifier")[-1].losses["accuracy"] > 0.5


def test_closing_the_iterator_stops_training():
    events = train("ae", limit=256, batch_size=32, epochs=3, log_every=1, device="cpu")
    first = next(events)
    assert first.step == 1 and first.steps == 24
    weights = {k: v.clone() for k, v in first.model.state_dict().items()}
    events.close()
    with pytest.raises(StopIteration):
        next(events)
    assert all(torch.equal(v, first.model.state_dict()[k]) for k, v in weights.items())


def test_training_continues_a_given_model():
    model = build_model("ae", latent_dim=4)
    events = list(train("ae", model=model, limit=64, batch_size=32, epochs=1, device="cpu"))
    assert events[-1].model is model and model.latent_dim == 4


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("diffusion")
    with pytest.raises(ValueError, match="unknown Siamese loss"):
        build_model("siamese", loss="hinge")


# --- the CLI ---

def test_cli_trains_and_writes_a_loadable_checkpoint(tmp_path):
    out = tmp_path / "vae-run"
    args = ["vae", "--limit", "256", "--epochs", "1", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "train", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    model = deepgen.load(out)
    assert isinstance(model, VAE) and not model.training
    assert f"python -m train vae --limit 256 --epochs 1 --out {out}" in (out / "README.md").read_text()
    assert json.loads((out / "config.json").read_text())["command"].endswith(f"--out {out}")
    preview = Image.open(out / "previews" / "epoch_001.png")
    assert preview.mode == "L" and is_grid_of_digits(np.asarray(preview))


def test_cli_help_lists_every_model(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for name in [*MODELS, *LOSSES]:
        assert name in text


def test_cli_without_data_exits_with_the_clear_message(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as exit_:
        main(["ae", "--data-dir", str(empty), "--epochs", "1", "--out", str(tmp_path / "out")])
    message = str(exit_.value.code)
    assert exit_.value.code not in (0, None)
    assert message.startswith("error:") and "--data-dir" in message and "DEEPGEN_DATA" in message
    assert str(empty) in message


@pytest.mark.parametrize("kind", ["gan", "vaegan"])
def test_gan_hands_out_the_moving_average_of_its_generator(kind):
    torch.manual_seed(0)
    if kind == "gan":
        model = GAN(z_dim=8, width=4)
        trainer, generator = GANTrainer(model, 1e-2, 10), model.generator
    else:
        model = VAEGAN(latent_dim=8, width=4, hidden=16)
        trainer, generator = VAEGANTrainer(model, 1e-2, 10), model.decoder
    x, y = torch.rand(16, 1, 28, 28), torch.zeros(16, dtype=torch.long)
    expected = None
    for _ in range(4):
        trainer.step(x, y)
        live = {k: p.detach().clone() for k, p in generator.named_parameters()}
        expected = live if expected is None else {
            k: trainer.ema_decay * expected[k] + (1 - trainer.ema_decay) * live[k] for k in live}
    assert not torch.allclose(expected["0.weight"], live["0.weight"])
    trainer.finish()
    for k, p in generator.named_parameters():
        assert torch.allclose(p, expected[k], atol=1e-6), k
    z = torch.randn(2048, 8)
    with torch.no_grad():   # batch-norm statistics recomputed for the averaged weights
        assert (generator.eval()(z) - generator.train()(z)).abs().mean() < 0.01  # stale ones: about 0.05


def test_vaegan_can_start_from_a_trained_gan():
    gan = GAN(z_dim=8, width=4).eval()
    vaegan = VAEGAN.from_gan(gan).eval()
    z = torch.randn(5, 8)
    with torch.no_grad():
        assert torch.equal(vaegan.decode(z), gan.generator(z))
        x = torch.rand(5, 1, 28, 28)
        assert torch.equal(vaegan.discriminator(x), gan.discriminator(x))
    assert vaegan.encode(torch.rand(3, 1, 28, 28))[0].shape == (3, 8)


def test_cli_refuses_to_continue_a_checkpoint_of_another_kind(tmp_path):
    folder = tmp_path / "ae"
    deepgen.checkpoint.save(build_model("ae", latent_dim=4), folder, command="test")
    with pytest.raises(SystemExit) as exit_:
        main(["vae", "--init", str(folder), "--limit", "64", "--epochs", "1", "--out", str(tmp_path / "out")])
    assert str(exit_.value.code) == f"error: --init {folder} holds a 'ae' model, which 'vae' cannot continue"
