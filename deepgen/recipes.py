"""The recipe book: every model deepgen trains, in one list.

A recipe names a model and says how to make it: the model class and its arguments, the trainer
and its hyper-parameters (epochs, batch size, learning rate; the schedule is the trainer's; the
terms its loss adds), how to evaluate it, and what a checkpoint must be to serve in its place.
`python -m train NAME` with no options runs the recipe that made the bundled checkpoint
`checkpoints/NAME`; `python -m train NAME --dataset D` the one that made
`checkpoints/D/NAME` (`bundled_path`). A recipe may change values for one data set
(`datasets`). The CLI, the evaluation, the app's slots, the tests and the benchmarks all read
this list; adding a model means one entry here plus its class.
"""
import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import data as D
from . import evaluation as E
from . import trainers as T
from .metric_losses import LOSSES
from .models import CVAE, GAN, VAE, VAEGAN, Autoencoder, Classifier, SiameseNet


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    model: type
    model_args: dict
    trainer: type
    epochs: int
    batch_size: int
    lr: float
    evaluate: Callable
    trainer_args: dict = field(default_factory=dict)
    init_from: str | None = None    # the recipe whose checkpoint this one starts from
    requires: dict = field(default_factory=dict)   # what a model must have to serve in this recipe's place
    transfer: bool = False          # evaluation also compares a frozen-encoder classifier with one from scratch
    samples: bool = False           # evaluation scores prior samples (FID, classifier score)
    datasets: dict = field(default_factory=dict)   # data set → the values it changes ({"epochs": 12})
    bundled: bool = True            # checkpoints/NAME ships with the app

    @property
    def kind(self):
        return self.model.kind

    def resolved_model_args(self, **overrides):
        """Every constructor argument of the model, with the recipe's values and `overrides`."""
        params = {k: p.default for k, p in inspect.signature(self.model.__init__).parameters.items()
                  if k != "self" and p.default is not inspect.Parameter.empty}
        unknown = set(overrides) - set(params)
        if unknown:
            raise ValueError(f"recipe '{self.name}' ({self.model.__name__}) has no setting "
                             f"{', '.join(sorted(unknown))}")
        return {**params, **self.model_args, **overrides}

    def build(self, **overrides):
        return self.model(**self.resolved_model_args(**overrides))

    def check(self, model):
        """Raise ValueError unless `model` can serve in this recipe's place."""
        if getattr(model, "kind", None) != self.kind:
            raise ValueError(f"'{self.name}' needs a {self.kind} checkpoint, this one is a "
                             f"{getattr(model, 'kind', '?')}")
        for attr, value in self.requires.items():
            if getattr(model, attr, None) != value:
                raise ValueError(f"'{self.name}' needs {attr} = {value}, this model has {getattr(model, attr, None)}")


def _siamese(loss, epochs, datasets=None):
    _, margin, scale = LOSSES[loss]
    args = {"loss": loss, "embedding_dim": 64}
    args.update({k: v for k, v in (("margin", margin), ("scale", scale)) if v is not None})
    return Recipe(f"siamese-{loss}", f"Siamese network trained with the {loss} loss", SiameseNet, args,
                  T.SiameseTrainer, epochs, 256, 1e-3, E.evaluate_siamese, requires={"loss_name": loss},
                  transfer=True, datasets=datasets or {})


CVAE_ARGS = {"latent_dim": 6, "width": 48, "hidden": 256}
HIGHLIGHTED_LOSSES = ("arcface", "cosface")   # the app's Compare tab shows these two; they train longer

RECIPES = {r.name: r for r in [
    Recipe("classifier", "CNN classifier (scores generated images, transfer-learning baseline)",
           Classifier, {}, T.ClassifierTrainer, 6, 128, 2e-3, E.evaluate_classifier,
           datasets={"fashion-mnist": {"epochs": 20}}),
    Recipe("ae", "convolutional autoencoder, 16-D code", Autoencoder, {"latent_dim": 16},
           T.AutoencoderTrainer, 5, 128, 1e-3, E.evaluate_ae, transfer=True),
    # an encoder wider and deeper than the decoder, weight decay and a KL warm-up: the gap between
    # the −ELBO and that of a Q fitted to each test digit is the encoder's (docs/results.md)
    Recipe("vae", "variational autoencoder, 32-D code", VAE,
           {"latent_dim": 32, "width": 48, "hidden": 256, "deep": True,
            "encoder_width": 64, "encoder_hidden": 512, "encoder_deep": True},
           T.VAETrainer, 100, 128, 1e-3, E.evaluate_vae, trainer_args={"weight_decay": 0.1, "kl_warmup": 0.1},
           transfer=True, samples=True),
    Recipe("vae2d", "variational autoencoder with a 2-D code, drawn row by row (manifold pictures)", VAE,
           {"latent_dim": 2, "hidden": 256, "deep": True, "context_rows": 1, "context_reach": 1,
            "context_dropout": 0.5},
           T.VAETrainer, 20, 128, 1e-3, E.evaluate_vae, requires={"latent_dim": 2},
           datasets={"fashion-mnist": {"epochs": 8}}),
    Recipe("cvae", "conditional VAE, 6-D code (style transfer)", CVAE, CVAE_ARGS,
           T.CVAETrainer, 24, 128, 1e-3, E.evaluate_cvae, samples=True,
           datasets={"fashion-mnist": {
               # clothes: deep layers, drawn row by row, the moving average of the weights handed out, and
               # the label term, without which nearly half of the coats and shirts come out as pullovers
               # and T-shirts
               "description": "conditional VAE, 6-D code (style transfer), drawn row by row, with the label term",
               "epochs": 17, "trainer_args": {"ema_decay": 0.9995, "label_weight": 10.0}, "model_args": {
                   **CVAE_ARGS, "deep": True, "context_rows": 1, "context_reach": 1, "context_dropout": 0.5}}}),
    Recipe("gan", "DCGAN with CatGAN's class-certainty term for the generator", GAN,
           {"latent_dim": 64, "width": 64}, T.GANTrainer, 86, 64, 2e-4, E.evaluate_generator,
           trainer_args={"certainty_weight": 1.0}, samples=True, datasets={"fashion-mnist": {"epochs": 5}}),
    Recipe("gan-plain", "DCGAN playing the lecture's game alone: the generator never sees a label", GAN,
           {"latent_dim": 64, "width": 64}, T.GANTrainer, 86, 64, 2e-4, E.evaluate_generator,
           trainer_args={"certainty_weight": 0.0}, samples=True, bundled=False),
    Recipe("vaegan", "VAE-GAN (Larsen et al. 2016), decoder and discriminator start from the GAN", VAEGAN,
           {"latent_dim": 64, "width": 64, "hidden": 256}, T.VAEGANTrainer, 5, 64, 1e-3, E.evaluate_generator,
           trainer_args={"rec_weight": 0.3}, init_from="gan", samples=True),
    *[_siamese(loss, 12, {"fashion-mnist": {"epochs": 20}}) if loss in HIGHLIGHTED_LOSSES else _siamese(loss, 5)
      for loss in LOSSES],
]}

SIAMESE = [name for name, r in RECIPES.items() if r.model is SiameseNet]


def get(name, dataset=None):
    """The recipe called `name`, with the values it sets for `dataset` where it sets any;
    ValueError listing the names otherwise."""
    try:
        recipe = RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown model '{name}'; choose one of {', '.join(RECIPES)}") from None
    if dataset is None:
        return recipe
    return dataclasses.replace(recipe, **recipe.datasets.get(D.get(dataset).name, {}))


def bundled_path(name, dataset=D.DEFAULT, root="checkpoints"):
    """Where the bundled checkpoint of recipe `name` on `dataset` lives: ROOT/NAME for MNIST,
    ROOT/DATASET/NAME for the others (a folder per data set, which holds no config.json)."""
    root = Path(root)
    return root / name if D.get(dataset).name == D.DEFAULT else root / dataset / name


def of(model):
    """The recipe a loaded model was made by (its config names it), else the recipe its class and
    attributes fit most specifically (a 2-D VAE: vae2d)."""
    config = getattr(model, "config", None) or {}
    name = (config.get("training") or {}).get("recipe") or config.get("recipe")
    if name in RECIPES and RECIPES[name].kind == model.kind:
        return RECIPES[name]
    fitting = []
    for recipe in RECIPES.values():
        try:
            recipe.check(model)
        except ValueError:
            continue
        fitting.append(recipe)
    if not fitting:
        raise ValueError(f"no recipe makes a {model.kind} like this one")
    return max(fitting, key=lambda r: len(r.requires))


def model_classes():
    """kind → model class, for every class a recipe trains."""
    return {r.kind: r.model for r in RECIPES.values()}
