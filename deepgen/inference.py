"""Plain functions over trained models, for the app, scripts and tests (no Gradio here).

Images are B×1×28×28 float tensors in [0, 1]; every function runs without gradients.
"""
import math
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from . import losses
from . import metrics as M
from .models import CVAE

# Images per forward pass over a whole test set: on a CPU, batches of 100 run 1.5–2.5× faster than
# batches of 1 000, whose activations spill out of the caches.
BATCH = 100

# Until a Siamese checkpoint's metrics.json carries a calibration, compare with these.
DEFAULT_THRESHOLD, DEFAULT_A, DEFAULT_B = 1.0, -10.0, 10.0


_no_grad = torch.no_grad()


# --- autoencoders -----------------------------------------------------------------------------

@_no_grad
def latent_mean(model, x, y=None):
    """The code of x: h = g(x) for the autoencoder, μ(x) for the VAEs (B×d)."""
    return model.encode(x, y)[0]


@_no_grad
def reconstruct(model, x):
    """f(g(x)) for the autoencoder; the decoded mean f(μ(x)) for the VAE and VAE-GAN."""
    return model.decode(latent_mean(model, x))


@_no_grad
def decode(model, h):
    """Decode latent codes (d or B×d) → B×1×28×28."""
    h = torch.as_tensor(h, dtype=torch.float32)
    return model.decode(h.reshape(-1, h.shape[-1]))


@_no_grad
def classify(classifier, x):
    """Class probabilities (B×10)."""
    return F.softmax(classifier(x), dim=1)


def gaussian_quantiles(n, low=0.05, high=0.95):
    """n points of N(0, 1) at evenly spaced probabilities: the axes of the manifold picture."""
    return torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(low, high, n))


@_no_grad
def latent_grid(vae, n=15):
    """Decoded n×n grid over the Gaussian's quantiles of a 2-D VAE (Kingma & Welling, fig. 4):
    row r, column c shows h = (q_c, q_{n-1-r}), so h₂ grows upwards. Returns n²×1×28×28."""
    if vae.latent_dim != 2:
        raise ValueError(f"the manifold grid needs a 2-D latent space, this VAE has {vae.latent_dim}")
    q = gaussian_quantiles(n)
    h2, h1 = torch.meshgrid(q.flip(0), q, indexing="ij")
    return vae.decode(torch.stack([h1.flatten(), h2.flatten()], 1))


@_no_grad
def encode_means(model, images, batch_size=BATCH):
    """μ (or h) of many images, batch by batch (N×d)."""
    return torch.cat([latent_mean(model, images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def _steps(steps):
    return torch.linspace(0, 1, steps)[:, None, None, None]


@_no_grad
def interpolate_pixels(x0, x1, steps=8):
    """(1 − t)·x₀ + t·x₁: blends, which leave the manifold of digits (steps×1×28×28)."""
    t = _steps(steps)
    return (1 - t) * x0[:1] + t * x1[:1]


@_no_grad
def interpolate_latent(model, x0, x1, steps=8):
    """f((1 − t)·h₀ + t·h₁): a walk along the learned manifold (steps×1×28×28)."""
    h0, h1 = latent_mean(model, x0[:1]), latent_mean(model, x1[:1])
    t = torch.linspace(0, 1, steps)[:, None]
    return model.decode((1 - t) * h0 + t * h1)


# --- conditional VAE --------------------------------------------------------------------------

@_no_grad
def style_row(cvae: CVAE, x, label):
    """Encode the style of x (with its label) into H = μ(X, Y), decode it with every label (10×1×28×28)."""
    labels = torch.arange(cvae.num_classes)
    mu, _ = cvae.encode(x[:1], [int(label)])
    return cvae.decode(mu.expand(len(labels), -1), labels)


@_no_grad
def style_grid(cvae: CVAE, xs, labels):
    """One style row per source digit: (len(xs)·10)×1×28×28, row-major."""
    return torch.cat([style_row(cvae, x[None], int(y)) for x, y in zip(xs, labels)])


@_no_grad
def prior_grid(cvae: CVAE, rows=4, seed=0):
    """Samples of P(X|H, Y) with H ∼ N(0, I): one H per row, labels 0–9 across (rows·10 images)."""
    g = torch.Generator().manual_seed(int(seed))
    h = torch.randn(rows, cvae.latent_dim, generator=g)
    labels = torch.arange(cvae.num_classes)
    return cvae.decode(h.repeat_interleave(len(labels), 0), labels.repeat(rows))


# --- Siamese networks -------------------------------------------------------------------------

@_no_grad
def embed(model, images, batch_size=BATCH):
    """Unit-length embeddings (N×e), batch by batch (through the model's `bulk_embedder` where
    there are several batches)."""
    fn = model.bulk_embedder() if len(images) > batch_size and hasattr(model, "bulk_embedder") else model.embed
    return torch.cat([fn(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def calibration(metrics):
    """(threshold, a, b, calibrated) from a Siamese checkpoint's metrics; defaults where missing."""
    metrics = metrics or {}
    keys = ("threshold", "calibration_a", "calibration_b")
    if all(isinstance(metrics.get(k), (int, float)) and math.isfinite(metrics[k]) for k in keys):
        return float(metrics["threshold"]), float(metrics["calibration_a"]), float(metrics["calibration_b"]), True
    return DEFAULT_THRESHOLD, DEFAULT_A, DEFAULT_B, False


def calibrate(model, images, labels, n_pairs=2000, seed=1):
    """Threshold and logistic calibration of the verdict on pairs of `images` (training digits), as
    `python -m train.evaluate` computes them: the metrics keys `compare` reads."""
    a_idx, b_idx = M.make_pairs(labels, n_pairs, seed=seed)
    used, where = torch.unique(torch.cat([a_idx, b_idx]), return_inverse=True)   # embed each image once
    e = embed(model, images[used])
    d = (e[where[:n_pairs]] - e[where[n_pairs:]]).norm(dim=1)
    same = labels[a_idx] == labels[b_idx]
    a, b = M.fit_logistic(d, same)
    return {"threshold": float(M.best_threshold(d, same)), "calibration_a": float(a), "calibration_b": float(b)}


def compare_embeddings(ea, eb, threshold=DEFAULT_THRESHOLD, a=DEFAULT_A, b=DEFAULT_B):
    """Two unit embeddings → cosine, angle (degrees), distance D = ‖e_a − e_b‖, p_same = σ(a·D + b),
    and the verdict D ≤ threshold."""
    cos = float((ea.flatten() * eb.flatten()).sum().clamp(-1, 1))
    distance = float((ea.flatten() - eb.flatten()).norm())
    p_same = 1.0 / (1.0 + math.exp(-(a * distance + b)))
    return {"cosine": cos, "angle": math.degrees(math.acos(cos)), "distance": distance,
            "p_same": p_same, "same": distance <= threshold, "threshold": threshold}


@_no_grad
def compare(model, xa, xb, metrics=None):
    """Slide "Сиамские сети": one network embeds both digits; their distance gives the verdict.
    Also returns "features", the network's outputs F(x_A), F(x_B) before normalisation (2×e), and
    "embeddings", the unit vectors compared (2×e)."""
    threshold, a, b, calibrated = calibration(metrics if metrics is not None else getattr(model, "metrics", {}))
    features = model(torch.cat([xa[:1], xb[:1]]))
    e = F.normalize(features, dim=1)
    return {**compare_embeddings(e[0], e[1], threshold, a, b), "calibrated": calibrated, "features": features,
            "embeddings": e}


def nearest(bank, query, k=8):
    """Indices and distances of the k rows of `bank` (unit embeddings) nearest to `query` (e or 1×e)."""
    d = (2 - 2 * (bank @ query.reshape(-1))).clamp(min=0).sqrt()
    dist, idx = torch.topk(d, min(k, len(bank)), largest=False)
    return idx, dist


def pca(points, k=2):
    """(mean, components k×e) of the principal axes of `points` (N×e)."""
    mean = points.mean(0)
    _, _, v = torch.linalg.svd(points - mean, full_matrices=False)
    return mean, v[:k]


def project(points, mean, components):
    return (points - mean) @ components.T


# --- GAN, VAE-GAN, VAE samples ----------------------------------------------------------------

def seed_noise(model, seed, n=1):
    """n latent vectors N(0, I) drawn from `seed` (the same seed gives the same vectors)."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, model.latent_dim, generator=g)


@_no_grad
def generate(model, n=16, seed=0, dtype=None):
    """n samples from the prior (G(z) for the GAN, decoded codes for the VAEs), from one seed.
    With `dtype` (torch.bfloat16) the model computes under autocast at that precision; the codes
    are drawn and the samples returned in float32."""
    with _computing_in(model, dtype):
        return model.sample(n, generator=torch.Generator().manual_seed(int(seed))).float()


def _computing_in(model, dtype):
    """Autocast at `dtype` on the model's device; nothing where `dtype` is None."""
    return nullcontext() if dtype is None else torch.autocast(next(model.parameters()).device.type, dtype=dtype)


def native_bfloat16(cpuinfo="/proc/cpuinfo"):
    """torch.bfloat16 where this machine's CPU does bfloat16 arithmetic itself (AVX-512 BF16 or
    AMX, as Linux lists its flags), else None: elsewhere bfloat16 is emulated and slower than
    float32."""
    try:
        flags = set(Path(cpuinfo).read_text().split())
    except OSError:
        return None
    return torch.bfloat16 if flags & {"avx512_bf16", "amx_bf16"} else None


@_no_grad
def discriminator_scores(model, images, dtype=None):
    """D(x): the model's discriminator's probability that x is a real digit; with `dtype`
    (torch.bfloat16) D computes under autocast at that precision, and the scores come back in
    float32."""
    with _computing_in(model, dtype):
        return model.judge(images).float()


def slerp(z0, z1, steps):
    """Spherical interpolation (White 2016): intermediate z keep the norm typical of N(0, I)."""
    t = torch.linspace(0, 1, steps)[:, None]
    a, b = F.normalize(z0, dim=-1), F.normalize(z1, dim=-1)
    omega = torch.acos((a * b).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    if float(omega.abs().max()) < 1e-4:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


@_no_grad
def interpolate_seeds(model, seed_a, seed_b, steps=8):
    """Samples along the great circle between the latent vectors of two seeds (steps×1×28×28)."""
    return model.decode(slerp(seed_noise(model, seed_a), seed_noise(model, seed_b), steps))


# --- the VAE's posterior Q(H|X) and its ELBO --------------------------------------------------

@_no_grad
def posterior(model, x, y=None):
    """μ(X) and σ(X) of Q(H|X) = N(μ(X), diag σ²(X)), B×d each: the code is a distribution, not a point."""
    mu, logvar = model.encode(x, y)
    return mu, (0.5 * logvar).exp()


@_no_grad
def posterior_sample(model, x, seed=0, y=None):
    """H = μ(X) + σ(X)·ε with ε ∼ N(0, I) drawn from `seed`: one code of Q(H|X) per image (B×d)."""
    mu, sigma = posterior(model, x, y)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(int(seed)))
    return mu + sigma * eps


@_no_grad
def elbo_terms(model, x, samples=16, seed=0, y=None):
    """Slide "VAE": −ELBO = −E_{H∼Q}[log P(X|H)] + KL[Q(H|X) ‖ N(0, I)], in nats per image, split
    into its reconstruction term (the mean of −log P(X|H) over `samples` codes H ∼ Q(H|X) drawn
    from `seed`) and its KL term (closed form). Returns {"reconstruction", "kl", "negative_elbo"},
    a tensor of B values each."""
    return _elbo_terms_of(model, x, *model.encode(x, y), samples, seed, y)


def _elbo_terms_of(model, x, mu, logvar, samples, seed, y=None):
    """`elbo_terms` for the posterior N(μ, diag exp(logvar)), whatever gave it."""
    g = torch.Generator().manual_seed(int(seed))
    h = losses.reparameterize(mu.expand(samples, *mu.shape), logvar.expand(samples, *mu.shape), g)
    h = h.reshape(-1, mu.shape[1])                                             # sample-major
    xs = x.repeat(samples, 1, 1, 1)
    ys = None if y is None else torch.as_tensor(y).reshape(-1).repeat(samples)
    rec = losses.bernoulli_nll(xs, model.decode_logits(h, x=xs, y=ys)).reshape(samples, -1).mean(0)
    kl = losses.kl_to_standard_normal(mu, logvar)
    return {"reconstruction": rec, "kl": kl, "negative_elbo": rec + kl}


@_no_grad
def posterior_gap(model, x, steps=100, lr=0.02, samples=64, k=256, seed=0, y=None):
    """Slide "VAE": log P(X) − KL[Q(H|X) ‖ P(H|X)] = ELBO, read image by image. Returns B values
    each of: "encoder", the −ELBO with the encoder's Q; "fitted", the −ELBO with Q fitted to the
    image alone (`metrics.refined_posterior`: `steps` gradient steps of size `lr` from the
    encoder's); "nll", −log P(X) estimated by importance sampling (k codes from the fitted Q; on
    average an estimate from above). encoder − fitted is the encoder's amortisation gap; fitted −
    nll, what is left of KL[Q ‖ P(H|X)], is mostly there because P(H|X) is no Gaussian with a
    diagonal Σ. The ELBOs average `samples` codes from `seed`, the same for both."""
    mu, logvar = model.encode(x, y)
    ys = None if y is None else torch.as_tensor(y).reshape(-1)
    g = torch.Generator().manual_seed(int(seed))
    fitted = M.refined_posterior(lambda h: losses.bernoulli_nll(x, model.decode_logits(h, x=x, y=ys)),
                                 mu, logvar, steps, lr, generator=g)
    nll = M.iwae_nll(x, lambda h, xs: model.decode_logits(h, x=xs, y=None if ys is None else ys.repeat(k)),
                     *fitted, k, generator=g)
    return {"encoder": _elbo_terms_of(model, x, mu, logvar, samples, seed, y)["negative_elbo"],
            "fitted": _elbo_terms_of(model, x, *fitted, samples, seed, y)["negative_elbo"], "nll": nll}


@_no_grad
def mean_kl_per_dimension(model, images, batch_size=BATCH):
    """KL_i = ½ (μ_i² + σ_i² − 1 − log σ_i²) of each latent dimension, averaged over `images` (d):
    near 0, the dimension is inactive (Q(h_i|X) is the prior whatever X is)."""
    total = torch.zeros(model.latent_dim)
    for i in range(0, len(images), batch_size):
        mu, logvar = model.encode(images[i:i + batch_size])
        total += losses.kl_per_dimension(mu, logvar).sum(0)
    return total / max(1, len(images))


@_no_grad
def reconstruction_error(model, x, y=None):
    """−log P(x_p | H = μ(X)) of every pixel, the Bernoulli decoder at the code's mean (B×1×28×28,
    nats); it sums to the reconstruction term at H = μ(X)."""
    mu, _ = model.encode(x, y)
    return losses.bernoulli_nll_per_pixel(x, model.decode_logits(mu, x=x, y=y))


# --- the conditional VAE's style and label, one at a time --------------------------------------

@_no_grad
def decode_each_label(cvae: CVAE, h):
    """Hold the style, sweep the label: one code H decoded with every label, f(H, Y) for
    Y = 0 … 9 (10×1×28×28)."""
    h = torch.as_tensor(h, dtype=torch.float32).reshape(1, -1)
    labels = torch.arange(cvae.num_classes)
    return cvae.decode(h.expand(len(labels), -1), labels)


@_no_grad
def style_sweep(cvae: CVAE, h, label, values):
    """Hold the label, sweep the style: row i decodes H with its dimension i set to each of
    `values` in turn, the other dimensions held ((d·len(values))×1×28×28, row-major)."""
    h = torch.as_tensor(h, dtype=torch.float32).reshape(-1)
    values = torch.as_tensor(values, dtype=torch.float32)
    codes = h.repeat(len(h) * len(values), 1)
    for i in range(len(h)):
        codes[i * len(values):(i + 1) * len(values), i] = values
    return cvae.decode(codes, torch.full((len(codes),), int(label)))
