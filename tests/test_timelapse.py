"""The time-lapse of a GAN's training: filmed on schedule without changing the run, bounded in
size, carried by save/load/zips, resumed exactly, read safely, and played back by the Generate tab."""
import functools
import os
import types
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import deepgen
from deepgen import checkpoint, inference, timelapse as T, training
from deepgen.images import to_uint8
from deepgen.models import GAN, VAEGAN
from deepgen.trainers import GANTrainer

TINY = dict(epochs=2, limit=128, batch_size=32, width=8)     # 8 steps: every step is filmed


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@functools.cache
def tiny_run(name="gan"):
    run = training.Run(training.resolve(name, **TINY), device="cpu")
    list(run.events())
    return run


def same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def filled(frames=T.FRAMES, side=28):
    """A time-lapse of `frames` frames of random pixels (the least compressible content)."""
    g = torch.Generator().manual_seed(0)
    timelapse = T.TimeLapse()
    timelapse.steps = [k * 100 for k in range(frames)]
    timelapse.frames = [torch.randint(0, 256, (T.SAMPLES, side, side), generator=g, dtype=torch.uint8)
                        for _ in range(frames)]
    timelapse.d_real = [0.75] * frames
    timelapse.d_fake = [0.25] * frames
    return timelapse


# --- the schedule ---

@pytest.mark.parametrize("total", [1, 8, 31, 32, 500, 1500, 14070, 86 * 937])
def test_the_schedule_films_the_start_and_the_end_within_the_frame_budget(total):
    steps = T.schedule(total)
    assert steps[0] == 0 and steps[-1] == total and len(steps) <= T.FRAMES
    assert steps == sorted(set(steps))
    if total < T.FRAMES:
        assert steps == list(range(total + 1))


def test_a_long_run_is_filmed_densely_at_the_start():
    total = 86 * 937
    steps = T.schedule(total)
    assert len(steps) == T.FRAMES
    assert sum(s <= total * 0.02 for s in steps) >= 10          # digits emerge in the first steps
    gaps = np.diff([s for s in steps if s > total * 0.1])
    assert gaps.max() - gaps.min() <= 1                          # then evenly


# --- recording ---

@pytest.mark.parametrize("name", ["gan", "vaegan"])
def test_a_gan_run_films_every_scheduled_step(name):
    if name == "vaegan":
        run = training.Run(training.resolve("vaegan", epochs=1, limit=64, batch_size=32, width=8, hidden=16),
                           device="cpu")
        assert isinstance(run.model, VAEGAN)
        list(run.events())
    else:
        run = tiny_run()
    timelapse = run.timelapse
    assert run.model.timelapse is timelapse
    assert timelapse.steps == T.schedule(run.steps)
    assert all(f.shape == (T.SAMPLES, 28, 28) and f.dtype == torch.uint8 for f in timelapse.frames)
    assert all(0 < d < 1 for d in timelapse.d_real + timelapse.d_fake)
    assert not torch.equal(timelapse.frames[0], timelapse.frames[-1])       # G changed
    # the last frame is the model handed out, on the codes the Generate tab draws for seed 0
    run.model.eval()
    assert torch.equal(timelapse.frames[-1], torch.from_numpy(to_uint8(inference.generate(run.model, 32, 0)[:16, 0])))


def test_other_runs_film_nothing():
    run = training.Run(training.resolve("ae", epochs=1, limit=64, batch_size=32), device="cpu")
    assert run.timelapse is None and "timelapse" not in run.state_dict()


def test_filming_changes_nothing_in_the_run(monkeypatch):
    filmed = tiny_run()
    monkeypatch.setattr(GANTrainer, "timelapse", False)
    plain = training.Run(training.resolve("gan", **TINY), device="cpu")
    list(plain.events())
    assert plain.timelapse is None
    a, b = filmed.model.state_dict(), plain.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_in_pieces_films_the_same_time_lapse(tmp_path):
    straight = tiny_run()
    first = training.Run(training.resolve("gan", **TINY), device="cpu")
    list(first.events(until_epoch=1))
    assert 0 < len(first.timelapse) < len(straight.timelapse)
    training.save_state(first, tmp_path / "state.pt")
    second = training.resume(tmp_path / "state.pt")
    assert second.timelapse.steps == first.timelapse.steps
    list(second.events())
    assert same(second.timelapse, straight.timelapse)
    assert second.model.timelapse is second.timelapse


# --- size ---

def test_a_full_time_lapse_stays_a_few_hundred_kilobytes():
    timelapse = filled()
    size = len(timelapse.to_bytes())
    assert T.FRAMES * T.SAMPLES * 28 * 28 <= size < 410_000
    assert same(T.from_bytes(timelapse.to_bytes()), timelapse)


# --- with the checkpoint ---

def test_save_and_load_carry_the_time_lapse(tmp_path):
    model = tiny_run().model
    folder = deepgen.save(model, tmp_path / "gan")
    assert (folder / T.FILE).is_file()
    loaded = deepgen.load(folder)
    assert same(loaded.timelapse, model.timelapse)
    zipped = deepgen.load(checkpoint.save_zip(loaded, tmp_path / "gan.zip"))   # a loaded model saves it again
    assert same(zipped.timelapse, model.timelapse)


def test_a_checkpoint_without_a_time_lapse_loads(tmp_path):
    folder = deepgen.save(GAN(width=8), tmp_path / "gan")
    assert not (folder / T.FILE).exists()
    assert deepgen.load(folder).timelapse is None
    assert deepgen.load(checkpoint.save_zip(GAN(width=8), tmp_path / "gan.zip")).timelapse is None


def test_saving_a_model_without_one_drops_the_old_time_lapse(tmp_path):
    folder = deepgen.save(tiny_run().model, tmp_path / "gan")
    (folder / "notes.txt").write_text("kept")
    deepgen.save(GAN(width=8), folder)
    assert not (folder / T.FILE).exists() and (folder / "notes.txt").read_text() == "kept"


@pytest.mark.parametrize("damage", [
    lambda s: b"not safetensors at all",
    lambda s: s[: len(s) // 2],
    lambda s: b"\0" * (T.MAX_BYTES + 1),
])
def test_unreadable_bytes_are_refused(damage):
    with pytest.raises(T.TimeLapseError):
        T.from_bytes(damage(filled(3).to_bytes()))


@pytest.mark.parametrize("change", [
    {"extra": torch.zeros(1)},
    {"d_real": torch.tensor([0.5, 1.5, 0.5])},
    {"d_fake": torch.tensor([0.5, float("nan"), 0.5])},
    {"d_fake": torch.tensor([0.5, 0.5])},
    {"steps": torch.tensor([0, 200, 100])},
    {"steps": torch.tensor([0.0, 1.0, 2.0])},
    {"frames": torch.zeros(3, 16, 28, 28, dtype=torch.float32)},
    {"frames": torch.zeros(3, 16, 28, 1000, dtype=torch.uint8)},
    {"frames": torch.zeros(3, 28, 28, dtype=torch.uint8)},
])
def test_tensors_other_than_a_time_lapse_are_refused(change):
    from safetensors.torch import save
    state = {k: v for k, v in filled(3).state_dict().items()}
    state.update(change)
    with pytest.raises(T.TimeLapseError):
        T.from_bytes(save(state))


def test_a_broken_time_lapse_is_left_out_and_the_model_loads(tmp_path):
    folder = deepgen.save(tiny_run().model, tmp_path / "gan")
    (folder / T.FILE).write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="left out"):
        model = deepgen.load(folder)
    assert isinstance(model, GAN) and model.timelapse is None


def test_a_pipe_in_place_of_the_time_lapse_does_not_block(tmp_path):
    folder = deepgen.save(GAN(width=8), tmp_path / "gan")
    os.mkfifo(folder / T.FILE)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert deepgen.load(folder).timelapse is None


# --- the CLI writes it into the output folder ---

def test_cli_run_in_pieces_saves_the_time_lapse_beside_the_weights(tmp_path, monkeypatch):
    from train.__main__ import main
    monkeypatch.setitem(training.recipes.get("gan").model_args, "width", 8)
    out = tmp_path / "gan"
    main(["gan", "--limit", "128", "--epochs", "2", "--batch-size", "32", "--until-epoch", "1", "--out", str(out),
          "--device", "cpu"])
    assert not (out / T.FILE).exists() and len(training.load_state(out / "resume.pt")["timelapse"]["steps"]) == 5
    main(["gan", "--resume", str(out), "--device", "cpu"])
    assert same(deepgen.load(out).timelapse, tiny_run().timelapse)


# --- playback in the Generate tab ---

@pytest.fixture
def visitor(app_checkpoints):
    from webapp import registry
    request = types.SimpleNamespace(session_hash="timelapse-visitor")
    yield request
    registry.STORE.clear_all()


def test_playback_shows_a_frame_its_step_and_the_scores(visitor):
    from webapp import registry
    from webapp.tabs import generate
    timelapse = tiny_run().timelapse
    registry.put("gan", tiny_run().model, session=visitor.session_hash)
    column, slider, picture, line, plot = generate.timelapse_open("gan", request=visitor)
    assert column.visible is True and slider.maximum == len(timelapse) - 1 and slider.value == len(timelapse) - 1
    assert picture.shape == (4 * 30 + 2, 4 * 30 + 2) and picture.dtype == np.uint8
    picture, line, plot = generate.timelapse_frame("gan", 2, request=visitor)
    assert np.array_equal(picture, timelapse.picture(2))
    assert f"Step {timelapse.steps[2]}" in line and f"{timelapse.d_fake[2]:.2f}" in line
    assert isinstance(plot, pd.DataFrame)
    real = plot[plot.series == "D(real images)"]
    assert real.step.tolist() == timelapse.steps and np.allclose(real.D, timelapse.d_real, atol=1e-4)
    marker = plot[plot.series == "this frame"]
    assert marker.step.tolist() == [timelapse.steps[2]] * 2
    assert generate.timelapse_frame("gan", 10**6, request=visitor)[1].startswith(f"**Step {timelapse.steps[-1]}")


def test_playback_of_a_model_without_a_time_lapse_says_how_to_get_one(visitor):
    from webapp.tabs import generate
    column, _, picture, line, _ = generate.timelapse_open("gan", request=visitor)     # the untrained fixture GAN
    assert column.visible is False and picture is None
    assert "no time-lapse" in line and "python -m train gan" in line and "\n" not in line
    picture, line, plot = generate.timelapse_frame("vaegan", 3, request=visitor)
    assert picture is None and "python -m train vaegan" in line and plot.empty
    assert "python -m train gan --dataset fashion-mnist" in generate.no_timelapse("gan", "fashion-mnist")


def test_a_model_without_a_time_lapse_points_to_the_one_that_has_it(visitor):
    from webapp import registry
    from webapp.tabs import generate
    registry.put("vaegan", tiny_run("vaegan").model, session=visitor.session_hash)
    column, _, picture, line, _ = generate.timelapse_open("gan", request=visitor)     # the untrained fixture GAN
    assert column.visible is False and picture is None
    assert "no time-lapse" in line and line.endswith("The VAE-GAN's training was filmed: pick it above.")
    column, *_ = generate.timelapse_open("vaegan", request=visitor)
    assert column.visible is True


def test_playback_refuses_an_unknown_model(visitor):
    import gradio as gr
    from webapp.tabs import generate
    with pytest.raises(gr.Error, match="Choose one of"):
        generate.timelapse_frame("vae", 0, request=visitor)
