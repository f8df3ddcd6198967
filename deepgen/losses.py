"""The lecture's formulas, one function each, named after the slide that gives it, and the one
term the project adds to them (`class_certainty_loss`, for the GAN's generator).

Each docstring quotes the slide or the paper. Reductions (mean over a batch, sum over pixels) are
stated in the signature so that a reader can check the numbers by hand.
"""
import math

import torch
import torch.nn.functional as F


def autoencoder_error(x, x_rec):
    """Slide "Автоэнкодер": E = ‖x − f(g(x))‖ (here squared, summed over pixels, per image)."""
    return (x - x_rec).pow(2).flatten(1).sum(1)


def bernoulli_nll(x, logits):
    """−log P(X|H) for a Bernoulli decoder: binary cross-entropy summed over pixels, per image."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_nll(x, mean, sigma):
    """Slide "VAE": P(X|h; θ) = N(X | f(h; θ), σ²I), so −log P(X|h) = ‖X − f(h)‖² / (2σ²) +
    (d/2)·log(2πσ²) over the d pixels; one value per image."""
    d = x[0].numel()
    return autoencoder_error(x, mean) / (2 * sigma ** 2) + 0.5 * d * math.log(2 * math.pi * sigma ** 2)


def kl_to_standard_normal(mu, logvar):
    """Slide "VAE": KL[Q(H|X) ‖ N(0, I)] = ½ (tr Σ(X) + μ(X)ᵀμ(X) − k − log det Σ(X)),
    for a diagonal Σ = diag(exp(logvar)); one value per row."""
    k = mu.shape[1]
    return 0.5 * (logvar.exp().sum(1) + mu.pow(2).sum(1) - k - logvar.sum(1))


def kl_per_dimension(mu, logvar):
    """Slide "VAE": KL[Q(H|X) ‖ N(0, I)] = ½ (tr Σ(X) + μ(X)ᵀμ(X) − k − log det Σ(X)) splits, for a
    diagonal Σ = diag(σ²), into one term per dimension, KL_i = ½ (μ_i² + σ_i² − 1 − log σ_i²), which
    sum to it; same shape as mu. A dimension whose KL_i stays near 0 for every X carries nothing
    about X: Q(h_i|X) is the prior there."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)


def bernoulli_nll_per_pixel(x, logits):
    """−log P(x_p|H) of each pixel for a Bernoulli decoder, −[x_p log p_p + (1 − x_p) log(1 − p_p)]
    with p = sigmoid(logits); same shape as x. Summed over pixels it is `bernoulli_nll`."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none")


def negative_elbo(x, logits, mu, logvar):
    """Slide "VAE": ELBO = E_{H∼Q}[log P(X|H)] − KL[Q(H|X) ‖ N(0, I)]; returns −ELBO per image
    (one-sample estimate of the expectation), in nats."""
    return bernoulli_nll(x, logits) + kl_to_standard_normal(mu, logvar)


def reparameterize(mu, logvar, generator=None):
    """H = μ + σ·ε, ε ∼ N(0, I): a sample of Q(H|X) that gradients flow through; ε comes from
    `generator` where one is given, else from torch's global generator."""
    eps = torch.randn_like(mu) if generator is None else \
        torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
    return mu + (0.5 * logvar).exp() * eps


def contrastive_loss(distance, same, margin):
    """Slide "Сиамские сети": L = Y·D² + (1 − Y)·max(α − D, 0)², Y = 1 for a pair of one class;
    one value per pair."""
    same = same.to(distance.dtype)
    return same * distance.pow(2) + (1 - same) * (margin - distance).clamp(min=0).pow(2)


def triplet_loss(anchor, positive, negative, margin):
    """Slide "Triplet loss": L = max(‖F(A) − F(P)‖² − ‖F(A) − F(N)‖² + α, 0); one value per triplet."""
    d_ap = (anchor - positive).pow(2).sum(-1)
    d_an = (anchor - negative).pow(2).sum(-1)
    return (d_ap - d_an + margin).clamp(min=0)


def softmax_loss(logits, labels):
    """Slide "Softmax loss": L = −1/N Σ ln( e^{W_{y_i}ᵀx_i + b} / Σ_j e^{W_jᵀx_i + b_j} )."""
    return F.cross_entropy(logits, labels)


def cosine_logits(embeddings, weights):
    """Slide "N-Softmax": cos θ_j = (x, W_j) / (‖x‖‖W_j‖), one row per embedding, one column per class."""
    return F.normalize(embeddings, dim=1) @ F.normalize(weights, dim=1).t()


def normalized_softmax_loss(cos, labels, scale):
    """Slide "N-Softmax": L = −1/N Σ ln( e^{s·cos θ_{y_i}} / (e^{s·cos θ_{y_i}} + Σ_{j≠y_i} e^{s·cos θ_j}) )."""
    return F.cross_entropy(scale * cos, labels)


def _with_target(cos, labels, target_value):
    one_hot = F.one_hot(labels, cos.shape[1]).bool()
    return torch.where(one_hot, target_value.unsqueeze(1), cos)


def _target_cos(cos, labels):
    return cos.gather(1, labels.unsqueeze(1)).squeeze(1)


_EPS = 1e-7


def sphereface_psi(cos_target, margin):
    """The monotone extension of cos(m·θ) used by SphereFace (Liu et al. 2017):
    ψ(θ) = (−1)^k cos(m·θ) − 2k for θ ∈ [kπ/m, (k+1)π/m], k = 0 … m−1, with an integer m."""
    theta = torch.acos(cos_target.clamp(-1 + _EPS, 1 - _EPS))
    k = torch.floor(margin * theta / math.pi).clamp(0, margin - 1)
    sign = 1 - 2 * torch.remainder(k, 2)
    return sign * torch.cos(margin * theta) - 2 * k


def sphereface_loss(cos, labels, scale, margin, lam=0.0):
    """Slide "SphereFace Loss": L = −1/N Σ ln( e^{s·cos(m·θ_{y_i})} / (e^{s·cos(m·θ_{y_i})} + Σ_{j≠y_i} e^{s·cos θ_j}) ),
    with cos(m·θ) replaced by its monotone extension ψ(θ) and annealed as (λ·cos θ + ψ(θ)) / (1 + λ)."""
    c = _target_cos(cos, labels)
    target = (lam * c + sphereface_psi(c, margin)) / (1 + lam)
    return F.cross_entropy(scale * _with_target(cos, labels, target), labels)


def cosface_loss(cos, labels, scale, margin):
    """Slide "CosFace Loss": L = −1/N Σ ln( e^{s·(cos θ_{y_i} − m)} / (e^{s·(cos θ_{y_i} − m)} + Σ_{j≠y_i} e^{s·cos θ_j}) )."""
    target = _target_cos(cos, labels) - margin
    return F.cross_entropy(scale * _with_target(cos, labels, target), labels)


def arcface_target(cos_target, margin):
    """cos(θ + m), continued as cos θ − m·sin m where θ + m > π so that it keeps falling with θ;
    written with sin θ = √(1 − cos²θ) so that its gradient is finite at cos θ = ±1."""
    sin = (1 - cos_target.pow(2)).clamp(min=_EPS).sqrt()
    cos_theta_m = cos_target * math.cos(margin) - sin * math.sin(margin)
    past_pi = cos_target < math.cos(math.pi - margin)
    return torch.where(past_pi, cos_target - margin * math.sin(margin), cos_theta_m)


def arcface_loss(cos, labels, scale, margin):
    """Slide "ArcFace Loss": L = −1/N Σ ln( e^{s·cos(θ_{y_i} + m)} / (e^{s·cos(θ_{y_i} + m)} + Σ_{j≠y_i} e^{s·cos θ_j}) )."""
    target = arcface_target(_target_cos(cos, labels), margin)
    return F.cross_entropy(scale * _with_target(cos, labels, target), labels)


def gan_discriminator_loss(real_logits, fake_logits):
    """Slide "GAN": −E_x[log D(x)] − E_z[log(1 − D(G(z)))], with D = sigmoid(logits)
    (log D = −softplus(−l), log(1 − D) = −softplus(l), exact and stable)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_generator_loss(fake_logits):
    """Slide "GAN" (non-saturating generator): −E_z[log D(G(z))]."""
    return F.softplus(-fake_logits).mean()


def class_certainty_loss(class_logits):
    """CatGAN's generator term (Springenberg 2016), E_x[H(p(y|x))] − H(E_x[p(y|x)]): each sample
    firmly in one class, the classes used equally often. It equals −E_x KL(p(y|x) ‖ p(y)) over the
    batch, so minimising it raises the log of the classifier score seen by that classifier."""
    log_p = F.log_softmax(class_logits, dim=1)
    p = log_p.exp()
    conditional = -(p * log_p).sum(1).mean()
    marginal = p.mean(0)
    return conditional + (marginal * marginal.clamp_min(1e-12).log()).sum()
