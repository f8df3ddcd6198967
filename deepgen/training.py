"""Training loops for every model, as iterators of progress events.

`train(name, ...)` builds the model, then yields an `Event` every `log_every` steps and at the
end of every epoch (with a preview picture). The CLI prints them with tqdm; the app streams
them to the browser; closing the iterator stops training at the next step.
"""
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import data as D
from . import losses as L
from .images import grid
from .inference import latent_size
from .models import CVAE, GAN, VAE, VAEGAN, Autoencoder, Classifier, SiameseNet
from .metric_losses import LOSSES

MODELS = {
    "classifier": "CNN digit classifier (scores generated digits, transfer-learning baseline)",
    "ae": "convolutional autoencoder",
    "vae": "variational autoencoder",
    "vae2d": "variational autoencoder with a 2-D latent space (manifold pictures)",
    "cvae": "conditional VAE (style transfer)",
    "gan": "DCGAN",
    "vaegan": "VAE-GAN (Larsen et al. 2016)",
    "siamese": "Siamese embedding network; choose the loss with --loss",
}

DEFAULTS = {  # epochs, batch size, learning rate; each bundled model card gives the flags its runs used
    "classifier": dict(epochs=6, batch_size=128, lr=2e-3),
    "ae": dict(epochs=5, batch_size=128, lr=1e-3),
    "vae": dict(epochs=30, batch_size=128, lr=1e-3),
    "vae2d": dict(epochs=20, batch_size=128, lr=1e-3),
    "cvae": dict(epochs=12, batch_size=128, lr=1e-3),
    "gan": dict(epochs=12, batch_size=64, lr=2e-4),
    "vaegan": dict(epochs=5, batch_size=64, lr=3e-4),
    "siamese": dict(epochs=3, batch_size=256, lr=1e-3),
}


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


def build_model(name, latent_dim=None, loss="arcface", margin=None, scale=None, embedding_dim=64):
    if name == "classifier":
        return Classifier()
    if name == "ae":
        return Autoencoder(latent_dim or 16)
    if name == "vae":
        return VAE(latent_dim or 32, width=48, hidden=256)
    if name == "vae2d":
        return VAE(latent_dim or 2, hidden=256, deep=True, context_rows=1, context_reach=1, context_dropout=0.5)
    if name == "cvae":
        return CVAE(latent_dim or 6, width=48, hidden=256)
    if name == "gan":
        return GAN(latent_dim or 64)
    if name == "vaegan":
        return VAEGAN(latent_dim or 32)
    if name == "siamese":
        if loss not in LOSSES:
            raise ValueError(f"unknown Siamese loss '{loss}'; choose one of {', '.join(LOSSES)}")
        return SiameseNet(loss, embedding_dim, margin, scale)
    raise ValueError(f"unknown model '{name}'; choose one of {', '.join(MODELS)}")


def random_shift(x, max_shift=2):
    """Shift each digit by up to `max_shift` pixels (MNIST's borders are empty, so rolling is exact)."""
    dx, dy = torch.randint(-max_shift, max_shift + 1, (2,)).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


class Trainer:
    """One optimisation step and one preview picture per model kind; `sched`, where a subclass
    sets one, is stepped after every optimisation step."""
    sched = None

    def __init__(self, model, lr, total_steps):
        self.model = model
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(self, x, y):
        loss, logs = self.loss(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.sched is not None:
            self.sched.step()
        return logs

    @torch.no_grad()
    def preview(self, x, y):
        return None

    def finish(self):
        """Called once after the last step, before the model is handed out."""


class ClassifierTrainer(Trainer):
    def __init__(self, model, lr, total_steps):
        super().__init__(model, lr, total_steps)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, lr, total_steps=total_steps)

    def loss(self, x, y):
        logits = self.model(random_shift(x))
        loss = F.cross_entropy(logits, y)
        return loss, {"loss": loss.item(), "accuracy": (logits.argmax(1) == y).float().mean().item()}


class AnnealedTrainer(Trainer):
    """Adam with the learning rate annealed to zero along a cosine over the whole run."""

    def __init__(self, model, lr, total_steps):
        super().__init__(model, lr, total_steps)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, total_steps)


class AutoencoderTrainer(AnnealedTrainer):
    def loss(self, x, y):
        logits = self.model(x)
        loss = L.bernoulli_nll(x, logits).mean()
        mse = L.autoencoder_error(x, torch.sigmoid(logits)).mean()
        return loss, {"bce": loss.item(), "mse": mse.item()}

    @torch.no_grad()
    def preview(self, x, y):
        return grid(torch.cat([x[:8], torch.sigmoid(self.model(x[:8]))]), nrow=8)


class VAETrainer(AnnealedTrainer):
    def forward(self, x, y):
        return self.model(x)

    def loss(self, x, y):
        logits, mu, logvar = self.forward(x, y)
        rec, kl = L.bernoulli_nll(x, logits).mean(), L.kl_to_standard_normal(mu, logvar).mean()
        return rec + kl, {"neg_elbo": (rec + kl).item(), "bce": rec.item(), "kl": kl.item()}

    @torch.no_grad()
    def preview(self, x, y):
        g = torch.Generator().manual_seed(0)
        rec = self.model.decode(self.model.encode(x[:8])[0])   # drawn from μ(x), not scored against x
        return grid(torch.cat([x[:8], rec, self.model.sample(16, generator=g)]), nrow=8)


class CVAETrainer(VAETrainer):
    def forward(self, x, y):
        return self.model(x, y)

    @torch.no_grad()
    def preview(self, x, y):
        g = torch.Generator().manual_seed(0)
        mu, _ = self.model.encode(x[:4], y[:4])
        labels = torch.arange(10)
        rows = [self.model.decode(m.expand(10, -1), labels) for m in mu]
        return grid(torch.cat(rows + [self.model.sample(labels, generator=g)]), nrow=10)


def _gan_optimizer(params, lr):
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))


class GANTrainer(Trainer):
    """The slide's alternating updates, plus CatGAN's class-certainty term for the generator:
    a linear head on the discriminator's features learns the digit classes of real images, and
    the generator is rewarded for samples that head puts firmly in one class, all classes
    equally often (`losses.class_certainty_loss`, weight `certainty_weight`). Without it a
    sixth of the samples lie halfway between two digits (4/9, 3/5, 7/9). The head lives only
    in the trainer; the checkpoint keeps the plain G and D. The generator handed out at the end
    is the exponential moving average of its weights over the run (Yazıcı et al. 2019), with
    batch-norm statistics recomputed for it; the discriminator and the previews during training
    use the live weights."""
    ema_decay = 0.999
    certainty_weight = 1.0

    def __init__(self, model, lr, total_steps):
        self.model = model
        Dis = model.discriminator
        features = Dis.head[-1].in_features
        self.class_head = nn.Sequential(nn.Flatten(), nn.Linear(features, 10)).to(next(Dis.parameters()).device)
        self.opt_g = _gan_optimizer(model.generator.parameters(), lr)
        self.opt_d = _gan_optimizer([*Dis.parameters(), *self.class_head.parameters()], lr)
        self.keep_average_of(model.generator)

    def keep_average_of(self, generator):
        """Track an exponential moving average of `generator`'s weights; `finish` hands it out."""
        self.live = generator
        self.ema = torch.optim.swa_utils.AveragedModel(
            generator, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(self.ema_decay))

    def step(self, x, y):
        Dis = self.model.discriminator
        fake = self.model.sample(len(x), device=x.device)
        real_features = Dis.features(x)
        d_loss = L.gan_discriminator_loss(Dis.logit(real_features), Dis(fake.detach()))
        class_loss = F.cross_entropy(self.class_head(real_features), y)
        self.opt_d.zero_grad(set_to_none=True)
        (d_loss + class_loss).backward()
        self.opt_d.step()
        fake_features = Dis.features(fake)
        g_loss = L.gan_generator_loss(Dis.logit(fake_features))
        certainty = L.class_certainty_loss(self.class_head(fake_features))
        self.opt_g.zero_grad(set_to_none=True)
        (g_loss + self.certainty_weight * certainty).backward()
        self.opt_g.step()
        self.ema.update_parameters(self.live)
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item(), "class_loss": class_loss.item(),
                "certainty": certainty.item()}

    @torch.no_grad()
    def finish(self):
        G = self.ema.module
        device = next(G.parameters()).device
        noise = [torch.randn(256, latent_size(self.model), device=device) for _ in range(40)]
        torch.optim.swa_utils.update_bn(noise, G)
        self.live.load_state_dict(G.state_dict())

    @torch.no_grad()
    def preview(self, x, y):
        was = self.model.training
        self.model.eval()
        img = grid(self.model.sample(64, generator=torch.Generator().manual_seed(0)), nrow=8)
        self.model.train(was)
        return img


class VAEGANTrainer(GANTrainer):
    """VAE-GAN after Larsen et al. 2016: the decoder is also the generator and learns from
    w·(γ·feature reconstruction in the discriminator's feature space + pixel BCE) plus the
    non-saturating GAN loss on reconstructions and prior samples; the discriminator learns the
    slide's GAN loss. Unlike the paper, the encoder keeps the plain VAE objective (KL + pixel
    BCE): with the feature term on the encoder, short CPU runs let the codes drift from N(0, I)
    (KL ≈ 50–85 nats instead of 25) and prior samples stop looking like digits. As in the GAN,
    the decoder handed out is the moving average of its weights."""
    gamma = 0.1  # weight of the feature reconstruction against the pixel BCE
    rec_weight = 0.1  # w: at 1 the reconstruction terms drown the GAN loss and prior samples blur (FID 20)

    def __init__(self, model, lr, total_steps):
        self.model = model
        self.opt_e = torch.optim.Adam(model.encoder.parameters(), lr=lr)
        self.opt_g = _gan_optimizer(model.decoder.parameters(), lr)
        self.opt_d = _gan_optimizer(model.discriminator.parameters(), lr)
        self.keep_average_of(model.decoder)

    def step(self, x, y):
        m, Dis = self.model, self.model.discriminator
        mu, logvar = m.encode(x)
        x_rec = m.decode(L.reparameterize(mu, logvar))
        x_p = m.sample(len(x), device=x.device)

        feat_real = Dis.features(x).detach()
        feat_rec = (Dis.features(x_rec) - feat_real).pow(2).flatten(1).sum(1).mean()
        pixel = F.binary_cross_entropy(x_rec.clamp(1e-6, 1 - 1e-6), x, reduction="none").flatten(1).sum(1).mean()
        kl = L.kl_to_standard_normal(mu, logvar).mean()
        gen = L.gan_generator_loss(Dis(x_rec)) + L.gan_generator_loss(Dis(x_p))
        enc_loss = kl + pixel
        dec_loss = self.rec_weight * (self.gamma * feat_rec + pixel) + gen

        self.opt_e.zero_grad(set_to_none=True)
        self.opt_g.zero_grad(set_to_none=True)
        enc_loss.backward(inputs=list(m.encoder.parameters()), retain_graph=True)
        dec_loss.backward(inputs=list(m.decoder.parameters()))
        self.opt_e.step()
        self.opt_g.step()

        fakes = torch.cat([x_rec.detach(), x_p.detach()])
        real_logits, fake_logits = Dis(x), Dis(fakes)
        d_loss = L.gan_discriminator_loss(real_logits, fake_logits)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        self.ema.update_parameters(self.live)
        return {"d_loss": d_loss.item(), "gen": gen.item(), "kl": kl.item(),
                "feature_rec": feat_rec.item(), "pixel_bce": pixel.item()}

    @torch.no_grad()
    def preview(self, x, y):
        was = self.model.training
        self.model.eval()
        rec = self.model.decode(self.model.encode(x[:8])[0])
        samples = self.model.sample(16, generator=torch.Generator().manual_seed(0))
        self.model.train(was)
        return grid(torch.cat([x[:8], rec, samples]), nrow=8)


class SiameseTrainer(Trainer):
    def loss(self, x, y):
        loss = self.model.loss(self.model(random_shift(x, 1)), y)
        return loss, {"loss": loss.item()}

    def step(self, x, y):
        logs = super().step(x, y)
        self.model.loss.step()
        return logs


TRAINERS = {"classifier": ClassifierTrainer, "ae": AutoencoderTrainer, "vae": VAETrainer,
            "vae2d": VAETrainer, "cvae": CVAETrainer, "gan": GANTrainer, "vaegan": VAEGANTrainer,
            "siamese": SiameseTrainer}


def default_device():
    return "cuda" if torch.cuda.is_available() else "cpu"


def train(name, *, epochs=None, batch_size=None, lr=None, seed=0, data_dir=None, limit=None,
          device=None, log_every=20, model=None, **model_args):
    """Train model `name` on MNIST's training set; yields `Event`s, the last with `done=True`.

    `model` continues training an existing model instead of building a new one; `limit` uses
    only the first `limit` training images (for quick runs and tests)."""
    cfg = {**DEFAULTS[name]}
    cfg.update({k: v for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr).items() if v is not None})
    torch.manual_seed(seed)
    device = device or default_device()
    model = (model or build_model(name, **model_args)).to(device).train()
    dataset = D.mnist(train=True, data_dir=data_dir, limit=limit)
    batches = D.loader(dataset, cfg["batch_size"], shuffle=True, seed=seed, drop_last=len(dataset) > cfg["batch_size"])
    steps = cfg["epochs"] * len(batches)
    trainer = TRAINERS[name](model, cfg["lr"], steps)
    start, step, sums, count = time.time(), 0, {}, 0
    for epoch in range(1, cfg["epochs"] + 1):
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            logs = trainer.step(x, y)
            step += 1
            count += 1
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
            if not all(math.isfinite(v) for v in logs.values()):
                raise FloatingPointError(f"training diverged at step {step}: {logs}")
            last_of_epoch = step == epoch * len(batches)
            if step % log_every == 0 or last_of_epoch:
                done = last_of_epoch and epoch == cfg["epochs"]
                if done:
                    trainer.finish()
                model.eval()
                preview = trainer.preview(x, y) if last_of_epoch else None
                if not done:
                    model.train()
                yield Event(epoch, cfg["epochs"], step, steps, {k: v / count for k, v in sums.items()},
                            preview, model, time.time() - start, last_of_epoch, done)
                sums, count = {}, 0
