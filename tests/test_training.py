"""Short training runs of every recipe, the event stream, exact resumption, torchrun, and the
`python -m train` CLI."""
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
from deepgen import recipes, training
from deepgen.models import CVAE, GAN, VAE, VAEGAN
from deepgen.trainers import CVAETrainer, GANTrainer, VAEGANTrainer
from deepgen.training import train
from train.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(limit=256, batch_size=32, epochs=2, log_every=2, device="cpu")
STEPS = 2 * 256 // 32
RUNS = list(recipes.RECIPES)
PREVIEWLESS = [n for n in RUNS if n == "classifier" or n in recipes.SIAMESE]
IMAGE_MODELS = [n for n in RUNS if n not in PREVIEWLESS]
FALLING = {"ClassifierTrainer": "loss", "AutoencoderTrainer": "bce", "VAETrainer": "neg_elbo",
           "CVAETrainer": "neg_elbo", "GANTrainer": "class_loss", "VAEGANTrainer": "squared_error",
           "SiameseTrainer": "loss"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@functools.cache
def run(name):
    return list(train(name, **SETTINGS))


def test_every_recipe_builds_its_model_and_trainer():
    for name, recipe in recipes.RECIPES.items():
        model = recipe.build()
        recipe.check(model)
        assert recipes.of(model) is recipe or recipes.of(model).model is recipe.model
        assert set(recipe.trainer_args) <= set(recipe.trainer.hyper), name


def test_a_loaded_model_finds_its_recipe_by_name():
    model = recipes.get("vae2d").build()
    model.config = {"training": {"recipe": "vae2d"}}
    assert recipes.of(model).name == "vae2d"
    model.config = {}
    assert recipes.of(model).name == "vae2d"   # the only recipe of a 2-D VAE
    assert recipes.of(recipes.get("vae").build()).name == "vae"


def test_resolved_config_holds_values_not_defaults():
    config = training.resolve("siamese-cosface", limit=64)
    assert config.model_args["loss"] == "cosface" and config.model_args["margin"] == 0.35
    assert None not in (config.epochs, config.batch_size, config.lr)
    assert config.train_images == 64 and len(config.data_sha256) == 64
    assert training.resolve("gan", limit=64).trainer_args == {"ema_decay": 0.999, "certainty_weight": 1.0}
    with pytest.raises(ValueError, match="no setting"):
        training.resolve("classifier", limit=64, latent_dim=3)


def test_weight_decay_shrinks_weights_apart_from_the_gradient():
    """AdamW's decoupled decay: with a zero gradient Adam does not move a weight, AdamW multiplies
    it by 1 − lr · weight_decay (lr at the first step, before the cosine lowers it)."""
    from deepgen.trainers import VAETrainer
    model = recipes.get("vae").build(latent_dim=2, width=8, hidden=16, deep=False)
    before = [p.detach().clone() for p in model.parameters()]
    for decay in (0.0, 0.1):
        model.load_state_dict({k: v for k, v in zip(model.state_dict(), before)})
        trainer = VAETrainer(model, 1e-2, 10, weight_decay=decay)
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        trainer.opt.step()
        for p, b in zip(model.parameters(), before):
            torch.testing.assert_close(p.detach(), b * (1 - 1e-2 * decay))
    assert training.resolve("vae", limit=64, trainer_args={"weight_decay": 0.1}).trainer_args["weight_decay"] == 0.1


def test_annealed_trainers_hand_out_the_moving_average_of_the_weights():
    """With ema_decay d the weights handed out are w̄ ← dₜ · w̄ + (1 − dₜ) · w after each step,
    starting from the weights after the first step, with dₜ = min(d, (1 + t) / (10 + t)) at the
    t-th step after it; without it, the last weights."""
    from deepgen.trainers import VAETrainer
    x = torch.rand(8, 1, 28, 28)
    for decay in (0.0, 0.2):
        torch.manual_seed(0)
        model = recipes.get("vae").build(latent_dim=2, width=8, hidden=16, deep=False)
        trainer = VAETrainer(model, 1e-2, 10, ema_decay=decay)
        steps = []
        for _ in range(3):
            trainer.step(x, None)
            steps.append([p.detach().clone() for p in model.parameters()])
        trainer.finish(x, None)
        for i, p in enumerate(model.parameters()):
            w1, w2, w3 = (s[i] for s in steps)
            d1, d2 = 2 / 11, 0.2                     # min(0.2, 2/11), then min(0.2, 3/12)
            expected = d2 * (d1 * w1 + (1 - d1) * w2) + (1 - d2) * w3 if decay else w3
            torch.testing.assert_close(p.detach(), expected)
    assert training.resolve("vae", limit=64).trainer_args["ema_decay"] == 0.0


def test_kl_warmup_raises_the_kl_terms_weight_to_one():
    """With kl_warmup w over a run of T steps the loss is BCE + min(1, t / (w · T)) · KL after t
    steps; the logged −ELBO is BCE + KL throughout. Ten steps, w = 0.5: 0, 0.2, 0.4, …, 1, 1."""
    from deepgen.trainers import VAETrainer
    torch.manual_seed(0)
    x = torch.rand(8, 1, 28, 28)
    model = recipes.get("vae").build(latent_dim=2, width=8, hidden=16, deep=False, encoder_width=8,
                                     encoder_hidden=16, encoder_deep=False)
    trainer = VAETrainer(model, 1e-3, 10, kl_warmup=0.5)
    for t, weight in enumerate([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0]):
        torch.manual_seed(t)
        loss, logs = trainer.loss(x, None)
        assert trainer.kl_weight() == pytest.approx(weight)
        torch.testing.assert_close(loss, logs["bce"] + weight * logs["kl"])
        torch.testing.assert_close(logs["neg_elbo"], logs["bce"] + logs["kl"])
        assert logs["kl"] > 0
        torch.manual_seed(t)
        trainer.step(x, None)
    assert VAETrainer(model, 1e-3, 10).kl_weight() == 1.0


@pytest.mark.parametrize("name", RUNS)
def test_events_count_steps_and_epochs(name):
    events = run(name)
    steps = [e.step for e in events]
    assert steps == sorted(set(steps)) and steps[-1] == STEPS
    assert all(e.steps == STEPS and e.epochs == 2 for e in events)
    assert [e.step for e in events if e.epoch_end] == [STEPS // 2, STEPS]
    assert [e.done for e in events] == [False] * (len(events) - 1) + [True]
    assert all(math.isfinite(v) for e in events for v in e.losses.values())
    assert all(e.model is events[0].model for e in events)


@pytest.mark.parametrize("name", RUNS)
def test_loss_goes_down(name):
    events = run(name)
    key = FALLING[recipes.get(name).trainer.__name__]
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


@pytest.mark.parametrize("name", PREVIEWLESS)
def test_no_preview_for_non_image_models(name):
    assert all(e.preview is None for e in run(name))


def test_gan_runs_finite_and_previews_an_8_by_8_grid():
    events = run("gan")
    assert set(events[-1].losses) == {"d_loss", "g_loss", "class_loss", "certainty"}
    preview = events[-1].preview
    assert preview.dtype == np.uint8 and preview.shape == (2 + 8 * 30, 2 + 8 * 30)
    samples = events[-1].model.sample(4)
    assert samples.shape == (4, 1, 28, 28) and torch.isfinite(samples).all()


def test_vaegan_reports_all_its_terms():
    assert set(run("vaegan")[0].losses) == {"kl", "squared_error", "class_loss"}      # the encoder alone
    assert {"d_loss", "gen", "certainty"} <= {k for e in run("vaegan") for k in e.losses}


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


def test_events_report_numbers_though_trainers_log_tensors():
    event = next(train("ae", limit=256, batch_size=32, epochs=1, log_every=2, device="cpu"))
    assert event.step == 2 and all(type(v) is float for v in event.losses.values())


def test_a_diverged_run_stops_at_its_next_report(monkeypatch):
    from deepgen.trainers import AutoencoderTrainer
    finite_loss = AutoencoderTrainer.loss

    def poisoned(self, x, y):      # the second step's gradients are NaN, so are the weights after it
        loss, logs = finite_loss(self, x, y)
        return (loss * float("nan") if self.opt.state else loss), logs
    monkeypatch.setattr(AutoencoderTrainer, "loss", poisoned)
    events = train("ae", limit=256, batch_size=32, epochs=1, log_every=4, device="cpu")
    with pytest.raises(FloatingPointError, match="diverged by step 4"):
        list(events)


def test_training_continues_a_given_model():
    model = recipes.get("ae").build(latent_dim=4)
    events = list(train("ae", model=model, limit=64, batch_size=32, epochs=1, device="cpu"))
    assert events[-1].model is model and model.latent_dim == 4


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown model"):
        recipes.get("diffusion")
    with pytest.raises(ValueError, match="unknown Siamese loss"):
        recipes.get("siamese-arcface").build(loss="hinge")


def test_siamese_training_calibrates_the_verdict():
    run_ = training.Run(training.resolve("siamese-arcface", epochs=1, limit=128, batch_size=64))
    list(run_.events())
    assert {"threshold", "calibration_a", "calibration_b"} <= set(run_.metrics)
    assert all(math.isfinite(v) for v in run_.metrics.values())


def _label_term_grads(label_weight):
    torch.manual_seed(0)
    model = CVAE(latent_dim=2, width=8, hidden=16)
    x, y = torch.rand(20, 1, 28, 28), torch.arange(20) % 10
    trainer = CVAETrainer(model, 1e-3, 10, label_weight=label_weight)
    guide_before = {k: v.clone() for k, v in getattr(trainer, "guide", torch.nn.Identity()).state_dict().items()}
    torch.manual_seed(1)
    loss, logs = trainer.loss(x, y)
    guide_grads = [p.grad.clone() for p in trainer.guide.parameters()] if label_weight else []
    loss.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    return trainer, loss, logs, grads, guide_before, guide_grads


def test_cvae_label_term_adds_the_guides_cross_entropy_on_prior_samples_to_the_decoders_loss():
    _, plain_loss, plain_logs, plain, _, _ = _label_term_grads(0.0)
    trainer, loss, logs, guided, guide_before, guide_grads = _label_term_grads(2.0)
    assert set(logs) - set(plain_logs) == {"label_ce", "guide_accuracy"}
    assert float(logs["neg_elbo"]) == pytest.approx(float(plain_logs["neg_elbo"]), rel=1e-6)  # same ELBO draw
    assert loss.item() == pytest.approx(float(logs["neg_elbo"] + 2.0 * logs["label_ce"]), rel=1e-6)
    assert 1.0 < float(logs["label_ce"]) < 4.0                     # an untrained guide: about log 10
    # the term reaches the decoder only: the encoder's gradients are those of the ELBO alone
    for k in plain:
        same = torch.allclose(plain[k], guided[k], atol=1e-7)
        assert same if k.startswith("encoder") else (not same or k.startswith("rows")), k
    # the guide learnt the real images' classes in that step, and the term left its gradients alone
    assert any(not torch.equal(v, trainer.guide.state_dict()[k]) for k, v in guide_before.items())
    assert all(torch.equal(g, p.grad) for g, p in zip(guide_grads, trainer.guide.parameters()))
    assert not any(k.startswith("guide") for k in trainer.model.state_dict())   # not saved with the model


def _halves_named_right(label_weight, steps=150):
    """A CVAE trained on two classes, the left or the right half lit; the share of its prior samples
    whose brighter half is their label's. Its 2-D code can hold the class as well as the label can."""
    torch.manual_seed(0)
    x, y = torch.zeros(40, 1, 28, 28), torch.arange(40) % 2
    x[y == 0, :, :, :14] = 1.0
    x[y == 1, :, :, 14:] = 1.0
    model = CVAE(latent_dim=2, num_classes=2, width=8, hidden=16)
    trainer = CVAETrainer(model, 3e-3, steps, label_weight=label_weight)
    for _ in range(steps):
        trainer.step(x, y)
    labels = torch.arange(200) % 2
    with torch.no_grad():
        s = model.sample(200, generator=torch.Generator().manual_seed(0), labels=labels)
    right_brighter = s[..., 14:].mean((1, 2, 3)) > s[..., :14].mean((1, 2, 3))
    return (right_brighter.long() == labels).float().mean().item()


def test_cvae_label_term_makes_prior_samples_obey_their_label():
    plain, guided = _halves_named_right(0.0), _halves_named_right(5.0)
    assert guided >= 0.9 and guided > plain + 0.08        # 0.92 against 0.77 when written


# --- exact resumption ---

def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", ["classifier", "vae", "vae-ema", "cvae-label", "gan", "vaegan", "siamese-sphereface"])
def test_a_run_stopped_after_one_epoch_and_resumed_gives_the_same_weights(name, tmp_path):
    torch.use_deterministic_algorithms(True)
    try:
        args = dict(epochs=2, limit=128, batch_size=32, **({"width": 8} if name in ("gan", "vaegan") else {}))
        if name == "vae-ema":     # the moving average is part of the state
            name, args["trainer_args"] = "vae", {"ema_decay": 0.9}
        if name == "cvae-label":  # so is the guide classifier of the label term, and its optimiser
            name, args["trainer_args"] = "cvae", {"label_weight": 1.0}
        straight = training.Run(training.resolve(name, **args))
        list(straight.events())
        first = training.Run(training.resolve(name, **args))
        list(first.events(until_epoch=1))
        assert first.epoch == 1 and not first.finished
        training.save_state(first, tmp_path / "state.pt")
        second = training.resume(tmp_path / "state.pt")
        assert second.config.pieces == 2 and second.step == first.step
        list(second.events())
        assert second.finished
        expected, got = _weights(straight.model), _weights(second.model)
        assert expected.keys() == got.keys()
        for k in expected:
            assert torch.equal(expected[k], got[k]), k
        assert second.metrics == straight.metrics
        assert (straight.timelapse is None) == (name not in ("gan", "vaegan"))
        if straight.timelapse is not None:    # the frames filmed before the stop are part of the state
            expected, got = straight.timelapse.state_dict(), second.timelapse.state_dict()
            assert all(torch.equal(expected[k], got[k]) for k in expected) and len(got["steps"]) == 9
    finally:
        torch.use_deterministic_algorithms(False)


# --- the CLI ---

def _cli(*args, timeout=180):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "train", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


def test_cli_trains_and_writes_a_loadable_checkpoint(tmp_path):
    out = tmp_path / "vae-run"
    _cli("vae", "--limit", "256", "--epochs", "1", "--out", str(out), "--threads", "1")
    model = deepgen.load(out)
    assert isinstance(model, VAE) and not model.training
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == "python -m train vae --epochs 1 --limit 256"   # no scratch paths or threads
    assert config["command"] in (out / "README.md").read_text()
    training_config = config["training"]
    assert training_config["recipe"] == "vae" and training_config["epochs"] == 1
    assert training_config["train_images"] == 256 and training_config["model_args"]["latent_dim"] == 32
    preview = Image.open(out / "previews" / "epoch_001.png")
    assert preview.mode == "L" and is_grid_of_digits(np.asarray(preview))


def test_cli_trains_in_pieces_and_the_card_shows_one_command(tmp_path):
    out = tmp_path / "ae-run"
    stopped = _cli("ae", "--limit", "128", "--epochs", "2", "--batch-size", "32", "--until-epoch", "1",
                   "--out", str(out))
    assert "--resume" in stopped.stdout and (out / "resume.pt").exists() and not (out / "config.json").exists()
    _cli("ae", "--resume", str(out))
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == "python -m train ae --epochs 2 --batch-size 32 --limit 128"
    assert config["training"]["pieces"] == 2 and not (out / "resume.pt").exists()
    deepgen.load(out)


def test_cli_resume_refuses_changed_settings(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        main(["ae", "--resume", str(tmp_path)])


def test_torchrun_trains_on_two_processes_and_saves_one_checkpoint(tmp_path):
    out = tmp_path / "ae-ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             "--master_port", "29517", "-m", "train", "ae", "--limit", "256", "--epochs", "1",
                             "--batch-size", "64", "--out", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    model = deepgen.load(out)
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["world_size"] == 2 and model.latent_dim == 16
    assert result.stdout.count("saved ") == 1


def test_cli_help_lists_every_model(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for name in recipes.RECIPES:
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


def moving_average_by_hand(steps, decay):
    """The moving average of the weights after each of `steps` (dicts of tensors): the first, then
    w̄ ← dₜ · w̄ + (1 − dₜ) · w with dₜ = min(decay, (1 + t) / (10 + t))."""
    average = steps[0]
    for t, live in enumerate(steps[1:], start=1):
        d = min(decay, (1 + t) / (10 + t))
        average = {k: d * average[k] + (1 - d) * live[k] for k in live}
    return average


def test_gan_hands_out_the_moving_average_of_its_generator():
    torch.manual_seed(0)
    model = GAN(latent_dim=8, width=4)
    trainer, generator = GANTrainer(model, 1e-2, 10), model.generator
    x, y = torch.rand(16, 1, 28, 28), torch.zeros(16, dtype=torch.long)
    steps = []
    for _ in range(4):
        trainer.step(x, y)
        steps.append(live := {k: p.detach().clone() for k, p in generator.named_parameters()})
    expected = moving_average_by_hand(steps, trainer.ema_decay)
    assert not torch.allclose(expected["0.weight"], live["0.weight"])
    trainer.finish(x, y)
    for k, p in generator.named_parameters():
        assert torch.allclose(p, expected[k], atol=1e-6), k
    z = torch.randn(2048, 8)
    with torch.no_grad():   # batch-norm statistics recomputed for the averaged weights
        assert (generator.eval()(z) - generator.train()(z)).abs().mean() < 0.01  # stale ones: about 0.05


def test_vaegan_trains_the_encoder_alone_then_all_three_then_refits_the_encoder_to_the_average():
    torch.manual_seed(0)
    model = VAEGAN(latent_dim=8, width=4, hidden=16).train()
    trainer = VAEGANTrainer(model, 1e-2, 10, encoder_share=0.5, refit_share=0.2)
    x, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
    gan_part = {**_weights(model.decoder), **{f"D.{k}": v for k, v in _weights(model.discriminator).items()}}

    def unchanged():
        now = {**_weights(model.decoder), **{f"D.{k}": v for k, v in _weights(model.discriminator).items()}}
        return all(torch.equal(gan_part[k], now[k]) for k in gan_part)

    encoder = _weights(model.encoder)
    for _ in range(5):
        assert set(trainer.step(x, y)) == {"kl", "squared_error", "class_loss"}
    assert unchanged()                                                    # phase 1: the GAN's half untouched
    assert not torch.equal(encoder["0.weight"], model.encoder[0].weight)
    steps = []
    for _ in range(3):                                                    # phase 2: all three
        assert {"d_loss", "gen", "certainty"} <= set(trainer.step(x, y))
        steps.append({k: p.detach().clone() for k, p in model.decoder.named_parameters()})
    expected = moving_average_by_hand(steps, trainer.ema_decay)
    assert not unchanged()
    encoder = _weights(model.encoder)
    gan_part = {**_weights(model.decoder), **{f"D.{k}": v for k, v in _weights(model.discriminator).items()}}
    assert set(trainer.step(x, y)) == {"kl", "squared_error"}             # phase 3: the average decoder, fixed
    for k, p in model.decoder.named_parameters():
        assert torch.allclose(p, expected[k], atol=1e-6), k
    averaged = _weights(model.decoder)
    trainer.step(x, y)
    assert not torch.equal(encoder["0.weight"], model.encoder[0].weight)
    assert all(torch.equal(v, model.decoder.state_dict()[k]) for k, v in averaged.items())
    trainer.finish(x, y)
    assert all(torch.equal(v, model.decoder.state_dict()[k]) for k, v in averaged.items())
    for k, b in model.decoder.named_buffers():                          # the GAN's batch-norm statistics
        assert torch.equal(b, gan_part[k]), k


def test_vaegan_can_start_from_a_trained_gan():
    gan = GAN(latent_dim=8, width=4).eval()
    vaegan = VAEGAN(latent_dim=8, width=4).adopt(gan).eval()
    z = torch.randn(5, 8)
    with torch.no_grad():
        assert torch.equal(vaegan.decode(z), gan.generator(z))
        x = torch.rand(5, 1, 28, 28)
        assert torch.equal(vaegan.discriminator(x), gan.discriminator(x))
    assert vaegan.encode(torch.rand(3, 1, 28, 28))[0].shape == (3, 8)


def test_cli_refuses_to_start_from_a_checkpoint_of_another_kind(tmp_path):
    folder = tmp_path / "ae"
    deepgen.checkpoint.save(recipes.get("ae").build(latent_dim=4), folder, command="test")
    with pytest.raises(SystemExit) as exit_:
        main(["vae", "--init", str(folder), "--limit", "64", "--epochs", "1", "--out", str(tmp_path / "out")])
    assert str(exit_.value.code) == f"error: a vae cannot start from the ae at {folder}"


def test_vaegan_recipe_starts_from_the_gan_checkpoint(tmp_path):
    gan = GAN(latent_dim=8, width=8)
    deepgen.checkpoint.save(gan, tmp_path / "gan", command="test")
    config = training.resolve("vaegan", epochs=1, limit=64, batch_size=32, init=str(tmp_path / "gan"),
                              latent_dim=8, width=8)
    run_ = training.Run(config)
    saved = deepgen.load(tmp_path / "gan")
    with torch.no_grad():
        z = torch.randn(3, 8)
        assert torch.equal(run_.model.eval().decode(z), saved.generator(z))


def test_pyproject_declares_the_requirements_spaces_install():
    import tomllib
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    required = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert sorted(declared) == sorted(required)
