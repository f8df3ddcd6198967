"""The data-set option: the registry, Fashion-MNIST through training, the checkpoint, the model
card, evaluation and the CLI, the message when its files are missing, and the bundled
Fashion-MNIST checkpoints (their floors, on a subset of the test set)."""
import dataclasses
import json
import os
from argparse import Namespace
from pathlib import Path

import pytest
import torch

import deepgen
from deepgen import DataMissing, checkpoint, recipes, training
from deepgen import data as D
from deepgen import metrics as M
from deepgen.evaluation import Judge, evaluate
from deepgen.losses import negative_elbo
from train import evaluate as train_evaluate
from train.__main__ import canonical_command, main, parser

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ["DEEPGEN_DATA"])
FASHION = "fashion-mnist"
BUNDLED = ROOT / "checkpoints" / FASHION
TINY = dict(limit=128, epochs=1, batch_size=64, device="cpu", log_every=1)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fashion_test():
    return D.tensors(FASHION, train=False, data_dir=SHARED)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A Fashion-MNIST classifier trained for a few steps, saved as `python -m train` saves it."""
    config = training.resolve("classifier", dataset=FASHION, limit=TINY["limit"], epochs=1, batch_size=64)
    run = training.Run(config, device="cpu")
    *_, last = run.events()
    assert last.done
    return checkpoint.save(run.model.cpu(), tmp_path_factory.mktemp("fashion") / "classifier",
                           training=config.to_dict(), command="python -m train classifier --dataset fashion-mnist")


def test_every_entry_is_complete():
    for name, ds in D.DATASETS.items():
        assert D.get(name) is ds and ds.name == name
        assert len(ds.classes) == 10 and len(set(ds.classes)) == 10
        assert ds.input in ("draw", "picture") and ds.input_note
        assert ds.source().__name__ == ds.folder
    assert D.class_names("mnist") == tuple("0123456789")
    assert D.class_names(FASHION)[1] == "Trouser" and D.class_names(FASHION)[9] == "Ankle boot"
    assert (D.get("mnist").input, D.get(FASHION).input) == ("draw", "picture")
    with pytest.raises(ValueError, match="mnist, fashion-mnist"):
        D.get("cifar")


def test_fashion_mnist_is_read_from_its_own_folder(fashion_test, offline):
    x, y = fashion_test
    mnist_x, mnist_y = D.mnist_tensors(train=False, data_dir=SHARED)
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0 <= x.min() and x.max() <= 1                      # plain [0, 1], like MNIST
    assert int(y[0]) == 9 and int(mnist_y[0]) == 7          # an ankle boot, not MNIST's first 7
    assert not torch.equal(x, mnist_x)
    assert torch.bincount(y).tolist() == [1000] * 10
    assert offline == []


def test_missing_fashion_mnist_names_both_settings(tmp_path, offline):
    (tmp_path / "MNIST").symlink_to(SHARED / "MNIST")       # MNIST is there, Fashion-MNIST is not
    with pytest.raises(DataMissing) as err:
        D.tensors(FASHION, train=True, data_dir=tmp_path, download=False)
    message = str(err.value)
    assert offline == []
    assert "Fashion-MNIST" in message and "FashionMNIST/raw" in message and str(tmp_path) in message
    assert "--data-dir" in message and "DEEPGEN_DATA" in message
    D.mnist_tensors(train=False, data_dir=tmp_path)          # MNIST itself is still found

    with pytest.raises(DataMissing, match="Fashion-MNIST was not found.*--data-dir"):
        D.tensors(FASHION, train=False, data_dir=tmp_path)     # tries the download, which fails offline
    assert offline


def test_cli_without_fashion_mnist_says_one_sentence(tmp_path, offline, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["classifier", "--dataset", FASHION, "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    message = str(exit_.value.code)
    assert message.startswith("error: Fashion-MNIST was not found") and "--data-dir" in message
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "out" / "config.json").exists()


def test_the_option_goes_through_training():
    config = training.resolve("classifier", dataset=FASHION, limit=128)
    mnist_config = training.resolve("classifier", limit=128)
    assert config.dataset == FASHION and mnist_config.dataset == "mnist"
    assert config.data_sha256 != mnist_config.data_sha256
    fashion_train = D.tensors(FASHION, train=True, data_dir=SHARED)
    run = training.Run(config, device="cpu")
    assert torch.equal(run.images, fashion_train[0][:128]) and torch.equal(run.labels, fashion_train[1][:128])
    events = list(training.train("classifier", dataset=FASHION, **TINY))
    assert events[-1].done and events[-1].step == 2
    with pytest.raises(ValueError, match="unknown data set"):
        training.resolve("classifier", dataset="cifar", limit=128)


def test_an_old_run_state_without_a_data_set_is_mnist():
    state = training.resolve("classifier", limit=64).to_dict()
    del state["dataset"]
    assert training.TrainConfig(**state).dataset == "mnist"


def test_recipe_values_per_data_set(monkeypatch):
    recipe = recipes.get("classifier")
    monkeypatch.setitem(recipes.RECIPES, "classifier", dataclasses.replace(
        recipe, datasets={FASHION: {"epochs": recipe.epochs + 3}}))
    assert recipes.get("classifier", FASHION).epochs == recipe.epochs + 3
    assert recipes.get("classifier", "mnist").epochs == recipes.get("classifier").epochs == recipe.epochs
    assert training.resolve("classifier", dataset=FASHION, limit=64).epochs == recipe.epochs + 3
    assert training.resolve("classifier", dataset=FASHION, limit=64, epochs=2).epochs == 2


def test_a_recipe_may_give_one_data_set_another_network():
    mnist, fashion = training.resolve("cvae", limit=64), training.resolve("cvae", dataset=FASHION, limit=64)
    assert (mnist.model_args["deep"], mnist.model_args["context_rows"]) == (False, 0)
    assert (fashion.model_args["deep"], fashion.model_args["context_rows"]) == (True, 1)
    assert fashion.model_args["latent_dim"] == mnist.model_args["latent_dim"]
    assert (mnist.trainer_args["label_weight"], fashion.trainer_args["label_weight"]) == (0.0, 10.0)
    model = bundled("cvae")
    assert model.config["deep"] and model.rows is not None   # the bundled one is that network
    assert model.config["training"]["trainer_args"] == fashion.trainer_args
    assert model.config["description"].startswith(recipes.get("cvae", FASHION).description)   # says so
    assert "label term" in model.config["description"] and "label term" not in recipes.get("cvae").description


def test_the_checkpoint_carries_its_data_set(tiny_checkpoint):
    model = deepgen.load(tiny_checkpoint)
    assert D.dataset_of(model).name == FASHION
    assert model.config["training"]["dataset"] == FASHION
    card = (tiny_checkpoint / "README.md").read_text()
    assert '"dataset": "fashion-mnist"' in card and "trained on Fashion-MNIST" in card


def test_old_checkpoints_are_mnist(tmp_path):
    old = deepgen.load(ROOT / "checkpoints" / "classifier")     # saved before there was a choice
    assert "dataset" not in old.config["training"] and D.dataset_of(old).name == "mnist"
    bare = checkpoint.save(recipes.get("ae").build(), tmp_path / "ae")   # no training settings at all
    assert D.dataset_of(deepgen.load(bare)).name == "mnist"
    assert D.dataset_of(torch.nn.Linear(1, 1)).name == "mnist"           # no config: a model just built
    stranger = recipes.get("ae").build()
    stranger.config = {"training": {"dataset": "cifar"}}
    with pytest.raises(ValueError, match="'cifar', a data set deepgen does not know"):
        D.dataset_of(stranger)


def test_evaluation_uses_the_models_own_test_set(tiny_checkpoint, fashion_test):
    model = deepgen.load(tiny_checkpoint)
    metrics = evaluate(model, recipes.of(model).evaluate, data_dir=SHARED, limit=256)
    x, y = fashion_test
    with torch.no_grad():
        expected = float((model(x[:256]).argmax(1) == y[:256]).double().mean())
    assert metrics == {"test_accuracy": pytest.approx(expected)}
    mnist_judge = Judge(deepgen.load(ROOT / "checkpoints" / "classifier"))
    with pytest.raises(ValueError, match="trained on MNIST, the model on Fashion-MNIST"):
        evaluate(model, recipes.of(model).evaluate, judge=mnist_judge, data_dir=SHARED, limit=256)


def test_evaluate_finds_each_data_sets_classifier(tiny_checkpoint, tmp_path):
    root = tmp_path / "checkpoints"
    mnist_model = checkpoint.save(recipes.get("classifier").build(), root / "classifier")
    (root / FASHION).mkdir()
    (root / FASHION / "classifier").symlink_to(tiny_checkpoint)
    assert train_evaluate.bundled(root) == [mnist_model, root / FASHION / "classifier"]
    assert train_evaluate.label(root / FASHION / "classifier") == "fashion-mnist/classifier"
    assert train_evaluate.label(mnist_model) == "classifier"
    args = Namespace(classifier=None, root=str(root))
    assert train_evaluate.judge_of(FASHION, args).dataset == FASHION
    assert train_evaluate.judge_of("mnist", args).dataset == "mnist"
    wrong = Namespace(classifier=str(mnist_model), root=str(root))
    with pytest.raises(ValueError, match="need a classifier of Fashion-MNIST"):
        train_evaluate.judge_of(FASHION, wrong)


def test_the_cli_records_the_flag_in_the_card(tmp_path):
    out = tmp_path / "run"
    main(["classifier", "--dataset", FASHION, "--epochs", "1", "--batch-size", "64", "--limit", "128",
          "--data-dir", str(SHARED), "--out", str(out)])
    config = json.loads((out / "config.json").read_text())
    command = "python -m train classifier --dataset fashion-mnist --epochs 1 --batch-size 64 --limit 128"
    assert config["command"] == command and command in (out / "README.md").read_text()
    assert config["training"]["dataset"] == FASHION
    assert D.dataset_of(deepgen.load(out)).name == FASHION


def test_the_cli_describes_a_recipe_as_it_is_for_the_data_set(tmp_path):
    out = tmp_path / "run"
    main(["cvae", "--dataset", FASHION, "--epochs", "1", "--batch-size", "32", "--limit", "64",
          "--data-dir", str(SHARED), "--out", str(out)])
    description = json.loads((out / "config.json").read_text())["description"]
    assert description == recipes.get("cvae", FASHION).description + "; trained on Fashion-MNIST"
    assert "with the label term" in description and "with the label term" in (out / "README.md").read_text()


@pytest.mark.parametrize("argv,command", [
    (["vae"], "python -m train vae"),
    (["vae", "--dataset", "mnist"], "python -m train vae"),                 # the default is not spelled out
    (["vae", "--dataset=fashion-mnist", "--epochs", "3"], "python -m train vae --dataset fashion-mnist --epochs 3"),
])
def test_canonical_command_names_the_data_set_only_when_not_mnist(argv, command):
    given = {a.lstrip("-").split("=")[0].replace("-", "_") for a in argv if a.startswith("--")}
    assert canonical_command(parser().parse_args(argv), given) == command


def test_vaegan_starts_from_the_gan_of_its_data_set():
    assert recipes.bundled_path("gan") == Path("checkpoints/gan")
    assert recipes.bundled_path("gan", FASHION) == Path("checkpoints/fashion-mnist/gan")


# --- the bundled Fashion-MNIST checkpoints hold their floors (on a subset: fast) ---

def bundled(name):
    model = deepgen.load(BUNDLED / name)
    assert D.dataset_of(model).name == FASHION
    assert "--dataset fashion-mnist" in model.config["command"]
    return model


def test_the_data_set_folder_is_no_checkpoint():
    assert not (BUNDLED / "config.json").exists()
    assert all((d / "config.json").exists() for d in BUNDLED.iterdir() if d.is_dir())


def test_bundled_classifier_is_accurate(fashion_test):
    x, y = fashion_test
    with torch.no_grad():
        assert (bundled("classifier")(x[:1000]).argmax(1) == y[:1000]).float().mean() > 0.935   # 0.944; 6 epochs: 0.932


def test_bundled_fashion_checkpoints_are_the_trained_ones():
    """The Fashion-MNIST checkpoints shipped today."""
    assert sorted(d.name for d in BUNDLED.iterdir() if (d / "config.json").exists()) == [
        "classifier", "cvae", "gan", "siamese-arcface", "vae2d"]


def test_bundled_gan_beats_the_vae(fashion_test):
    """The floor: the GAN's samples are nearer the test set, in the classifier's features, than the VAE's."""
    x, _ = fashion_test
    judge = Judge(bundled("classifier"))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        gan, vae = bundled("gan").sample(2000, generator=g), bundled("vae2d").sample(2000, generator=g)
    assert judge.fid(gan, x[:2000]) < judge.fid(vae, x[:2000])


def test_bundled_vae2d_models_the_test_set(fashion_test):
    x, _ = fashion_test
    model = bundled("vae2d")
    torch.manual_seed(0)
    with torch.no_grad():
        logits, mu, logvar = model(x[:500])
    assert mu.shape == (500, 2)
    assert negative_elbo(x[:500], logits, mu, logvar).mean() < 250          # 235 on the whole test set


def test_bundled_cvae_draws_the_class_it_is_given():
    labels = torch.arange(10).repeat_interleave(100)
    judge = Judge(bundled("classifier"))
    with torch.no_grad():
        samples = bundled("cvae").sample(len(labels), generator=torch.Generator().manual_seed(0), labels=labels)
    named_right = judge.probs(samples).argmax(1) == labels
    assert named_right.float().mean() > 0.95                                  # 0.987 on 10 000; the issue asks 0.90
    assert all(named_right[labels == c].float().mean() >= 0.85 for c in range(10))   # coats, shirts included


def test_bundled_siamese_arcface_retrieves(fashion_test):
    x, y = fashion_test
    with torch.no_grad():
        emb = bundled("siamese-arcface").embed(x[:2000])
    assert M.recall_at_1(emb, y[:2000]) > 0.895                                               # 0.906
