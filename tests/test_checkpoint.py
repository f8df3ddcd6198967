"""deepgen.save / deepgen.load: round trips, strictness, clear errors, atomic saves."""
import copy
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

import deepgen
from deepgen import checkpoint
from deepgen.models import CVAE, GAN, VAE, VAEGAN, Autoencoder, Classifier, SiameseNet

X = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
Z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
Y = torch.tensor([1, 4, 4])

# case (the kind, or kind-variant) -> (small model with non-default arguments, deterministic outputs in eval mode)
MODELS = {
    "ae": (lambda: Autoencoder(latent_dim=8, width=8, hidden=32),
           lambda m: [m(X), m.encode(X), m.decode(Z)]),
    "vae": (lambda: VAE(latent_dim=8, width=8, hidden=32, deep=True),
            lambda m: [*m.encode(X), m.decode(Z)]),
    "vae-rows": (lambda: VAE(latent_dim=8, width=8, hidden=32, context_rows=2, context_reach=2,
                             context_channels=4, context_dropout=0.3),
                 lambda m: [*m.encode(X), m.decode(Z), m.decode_logits(Z, X)]),
    "cvae": (lambda: CVAE(latent_dim=8, width=8, hidden=32),
             lambda m: [*m.encode(X, Y), m.decode(Z, Y)]),
    "cvae-deep": (lambda: CVAE(latent_dim=8, width=8, hidden=32, deep=True),
                  lambda m: [*m.encode(X, Y), m.decode(Z, Y)]),
    "cvae-rows": (lambda: CVAE(latent_dim=8, width=8, hidden=32, context_rows=1, context_channels=4),
                  lambda m: [*m.encode(X, Y), m.decode(Z, Y), m.decode_logits(Z, X, Y)]),
    "gan": (lambda: GAN(latent_dim=8, width=8),
            lambda m: [m(Z), m.discriminator(X)]),
    "vaegan": (lambda: VAEGAN(latent_dim=8, width=8, hidden=32),
               lambda m: [*m.encode(X), m.decode(Z), m.discriminator(X)]),
    "siamese": (lambda: SiameseNet(loss="cosface", embedding_dim=8, margin=0.2, scale=12.0, width=8),
                lambda m: [m.embed(X), m.loss.logits(m(X)), m.loss(m(X), Y)]),
    "classifier": (lambda: Classifier(width=8, feature_dim=16),
                   lambda m: [m(X)]),
}


def trained_looking(kind):
    """A model whose weights and BatchNorm statistics differ from a fresh one's."""
    torch.manual_seed(list(MODELS).index(kind))
    model = MODELS[kind][0]()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def outputs(kind, model):
    """The model's outputs as a flat list of tensors (an `encode` gives a tuple)."""
    with torch.no_grad():
        results = MODELS[kind][1](model)
    flat = [t for r in results for t in (r if isinstance(r, tuple) else (r,))]
    return [t for t in flat if t is not None]


def rounded_to_half(model):
    """A copy of `model` whose float32 tensors went through float16, as a half save stores them."""
    copied = copy.deepcopy(model)
    with torch.no_grad():
        for t in copied.state_dict().values():
            if t.dtype == torch.float32:
                t.copy_(t.half().float())
    return copied


@pytest.mark.parametrize("half", [True, False], ids=["float16", "float32"])
@pytest.mark.parametrize("kind", list(MODELS))
def test_round_trip_gives_identical_outputs(kind, half, tmp_path):
    model = trained_looking(kind)
    deepgen.save(model, tmp_path / kind, command=f"python -m train {kind}", metrics={"score": 0.5}, half=half)
    loaded = deepgen.load(tmp_path / kind)
    assert type(loaded) is type(model)
    assert not loaded.training and not any(m.training for m in loaded.modules())
    assert all(t.dtype != torch.float16 for t in loaded.state_dict().values())
    expected = rounded_to_half(model) if half else model
    for a, b in zip(outputs(kind, expected), outputs(kind, loaded), strict=True):
        assert torch.equal(a, b)
    assert loaded.config["weights_dtype"] == ("float16" if half else "float32")
    assert loaded.metrics == {"score": 0.5}
    assert loaded.config["kind"] == kind.split("-")[0] and loaded.config["command"] == f"python -m train {kind}"


def test_loaded_model_keeps_its_constructor_arguments(tmp_path):
    deepgen.save(trained_looking("siamese"), tmp_path / "s")
    loaded = deepgen.load(tmp_path / "s")
    assert loaded.loss_name == "cosface"
    assert loaded.loss.margin == 0.2 and loaded.loss.scale == 12.0
    assert loaded.loss.W.shape == (10, 8)


def test_checkpoint_folder_holds_the_documented_files(tmp_path):
    deepgen.save(trained_looking("vae"), tmp_path / "vae", command="python -m train vae --epochs 3")
    names = {p.name for p in (tmp_path / "vae").iterdir()}
    assert names == {"config.json", "model.safetensors", "metrics.json", "README.md"}
    assert "python -m train vae --epochs 3" in (tmp_path / "vae" / "README.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder, no lock file


def test_half_save_stores_float16_like_the_bundled_checkpoints(tmp_path):
    from safetensors import safe_open

    model = trained_looking("gan")
    deepgen.save(model, tmp_path / "half")
    deepgen.save(model, tmp_path / "full", half=False)
    with safe_open(str(tmp_path / "half" / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16", "I64"}  # I64: BatchNorm counters
    assert (tmp_path / "half" / "model.safetensors").stat().st_size < 0.6 * (
        tmp_path / "full" / "model.safetensors").stat().st_size
    assert torch.equal(deepgen.load(tmp_path / "half").generator[1].num_batches_tracked,
                       model.generator[1].num_batches_tracked)
    assert json.loads((tmp_path / "half" / "config.json").read_text())["weights_dtype"] == "float16"


def test_card_shows_description_command_training_and_metrics(tmp_path):
    from huggingface_hub import ModelCard

    training = {"epochs": 3, "batch_size": 128, "lr": 0.001, "beta": None}
    folder = deepgen.save(trained_looking("vae"), tmp_path / "vae", command="python -m train vae --epochs 3",
                          metrics={"fid": 12.5, "iwae_k": 64}, description="A test VAE.", training=training)
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "deepgen" and card.data.license == "mit"
    assert {"mnist", "deepgen", "vae"} <= set(card.data.tags)
    text = card.text
    assert "A test VAE." in text and 'deepgen.load("path-or-repo-id")' in text
    assert "## Training command\n\n```\npython -m train vae --epochs 3\n```" in text
    assert '"batch_size": 128' in text and "| fid | 12.5000 |" in text and "| iwae_k | 64 |" in text
    config = json.loads((folder / "config.json").read_text())
    assert config["training"] == training
    deepgen.checkpoint.write_metrics(folder, {"fid": 11.0})  # the card is rebuilt with the same text around it
    text = ModelCard.load(folder / "README.md").text
    assert "A test VAE." in text and '"batch_size": 128' in text and "| fid | 11.0000 |" in text
    assert "iwae_k" not in text


def test_card_fences_a_command_that_holds_backticks(tmp_path):
    command = "python -m train vae --note ```oops```"
    folder = deepgen.save(trained_looking("vae"), tmp_path / "vae", command=command)
    text = (folder / "README.md").read_text()
    assert f"````\n{command}\n````" in text


def test_saving_again_keeps_files_beside_the_checkpoint(tmp_path):
    folder = tmp_path / "ae"
    deepgen.save(trained_looking("ae"), folder)
    (folder / "previews").mkdir()
    (folder / "previews" / "epoch_001.png").write_bytes(b"png")
    model = trained_looking("ae")
    with torch.no_grad():
        model.decoder[0].bias.add_(1.0)
    deepgen.save(model, folder, half=False)
    assert (folder / "previews" / "epoch_001.png").read_bytes() == b"png"
    assert torch.equal(outputs("ae", deepgen.load(folder))[0], outputs("ae", model)[0])


# --- broken checkpoints ---

@pytest.fixture
def good(tmp_path):
    folder = tmp_path / "good"
    deepgen.save(trained_looking("ae"), folder)
    return folder


def rewrite_weights(folder, change):
    path = folder / "model.safetensors"
    state = load_file(str(path))
    change(state)
    save_file(state, str(path), metadata={"format": "pt"})
    return path


def expect_error_naming(path, folder):
    with pytest.raises(deepgen.CheckpointError) as err:
        deepgen.load(folder)
    assert str(path) in str(err.value)
    return str(err.value)


def test_missing_tensor(good):
    path = rewrite_weights(good, lambda s: s.pop("decoder.0.weight"))
    assert "decoder.0.weight" in expect_error_naming(path, good)


def test_extra_tensor(good):
    path = rewrite_weights(good, lambda s: s.update({"surplus.weight": torch.zeros(3)}))
    assert "surplus.weight" in expect_error_naming(path, good)


def test_wrong_shaped_tensor(good):
    def widen(state):
        state["decoder.0.weight"] = torch.zeros(33, 8)
    path = rewrite_weights(good, widen)
    assert "decoder.0.weight" in expect_error_naming(path, good)


@pytest.mark.parametrize("garbage", [b"", b"not a safetensors file at all" * 40])
def test_corrupted_weights(good, garbage):
    path = good / "model.safetensors"
    path.write_bytes(garbage)
    expect_error_naming(path, good)


def test_truncated_weights(good):
    path = good / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    expect_error_naming(path, good)


def test_missing_weights(good):
    path = good / "model.safetensors"
    path.unlink()
    expect_error_naming(path, good)


def test_missing_config(good):
    path = good / "config.json"
    path.unlink()
    expect_error_naming(path, good)


@pytest.mark.parametrize("config", [{"kind": "diffusion"}, {}, ["ae"], "not json {"])
def test_config_without_a_known_kind(good, config):
    path = good / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    expect_error_naming(path, good)


def test_config_with_a_bad_argument(good):
    path = good / "config.json"
    path.write_text(json.dumps({"kind": "siamese", "loss": "no-such-loss"}))
    expect_error_naming(path, good)


# --- interrupted saves ---

def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_failure_while_writing_the_card_leaves_the_old_checkpoint(good, monkeypatch):
    before, expected = snapshot(good), outputs("ae", deepgen.load(good))

    def broken_card(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(checkpoint, "model_card", broken_card)
    with pytest.raises(OSError, match="disk full"):
        deepgen.save(trained_looking("vae"), good)
    assert snapshot(good) == before
    loaded = deepgen.load(good)
    assert isinstance(loaded, Autoencoder)
    assert all(torch.equal(a, b) for a, b in zip(outputs("ae", loaded), expected))


def test_failure_inside_save_pretrained_leaves_the_old_checkpoint(good, monkeypatch):
    before = snapshot(good)
    original = Autoencoder.save_pretrained

    def half_written(self, folder, **kwargs):
        original(self, folder, **kwargs)
        (folder / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt
    monkeypatch.setattr(Autoencoder, "save_pretrained", half_written)
    with pytest.raises(KeyboardInterrupt):
        deepgen.save(trained_looking("ae"), good)
    assert snapshot(good) == before
    assert isinstance(deepgen.load(good), Autoencoder)


# --- the Hub ---

def test_unknown_hub_repo_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(deepgen.CheckpointError) as err:
        deepgen.load("deepgen-tests/no-such-checkpoint-7f3a")
    message = str(err.value)
    assert "deepgen-tests/no-such-checkpoint-7f3a" in message
    assert "offline" in message or "HF_HUB_OFFLINE" in message


def test_neither_folder_nor_repo_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(deepgen.CheckpointError, match="neither a checkpoint folder nor a Hub repo id"):
        deepgen.load("no/such/folder")


def test_halve_keeps_outputs_and_records_the_step(tmp_path):
    from deepgen.checkpoint import halve
    from deepgen.models import VAE

    torch.manual_seed(0)
    model = VAE(latent_dim=4).eval()
    folder = deepgen.save(model, tmp_path / "vae", command="python -m train vae", half=False)
    before = (folder / "model.safetensors").stat().st_size
    halve(folder)
    loaded = deepgen.load(folder)
    h = torch.randn(3, 4)
    assert torch.allclose(loaded.decode(h), model.decode(h), atol=2e-3)
    assert (folder / "model.safetensors").stat().st_size < 0.6 * before
    assert loaded.config["weights_dtype"] == "float16"
    assert loaded.config["command"] == f"python -m train vae && python -m train.halve {folder}"
    assert loaded.config["command"] in (folder / "README.md").read_text()
