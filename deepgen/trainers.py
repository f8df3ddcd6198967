"""One trainer per family of models: an optimisation step, a preview picture, what `finish` does
after the last step, and the state a resumed run needs. Hyper-parameters that a recipe may set
are class attributes (`hyper`); the loop in `training.py` drives any of them the same way."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import losses as L
from .distributed import average_gradients
from .images import grid


def random_shift(x, max_shift=2):
    """Shift each digit by up to `max_shift` pixels (MNIST's borders are empty, so rolling is exact)."""
    dx, dy = torch.randint(-max_shift, max_shift + 1, (2,)).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


class Trainer:
    """Adam on the whole model; `sched`, where a subclass sets one, is stepped after every step.

    `stateful` names the attributes whose `state_dict` a resumed run restores."""
    sched = None
    hyper = ()
    stateful = ("opt", "sched")

    def __init__(self, model, lr, total_steps, **hyper):
        unknown = set(hyper) - set(self.hyper)
        if unknown:
            raise ValueError(f"{type(self).__name__} has no setting {', '.join(sorted(unknown))}; "
                             f"it takes {', '.join(self.hyper) or 'none'}")
        for k, v in hyper.items():
            setattr(self, k, v)
        self.model = model
        self.setup(lr, total_steps)

    def setup(self, lr, total_steps):
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)

    @classmethod
    def settings(cls, **overrides):
        """Every hyper-parameter of this trainer, resolved: its defaults updated by `overrides`."""
        return {k: overrides.get(k, getattr(cls, k)) for k in cls.hyper}

    def step(self, x, y):
        loss, logs = self.loss(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.model.parameters())
        self.opt.step()
        if self.sched is not None:
            self.sched.step()
        return logs

    @torch.no_grad()
    def preview(self, x, y):
        return None

    def finish(self, images, labels):
        """Called once after the last step, before the model is handed out; returns metrics
        that belong to the checkpoint (a Siamese network's calibration)."""
        return {}

    def state_dict(self):
        return {name: getattr(self, name).state_dict() for name in self.stateful if getattr(self, name, None) is not None}

    def load_state_dict(self, state):
        for name, value in state.items():
            getattr(self, name).load_state_dict(value)


class ClassifierTrainer(Trainer):
    def setup(self, lr, total_steps):
        super().setup(lr, total_steps)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, lr, total_steps=total_steps)

    def loss(self, x, y):
        logits = self.model(random_shift(x))
        loss = F.cross_entropy(logits, y)
        return loss, {"loss": loss.detach(), "accuracy": (logits.argmax(1) == y).float().mean().detach()}


def moving_average(model, decay, use_buffers=False):
    """An exponential moving average of `model`'s weights, w̄ ← d · w̄ + (1 − d) · w after each step
    from the weights after the first, with d warmed up as min(`decay`, (1 + t) / (10 + t)) at the
    t-th step after it (TensorFlow's ExponentialMovingAverage with num_updates): a short run, such
    as one trained in the app, is not dominated by the weights of its first steps."""
    @torch.no_grad()
    def update(averages, currents, t):
        d = torch.clamp((1 + t) / (10 + t), max=decay)
        for average, current in zip(averages, currents):
            if average.is_floating_point():
                average.lerp_(current, (1 - d).to(average.dtype))
            else:                                   # batch norm's count of batches
                average.copy_(current)
    return torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=update, use_buffers=use_buffers)


class AnnealedTrainer(Trainer):
    """Adam with the learning rate annealed to zero along a cosine over the whole run; with
    `weight_decay` > 0, AdamW: every step also shrinks each weight by lr · weight_decay of itself
    (Loshchilov & Hutter 2019), apart from the gradient's step. With `ema_decay` > 0 the model
    handed out holds the exponential moving average of the weights over the steps (see
    `moving_average`), as the GAN's generator does."""
    hyper = ("weight_decay", "ema_decay")
    stateful = ("opt", "sched", "ema")
    weight_decay = 0.0
    ema_decay = 0.0

    def setup(self, lr, total_steps):
        if self.weight_decay:
            self.opt = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=self.weight_decay)
        else:
            super().setup(lr, total_steps)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, total_steps)
        self.ema = moving_average(self.model, self.ema_decay, use_buffers=True) if self.ema_decay else None

    def step(self, x, y):
        logs = super().step(x, y)
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return logs

    def finish(self, images, labels):
        if self.ema is not None:
            self.model.load_state_dict(self.ema.module.state_dict())
        return super().finish(images, labels)


class AutoencoderTrainer(AnnealedTrainer):
    def loss(self, x, y):
        logits = self.model(x)
        loss = L.bernoulli_nll(x, logits).mean()
        mse = L.autoencoder_error(x, torch.sigmoid(logits)).mean()
        return loss, {"bce": loss.detach(), "mse": mse.detach()}

    @torch.no_grad()
    def preview(self, x, y):
        return grid(torch.cat([x[:8], self.model.decode(self.model.encode(x[:8])[0])]), nrow=8)


class VAETrainer(AnnealedTrainer):
    """The slide's −ELBO for the VAE and, with the label, for the conditional VAE. With
    `kl_warmup` > 0 the KL term's weight rises from 0 to 1 over that share of the run's steps
    (the warm-up of Sønderby et al. 2016): early on the code is free to carry the digit, and
    more of its dimensions stay in use. The logged −ELBO is always the slide's, weight 1."""
    hyper = AnnealedTrainer.hyper + ("kl_warmup",)
    kl_warmup = 0.0

    def kl_weight(self):
        """The KL term's weight at this step: min(1, steps taken / (kl_warmup · all the run's steps)),
        both counted by the learning rate's cosine schedule."""
        if not self.kl_warmup:
            return 1.0
        return min(1.0, self.sched.last_epoch / (self.kl_warmup * self.sched.T_max))

    def loss(self, x, y):
        mu, logvar = self.model.encode(x, y)
        logits = self.model.decode_logits(L.reparameterize(mu, logvar), x, y)
        rec, kl = L.bernoulli_nll(x, logits).mean(), L.kl_to_standard_normal(mu, logvar).mean()
        return rec + self.kl_weight() * kl, {"neg_elbo": (rec + kl).detach(), "bce": rec.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def preview(self, x, y):
        g = torch.Generator().manual_seed(0)
        rec = self.model.decode(self.model.encode(x[:8])[0])   # drawn from μ(x), not scored against x
        return grid(torch.cat([x[:8], rec, self.model.sample(16, generator=g)]), nrow=8)


def _guide(num_classes):
    """A small classifier, trained with the conditional VAE on the same real images, that names
    the class of the VAE's prior samples for `CVAETrainer`'s `label_weight` term. It is not the
    data set's bundled classifier that scores the samples afterwards, and is not saved."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 49, 256), nn.ReLU(), nn.Linear(256, num_classes))


class CVAETrainer(VAETrainer):
    """The slide's −ELBO; with `label_weight` λ > 0, an addition to it, as the GAN's certainty
    term is to the GAN's game: a guide classifier learns the real images' classes, and the
    decoder also minimises λ · CE(guide(x̂), y) for a prior sample x̂ ∼ P(X|H, Y = y), H ∼ N(0, I),
    of each image's label y, so that what it draws for a label looks like that class."""
    hyper = AnnealedTrainer.hyper + ("label_weight",)   # no KL warm-up: the bundled CVAEs trained without
    stateful = VAETrainer.stateful + ("guide", "guide_opt")
    label_weight = 0.0

    def setup(self, lr, total_steps):
        super().setup(lr, total_steps)
        if self.label_weight:
            self.guide = _guide(self.model.num_classes).to(self.model._device())
            self.guide_opt = torch.optim.Adam(self.guide.parameters(), lr=lr)

    def loss(self, x, y):
        loss, logs = super().loss(x, y)
        if self.label_weight:
            logs["guide_accuracy"] = self._train_guide(x, y)
            self.guide.requires_grad_(False)
            drawn = F.cross_entropy(self.guide(self.model.sample(len(y), labels=y)), y)
            self.guide.requires_grad_(True)
            loss = loss + self.label_weight * drawn
            logs["label_ce"] = drawn.detach()
        return loss, logs

    def _train_guide(self, x, y):
        logits = self.guide(x)
        self.guide_opt.zero_grad(set_to_none=True)
        F.cross_entropy(logits, y).backward()
        average_gradients(self.guide.parameters())
        self.guide_opt.step()
        return (logits.argmax(1) == y).float().mean().detach()

    @torch.no_grad()
    def preview(self, x, y):
        g = torch.Generator().manual_seed(0)
        mu, _ = self.model.encode(x[:4], y[:4])
        labels = torch.arange(10)
        rows = [self.model.decode(m.expand(10, -1), labels) for m in mu]
        return grid(torch.cat(rows + [self.model.sample(10, generator=g, labels=labels)]), nrow=10)


def _class_head(discriminator):
    """A linear head on D's features that learns the digit classes (CatGAN's certainty term)."""
    features = discriminator.head[-1].in_features
    return nn.Sequential(nn.Flatten(), nn.Linear(features, 10)).to(next(discriminator.parameters()).device)


def _gan_optimizer(params, lr):
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))


class GANTrainer(Trainer):
    """The slide's alternating updates, plus (with `certainty_weight` > 0) CatGAN's
    class-certainty term for the generator: a linear head on the discriminator's features learns
    the digit classes of real images, and the generator is rewarded for samples that head puts
    firmly in one class, all classes equally often (`losses.class_certainty_loss`). The head
    lives only in the trainer; the checkpoint keeps the plain G and D. With weight 0 the
    generator never sees a label: the lecture's own game. The generator handed out at the end
    is the exponential moving average of its weights over the run (Yazıcı et al. 2019), with
    batch-norm statistics recomputed for it; the discriminator and the previews during training
    use the live weights."""
    hyper = ("ema_decay", "certainty_weight")
    stateful = ("opt_g", "opt_d", "class_head", "ema")
    timelapse = True   # the run films G's samples and D's mean scores (`deepgen.timelapse`)
    ema_decay = 0.999
    certainty_weight = 1.0

    def setup(self, lr, total_steps):
        Dis = self.model.discriminator
        self.class_head = _class_head(Dis)
        self.opt_g = _gan_optimizer(self.model.generator.parameters(), lr)
        self.opt_d = _gan_optimizer([*Dis.parameters(), *self.class_head.parameters()], lr)
        self.keep_average_of(self.model.generator)

    def keep_average_of(self, generator):
        """Track an exponential moving average of `generator`'s weights; `finish` hands it out."""
        self.live = generator
        self.ema = moving_average(generator, self.ema_decay)

    def step(self, x, y):
        Dis = self.model.discriminator
        fake = self.model.sample(len(x))

        # (1) Update D: maximise log D(x) + log(1 − D(G(z))); its class head learns the real digits' labels
        real_features = Dis.features(x)
        d_loss = L.gan_discriminator_loss(Dis.logit(real_features), Dis(fake.detach()))
        class_loss = F.cross_entropy(self.class_head(real_features), y)
        self.opt_d.zero_grad(set_to_none=True)
        (d_loss + class_loss).backward()
        average_gradients([*Dis.parameters(), *self.class_head.parameters()])
        self.opt_d.step()

        # (2) Update G: maximise log D(G(z)) (non-saturating), plus the certainty term
        fake_features = Dis.features(fake)
        g_loss = L.gan_generator_loss(Dis.logit(fake_features))
        certainty = L.class_certainty_loss(self.class_head(fake_features))
        self.opt_g.zero_grad(set_to_none=True)
        (g_loss + self.certainty_weight * certainty).backward()
        average_gradients(self.model.generator.parameters())
        self.opt_g.step()
        self.ema.update_parameters(self.live)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "class_loss": class_loss.detach(),
                "certainty": certainty.detach()}

    @torch.no_grad()
    def finish(self, images, labels):
        G = self.ema.module
        device = next(G.parameters()).device
        noise = [torch.randn(256, self.model.latent_dim, device=device) for _ in range(40)]
        torch.optim.swa_utils.update_bn(noise, G)
        self.live.load_state_dict(G.state_dict())
        return {}

    @torch.no_grad()
    def preview(self, x, y):
        return grid(self.model.sample(64, generator=torch.Generator().manual_seed(0)), nrow=8)


class VAEGANTrainer(GANTrainer):
    """VAE-GAN after Larsen et al. 2016, started from a trained GAN: its generator is the decoder,
    its discriminator D. The encoder learns the slide's VAE objective with P(X|h) = N(X | f(h), σ²I),
    KL[Q(H|X) ‖ N(0, I)] + ‖x − f(h)‖² / 2σ², all through the run, in three phases:

    1. For the first `encoder_share` of the steps the decoder and D stay as the GAN left them: the
       encoder alone learns to invert the generator (and a class head learns the digits from D's
       features, as in the GAN's trainer).
    2. Then all three learn, the decoder and D at a tenth of the encoder's learning rate. The
       decoder learns `rec_weight`·‖x − x̃‖², the non-saturating GAN loss on reconstructions and on
       prior samples, and the GAN's certainty term on prior samples; D learns the slide's GAN loss,
       real digits against both.
    3. For the last `refit_share` of the steps the decoder is the moving average of its weights
       over phase 2 (what is handed out) and only the encoder learns again, its learning rate
       falling linearly to 0, so that it fits that decoder rather than the last live one.

    The decoder's batch norms keep the GAN's statistics (eval mode), so a code from the encoder and
    one from the prior are decoded alike."""
    hyper = ("ema_decay", "encoder_share", "refit_share", "sigma", "rec_weight", "certainty_weight")
    stateful = ("opt_e", "opt_g", "opt_d", "class_head", "ema", "sched")
    ema_decay = 0.998
    encoder_share = 0.35  # phase 1: the encoder alone, against the GAN's generator
    refit_share = 0.12    # phase 3: the encoder alone, against the averaged decoder
    sigma = 0.05          # σ of P(X|h) = N(f(h), σ²I) in the encoder's objective
    rec_weight = 1.0      # the decoder's squared error against the GAN loss

    def setup(self, lr, total_steps):
        m = self.model
        self.encoder_steps = round(self.encoder_share * total_steps)
        self.refit_from = total_steps - round(self.refit_share * total_steps)
        self.class_head = _class_head(m.discriminator)
        self.opt_e = torch.optim.Adam(m.encoder.parameters(), lr=lr)
        self.opt_g = _gan_optimizer(m.decoder.parameters(), lr / 10)
        self.opt_d = _gan_optimizer([*m.discriminator.parameters(), *self.class_head.parameters()], lr / 10)
        self.keep_average_of(m.decoder)
        # the encoder's learning rate: constant, then falling linearly to 0 over phase 3; stepped
        # once a step, the schedule also counts the steps taken (`sched.last_epoch`)
        refit_steps = total_steps - self.refit_from
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt_e, lambda step: min(1.0, (total_steps - step) / refit_steps) if refit_steps else 1.0)

    def step(self, x, y):
        step = self.sched.last_epoch
        joint = self.encoder_steps <= step < self.refit_from
        if step == self.refit_from and self.ema.n_averaged.item() > 0:
            self.live.load_state_dict(self.ema.module.state_dict())
        self.model.decoder.eval()
        self.model.discriminator.train(joint)
        logs = self._joint_step(x, y) if joint else self._encoder_step(x, y, train_class_head=step < self.encoder_steps)
        self.sched.step()
        return logs

    def _reconstruct(self, x):
        """(the encoder's loss, the mean squared error, x̃, the logs they give)."""
        mu, logvar = self.model.encode(x)
        x_rec = self.model.decode(L.reparameterize(mu, logvar))
        kl = L.kl_to_standard_normal(mu, logvar).mean()
        enc_loss = kl + L.gaussian_nll(x, x_rec, self.sigma).mean()
        error = L.autoencoder_error(x, x_rec).mean()
        return enc_loss, error, x_rec, {"kl": kl.detach(), "squared_error": error.detach()}

    def _encoder_step(self, x, y, train_class_head):
        """Phases 1 and 3: the encoder alone (in phase 1 also the class head, on D's fixed features)."""
        m = self.model
        enc_loss, _, _, logs = self._reconstruct(x)
        self.opt_e.zero_grad(set_to_none=True)
        enc_loss.backward(inputs=list(m.encoder.parameters()))
        average_gradients(m.encoder.parameters())
        self.opt_e.step()
        if train_class_head:
            with torch.no_grad():
                features = m.discriminator.features(x)
            class_loss = F.cross_entropy(self.class_head(features), y)
            self.opt_d.zero_grad(set_to_none=True)
            class_loss.backward()
            average_gradients(self.class_head.parameters())
            self.opt_d.step()
            logs["class_loss"] = class_loss.detach()
        return logs

    def _joint_step(self, x, y):
        """Phase 2: encoder, decoder and D."""
        m, Dis = self.model, self.model.discriminator
        enc_loss, error, x_rec, logs = self._reconstruct(x)

        # (1) The encoder, and the decoder: reconstruct, fool D, and draw prior samples of one clear class
        x_p = m.sample(len(x))
        fake_features = Dis.features(x_p)
        gen = L.gan_generator_loss(Dis(x_rec)) + L.gan_generator_loss(Dis.logit(fake_features))
        certainty = L.class_certainty_loss(self.class_head(fake_features))
        self.opt_e.zero_grad(set_to_none=True)
        self.opt_g.zero_grad(set_to_none=True)
        enc_loss.backward(inputs=list(m.encoder.parameters()), retain_graph=True)   # the graph serves both losses
        (self.rec_weight * error + gen + self.certainty_weight * certainty).backward(inputs=list(m.decoder.parameters()))
        average_gradients([*m.encoder.parameters(), *m.decoder.parameters()])
        self.opt_e.step()
        self.opt_g.step()

        # (2) D: real digits against reconstructions and prior samples; its class head: the real digits' labels
        real_features = Dis.features(x)
        d_loss = L.gan_discriminator_loss(Dis.logit(real_features), Dis(torch.cat([x_rec.detach(), x_p.detach()])))
        class_loss = F.cross_entropy(self.class_head(real_features), y)
        self.opt_d.zero_grad(set_to_none=True)
        (d_loss + class_loss).backward()
        average_gradients([*Dis.parameters(), *self.class_head.parameters()])
        self.opt_d.step()
        self.ema.update_parameters(self.live)
        return {**logs, "d_loss": d_loss.detach(), "gen": gen.detach(), "certainty": certainty.detach(),
                "class_loss": class_loss.detach()}

    @torch.no_grad()
    def finish(self, images, labels):
        if self.ema.n_averaged.item() > 0:     # the batch norms kept the GAN's statistics: copy the weights only
            self.live.load_state_dict(self.ema.module.state_dict())
        return {}

    @torch.no_grad()
    def preview(self, x, y):
        rec = self.model.decode(self.model.encode(x[:8])[0])
        samples = self.model.sample(16, generator=torch.Generator().manual_seed(0))
        return grid(torch.cat([x[:8], rec, samples]), nrow=8)


class SiameseTrainer(Trainer):
    """The loss the network was built with; at the end, the verdict's threshold and its logistic
    calibration P(same | D) on pairs of training digits, stored with the checkpoint."""
    calibration_pairs = 10000

    def loss(self, x, y):
        loss = self.model.loss(self.model(random_shift(x, 1)), y)
        return loss, {"loss": loss.detach()}

    def step(self, x, y):
        logs = super().step(x, y)
        self.model.loss.step()
        return logs

    @torch.no_grad()
    def finish(self, images, labels):
        from .inference import calibrate
        was = self.model.training
        self.model.eval()
        calibration = calibrate(self.model, images, labels, n_pairs=self.calibration_pairs, seed=1)
        self.model.train(was)
        return calibration
