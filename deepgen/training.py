"""The training loop: a recipe, resolved into a `TrainConfig`, run step by step as a stream of
`Event`s. A run can stop at the end of any epoch and be resumed exactly (`Run.state_dict`):
weights, optimizers, schedules, moving averages, the step and every random state."""
import hashlib
import math
import subprocess
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import __version__
from . import data as D
from . import distributed
from . import recipes
from .timelapse import JUDGED, TimeLapse, schedule


@dataclass
class TrainConfig:
    """Everything that decides what a run produces, resolved (no "default" left to look up)."""
    recipe: str
    model_args: dict
    trainer_args: dict
    epochs: int
    batch_size: int
    lr: float
    dataset: str = D.DEFAULT         # the entry of `data.DATASETS` it learns from
    seed: int = 0
    train_images: int = 60000
    init: str | None = None          # checkpoint the model starts from (the recipe's `init_from`)
    data_sha256: str = ""
    world_size: int = 1
    amp: bool = False
    deepgen_version: str = __version__
    git_commit: str | None = None
    torch_version: str = str(torch.__version__)
    pieces: int = 1                  # how many resumed pieces the run was trained in

    def to_dict(self):
        return asdict(self)


@dataclass
class Event:
    epoch: int            # 1-based epoch the step belongs to
    epochs: int
    step: int             # optimisation steps done so far
    steps: int            # total steps planned
    losses: dict          # name -> running mean since the last event
    preview: object = None  # H×W uint8 picture at the end of each epoch
    model: object = field(default=None, repr=False)
    seconds: float = 0.0
    epoch_end: bool = False
    done: bool = False


def default_device():
    return "cuda" if torch.cuda.is_available() else "cpu"


def git_commit():
    """The commit of the source tree, or None outside a git checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def data_checksum(images, labels):
    """SHA-256 of the training images (as the 8-bit pixels the data set stores) and labels."""
    h = hashlib.sha256()
    h.update(images.mul(255).round().to(torch.uint8).numpy().tobytes())
    h.update(labels.to(torch.int64).numpy().tobytes())
    return h.hexdigest()


def resolve(name, *, dataset=D.DEFAULT, epochs=None, batch_size=None, lr=None, seed=0, limit=None, init=None,
            amp=False, data_dir=None, trainer_args=None, **model_args):
    """The TrainConfig of recipe `name` on `dataset` with the given overrides (None keeps the
    recipe's value for that data set)."""
    recipe = recipes.get(name, dataset)
    images, labels = _training_set(dataset, data_dir, limit)
    return TrainConfig(
        recipe=name, dataset=dataset,
        model_args=recipe.resolved_model_args(**{k: v for k, v in model_args.items() if v is not None}),
        trainer_args=recipe.trainer.settings(**{**recipe.trainer_args, **(trainer_args or {})}),
        epochs=epochs or recipe.epochs, batch_size=batch_size or recipe.batch_size, lr=lr or recipe.lr,
        seed=seed, train_images=len(images), init=init, data_sha256=data_checksum(images, labels),
        world_size=distributed.world_size(), amp=amp, git_commit=git_commit())


def _training_set(dataset, data_dir, limit):
    images, labels = D.tensor_dataset(dataset, train=True, data_dir=data_dir).tensors
    return (images[:limit], labels[:limit]) if limit else (images, labels)


class Run:
    """One training run of a `TrainConfig`: `events()` trains (to the end, or to `until_epoch`),
    `state_dict()` / `load_state_dict()` carry it across processes."""

    def __init__(self, config, *, data_dir=None, device=None, model=None):
        self.config = config
        recipe = recipes.get(config.recipe, config.dataset)
        self.device = distributed.start(device or default_device())
        torch.manual_seed(config.seed)
        if model is None:
            model = recipe.build(**config.model_args)
            if config.init:
                model = _start_from(model, config.init)
        self.model = model.to(self.device).train()
        if "cuda" in str(self.device):
            torch.backends.cudnn.benchmark = True       # one image size throughout: pick the fastest kernels once
        if distributed.world_size() > 1:
            torch.manual_seed(config.seed + distributed.rank())   # same initial weights, different noise
        self.images, self.labels = _training_set(config.dataset, data_dir, config.train_images)
        dataset = torch.utils.data.TensorDataset(self.images, self.labels)
        self.batches = D.loader(dataset, config.batch_size // config.world_size, shuffle=True, seed=config.seed,
                                drop_last=len(dataset) > config.batch_size, distributed=config.world_size > 1)
        self.steps = config.epochs * len(self.batches)
        self.trainer = recipe.trainer(self.model, config.lr, self.steps, **config.trainer_args)
        self.epoch, self.step, self.metrics = 0, 0, {}
        # a trainer that says so gets a time-lapse of its run; `checkpoint.save` writes the model's
        self.timelapse = TimeLapse(schedule(self.steps)) if getattr(self.trainer, "timelapse", False) else None
        self.model.timelapse = self.timelapse

    @property
    def finished(self):
        return self.epoch >= self.config.epochs

    def events(self, until_epoch=None, log_every=20):
        """Train epoch after epoch, yielding `Event`s; the last one of the run has `done=True`."""
        config, model, trainer = self.config, self.model, self.trainer
        last_epoch = min(config.epochs, until_epoch or config.epochs)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if config.amp and "cuda" in str(self.device) \
            else nullcontext()
        start, sums, counts = time.time(), {}, {}
        if self.timelapse is not None and self.timelapse.due(self.step):
            self._film()                                             # step 0: the untrained generator
        while self.epoch < last_epoch:
            epoch = self.epoch + 1
            if hasattr(self.batches.sampler, "set_epoch"):
                self.batches.sampler.set_epoch(epoch)
            for i, (x, y) in enumerate(self.batches, 1):
                x, y = x.to(self.device), y.to(self.device)
                with autocast:
                    logs = trainer.step(x, y)
                self.step += 1
                for k, v in logs.items():        # a trainer may log a term only in some phase of its run
                    sums[k] = sums.get(k, 0.0) + v
                    counts[k] = counts.get(k, 0) + 1
                epoch_end = i == len(self.batches)
                done = epoch_end and epoch == config.epochs
                if self.timelapse is not None and self.timelapse.due(self.step) and not done:
                    self._film()
                if self.step % log_every and not epoch_end:
                    continue
                # the logged terms are tensors until here: reading them waits for the GPU
                losses = {k: float(v) / counts[k] for k, v in sums.items()}
                if not all(math.isfinite(v) for v in losses.values()):
                    raise FloatingPointError(f"training diverged by step {self.step}: {losses}")
                if epoch_end:
                    self.epoch = epoch
                if done:
                    distributed.broadcast_buffers(model)
                    self.metrics = trainer.finish(self.images, self.labels)
                    if self.timelapse is not None and self.timelapse.due(self.step):
                        self._film()                                 # the last frame: the model handed out
                model.eval()
                preview = trainer.preview(x, y) if epoch_end and distributed.is_main() else None
                if not done:
                    model.train()
                yield Event(epoch, config.epochs, self.step, self.steps, losses, preview, model, time.time() - start,
                            epoch_end, done)
                sums, counts = {}, {}

    def _film(self):
        """Add the current step to the time-lapse: the model in eval mode, D judging the first
        training digits (no random numbers drawn, so the run goes on exactly as without it)."""
        was = self.model.training
        self.model.eval()
        self.timelapse.film(self.step, self.model, self.images[:JUDGED].to(self.device))
        self.model.train(was)

    def state_dict(self):
        """What `load_state_dict` needs to continue this run exactly (taken at the end of an epoch)."""
        state = {"config": self.config.to_dict(), "epoch": self.epoch, "step": self.step,
                 "model": self.model.state_dict(), "trainer": self.trainer.state_dict(),
                 "rng": torch.get_rng_state(), "loader_rng": self.batches.generator.get_state(),
                 "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
        if self.timelapse is not None:
            state["timelapse"] = self.timelapse.state_dict()
        return state

    def load_state_dict(self, state):
        self.epoch, self.step = state["epoch"], state["step"]
        self.model.load_state_dict(state["model"])
        self.trainer.load_state_dict(state["trainer"])
        torch.set_rng_state(state["rng"])
        self.batches.generator.set_state(state["loader_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        if self.timelapse is not None and "timelapse" in state:
            self.timelapse.load_state_dict(state["timelapse"])


def _start_from(model, source):
    """`model` with the weights of the checkpoint at `source` wherever their names and shapes
    match (the VAE-GAN takes its decoder and discriminator from a trained GAN)."""
    from .checkpoint import load
    start = load(source)
    if type(start) is type(model):
        model.load_state_dict(start.state_dict())
        return model
    if hasattr(model, "adopt"):
        return model.adopt(start)
    raise ValueError(f"a {model.kind} cannot start from the {start.kind} at {source}")


def save_state(run, path):
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(run.state_dict(), tmp)
    tmp.replace(path)


def load_state(path):
    """A saved run state (plain tensors and numbers: read with `weights_only`, never unpickled)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def resume(path, *, data_dir=None, device=None):
    """The Run saved at `path`, ready to continue where it stopped."""
    state = load_state(path)
    config = TrainConfig(**state["config"])
    config.pieces += 1
    run = Run(config, data_dir=data_dir, device=device)
    run.load_state_dict(state)
    return run


def train(name, *, dataset=D.DEFAULT, epochs=None, batch_size=None, lr=None, seed=0, data_dir=None, limit=None,
          device=None, log_every=20, model=None, trainer_args=None, **model_args):
    """Train recipe `name` on the training set of `dataset`; yields `Event`s, the last with `done=True`.

    `model` continues training an existing model instead of building a new one; `limit` uses
    only the first `limit` training images (for quick runs and tests)."""
    config = resolve(name, dataset=dataset, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, limit=limit,
                     data_dir=data_dir, trainer_args=trainer_args, **model_args)
    yield from Run(config, data_dir=data_dir, device=device, model=model).events(log_every=log_every)
