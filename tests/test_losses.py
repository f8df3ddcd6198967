"""Every formula of deepgen.losses against an independent computation."""
import math

import pytest
import torch
import torch.nn as nn
from pytorch_metric_learning import losses as pml

from deepgen import losses as L


def f64(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def close(a, b, tol=1e-6):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                          atol=tol, rtol=tol)


# --- autoencoder, Bernoulli decoder, VAE ---

def test_autoencoder_error_is_squared_error_summed_per_image():
    x = f64([1.0, 0.0], [0.5, 0.5])
    rec = f64([0.5, 0.5], [0.5, 0.0])
    assert close(L.autoencoder_error(x, rec), [0.25 + 0.25, 0.0 + 0.25])


def test_bernoulli_nll_by_hand():
    # p = sigmoid(0) = 1/2 for a white pixel, p = sigmoid(ln 3) = 3/4 for a black one
    x = f64([1.0, 0.0])
    logits = f64([0.0, math.log(3)])
    assert close(L.bernoulli_nll(x, logits), [math.log(2) + math.log(4)])


def test_gaussian_nll_is_the_normal_log_density():
    g = torch.Generator().manual_seed(0)
    x, mean = torch.rand(3, 1, 4, 4, generator=g, dtype=torch.float64), torch.rand(3, 1, 4, 4, generator=g, dtype=torch.float64)
    for sigma in (0.1, 1.0):
        reference = -torch.distributions.Normal(mean, sigma).log_prob(x).flatten(1).sum(1)
        assert torch.allclose(L.gaussian_nll(x, mean, sigma), reference)
    # by hand: one pixel 0.3 away, σ = 0.1 → 0.09/0.02 + ½ log(2π·0.01)
    assert L.gaussian_nll(f64([[0.3]]), f64([[0.0]]), 0.1).item() == pytest.approx(4.5 + 0.5 * math.log(0.02 * math.pi))


def test_kl_to_standard_normal_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = f64([0.0, 0.0, 0.0], [1.0, -0.5, 2.0], [0.3, 0.0, -1.0])
    logvar = f64([0.0, 0.0, 0.0], [0.5, -1.0, 0.0], [-2.0, 1.0, 0.2])
    n = 400_000
    std = (0.5 * logvar).exp()
    h = mu + std * torch.randn(n, *mu.shape, generator=g, dtype=torch.float64)
    q = torch.distributions.Normal(mu, std)
    p = torch.distributions.Normal(0.0, 1.0)
    log_ratio = (q.log_prob(h) - p.log_prob(h)).sum(-1)
    estimate, stderr = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n)
    exact = L.kl_to_standard_normal(mu, logvar)
    assert exact[0].item() == pytest.approx(0.0, abs=1e-12)
    assert torch.all((exact - estimate).abs() < 5 * stderr + 1e-3), (exact, estimate, stderr)


def test_negative_elbo_is_bce_plus_kl_by_hand():
    x = f64([1.0, 0.0])
    logits = f64([0.0, math.log(3)])
    mu, logvar = f64([1.0, 0.0]), f64([0.0, math.log(2)])
    bce = math.log(2) + math.log(4)
    kl = 0.5 * ((1 + 2) + 1 - 2 - math.log(2))
    assert close(L.negative_elbo(x, logits, mu, logvar), [bce + kl])


def test_reparameterize_samples_q_and_passes_gradients():
    torch.manual_seed(0)
    mu = torch.tensor([[1.5, -2.0]], requires_grad=True)
    logvar = torch.tensor([[math.log(4.0), math.log(0.25)]], requires_grad=True)
    h = L.reparameterize(mu.expand(200_000, 2), logvar.expand(200_000, 2))
    assert close(h.mean(0).detach(), [1.5, -2.0], tol=2e-2)
    assert close(h.std(0).detach(), [2.0, 0.5], tol=2e-2)
    h.sum().backward()
    assert close(mu.grad, [[200_000.0, 200_000.0]])
    assert torch.isfinite(logvar.grad).all()


# --- Siamese pair and triplet losses ---

def test_contrastive_loss_by_hand():
    distance = torch.tensor([0.5, 0.5, 2.0, 0.3, 0.0])
    same = torch.tensor([True, False, False, True, False])
    # same: D² = 0.25; different: (1 - 0.5)² = 0.25; beyond the margin: 0; same: 0.09; different at 0: 1
    assert close(L.contrastive_loss(distance, same, margin=1.0), [0.25, 0.25, 0.0, 0.09, 1.0])


def test_triplet_loss_by_hand():
    anchor = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    positive = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    negative = torch.tensor([[1.0, 0.0], [1.0, 0.5], [0.0, 2.0]])
    # ‖A−P‖² − ‖A−N‖² + 0.5: 2 − 1 + 0.5 = 1.5; 1 − 1.25 + 0.5 = 0.25; 1 − 4 + 0.5 < 0 → 0
    assert close(L.triplet_loss(anchor, positive, negative, margin=0.5), [1.5, 0.25, 0.0])


# --- softmax family ---

def test_softmax_loss_by_hand():
    logits = f64([0.0, math.log(3), 0.0], [math.log(2), 0.0, math.log(5)])
    labels = torch.tensor([1, 0])
    # e^z = (1, 3, 1) → p = 3/5;  e^z = (2, 1, 5) → p = 2/8
    expected = (-math.log(3 / 5) - math.log(2 / 8)) / 2
    assert L.softmax_loss(logits, labels).item() == pytest.approx(expected, rel=1e-12)


def test_cosine_logits_by_hand():
    x = torch.tensor([[3.0, 4.0]])
    w = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    assert close(L.cosine_logits(x, w), [[0.6, 0.8, -1.4 / math.sqrt(2)]])


def _batch(n=12, classes=5, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    w = torch.randn(classes, dim, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, w, y


def _with_w(loss, w):
    loss.W = nn.Parameter(w.t().clone())
    return loss


def test_normalized_softmax_matches_pml():
    x, w, y = _batch()
    s = 16.0
    ours = L.normalized_softmax_loss(L.cosine_logits(x, w), y, s)
    ref = _with_w(pml.NormalizedSoftmaxLoss(w.shape[0], w.shape[1], temperature=1 / s), w)(x, y)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-9)


@pytest.mark.parametrize("margin,scale", [(0.35, 30.0), (0.1, 10.0)])
def test_cosface_matches_pml(margin, scale):
    x, w, y = _batch(seed=1)
    ours = L.cosface_loss(L.cosine_logits(x, w), y, scale, margin)
    ref = _with_w(pml.CosFaceLoss(w.shape[0], w.shape[1], margin=margin, scale=scale), w)(x, y)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-9)


@pytest.mark.parametrize("margin,scale", [(0.5, 30.0), (1.2, 8.0)])
def test_arcface_matches_pml(margin, scale):
    x, w, y = _batch(seed=2)
    ours = L.arcface_loss(L.cosine_logits(x, w), y, scale, margin)
    ref = _with_w(pml.ArcFaceLoss(w.shape[0], w.shape[1], margin=math.degrees(margin), scale=scale), w)(x, y)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-7)


def test_arcface_batch_covers_both_branches():
    x, w, y = _batch(seed=2)
    theta = torch.acos(L.cosine_logits(x, w).gather(1, y[:, None]))
    assert (theta > math.pi - 1.2).any() and (theta < math.pi - 1.2).any()


@pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")
@pytest.mark.parametrize("scale", [4.0, 10.0])
def test_sphereface_matches_pml(scale):
    x, w, y = _batch(seed=3)
    x = scale * x / x.norm(dim=1, keepdim=True)  # pml scales the logits by ‖x‖
    ours = L.sphereface_loss(L.cosine_logits(x, w), y, scale, margin=4, lam=0.0)
    ref = _with_w(pml.SphereFaceLoss(w.shape[0], w.shape[1], margin=4, scale=1), w)(x, y)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)


def test_sphereface_lambda_interpolates_towards_plain_cosine():
    x, w, y = _batch(seed=4)
    cos = L.cosine_logits(x, w)
    huge_lambda = L.sphereface_loss(cos, y, 10.0, margin=4, lam=1e9)
    assert huge_lambda.item() == pytest.approx(L.normalized_softmax_loss(cos, y, 10.0).item(), rel=1e-6)


@pytest.mark.parametrize("theta,margin", [(0.3, 0.5), (2.0, 0.5), (1.0, 1.5)])
def test_arcface_target_is_cos_theta_plus_m_before_pi(theta, margin):
    got = L.arcface_target(torch.tensor([math.cos(theta)], dtype=torch.float64), margin)
    assert got.item() == pytest.approx(math.cos(theta + margin), abs=1e-6)


@pytest.mark.parametrize("theta,margin", [(3.0, 0.5), (2.0, 1.5), (math.pi, 0.5)])
def test_arcface_target_past_pi_continues_linearly(theta, margin):
    assert theta + margin > math.pi
    got = L.arcface_target(torch.tensor([math.cos(theta)], dtype=torch.float64), margin)
    assert got.item() == pytest.approx(math.cos(theta) - margin * math.sin(margin), abs=1e-6)


def test_arcface_target_decreases_with_theta():
    theta = torch.linspace(0, math.pi, 2001, dtype=torch.float64)
    target = L.arcface_target(torch.cos(theta), 0.5)
    assert (target.diff() <= 1e-9).all()


def test_sphereface_psi_is_monotone_decreasing_for_m4():
    theta = torch.linspace(0, math.pi, 4001, dtype=torch.float64)
    psi = L.sphereface_psi(torch.cos(theta), 4)
    assert (psi.diff() < 0).all()
    assert psi[0].item() == pytest.approx(1.0, abs=1e-5)
    assert psi[-1].item() == pytest.approx(1 - 2 * 4, abs=1e-5)
    quarter = L.sphereface_psi(torch.tensor([math.cos(math.pi / 8)], dtype=torch.float64), 4)
    assert quarter.item() == pytest.approx(math.cos(4 * math.pi / 8), abs=1e-9)


@pytest.mark.parametrize("name", ["arcface", "sphereface"])
@pytest.mark.parametrize("edge", [1.0, -1.0])
def test_margin_losses_have_finite_gradients_at_cos_pm_one(name, edge):
    cos = torch.tensor([[edge, 0.2, -0.3], [0.1, edge, 0.0]], requires_grad=True)
    labels = torch.tensor([0, 1])
    if name == "arcface":
        loss = L.arcface_loss(cos, labels, 30.0, 0.5)
    else:
        loss = L.sphereface_loss(cos, labels, 30.0, 4, lam=5.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(cos.grad).all()


def test_arcface_gradient_finite_through_cosine_logits_when_parallel():
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    x = torch.tensor([[2.0, 0.0], [0.0, -3.0]], requires_grad=True)
    loss = L.arcface_loss(L.cosine_logits(x, w), torch.tensor([0, 1]), 30.0, 0.5)
    loss.backward()
    assert torch.isfinite(x.grad).all()


# --- GAN ---

def test_gan_losses_match_probability_formulas():
    real = torch.tensor([2.0, -0.5, 0.0, 1.3], dtype=torch.float64)
    fake = torch.tensor([-1.0, 0.7, -3.0], dtype=torch.float64)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    d_expected = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    g_expected = -torch.log(d_fake).mean()
    assert L.gan_discriminator_loss(real, fake).item() == pytest.approx(d_expected.item(), rel=1e-12)
    assert L.gan_generator_loss(fake).item() == pytest.approx(g_expected.item(), rel=1e-12)


def test_gan_losses_stay_finite_for_extreme_logits():
    extreme = torch.tensor([-200.0, 200.0])
    assert torch.isfinite(L.gan_discriminator_loss(extreme, extreme))
    assert torch.isfinite(L.gan_generator_loss(extreme))
    assert L.gan_generator_loss(torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_class_certainty_loss_hand_worked():
    # two samples over two classes: p = (0.8, 0.2) and (0.4, 0.6); the batch marginal is (0.6, 0.4)
    probs = f64([0.8, 0.2], [0.4, 0.6])
    conditional = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2) + 0.4 * math.log(0.4) + 0.6 * math.log(0.6)) / 2
    marginal = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert L.class_certainty_loss(probs.log()).item() == pytest.approx(conditional - marginal, rel=1e-12)


def test_class_certainty_loss_is_minus_log_classifier_score():
    from deepgen.metrics import classifier_score
    logits = torch.randn(50, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    score = classifier_score(torch.softmax(logits, 1))
    assert L.class_certainty_loss(logits).item() == pytest.approx(-math.log(score), rel=1e-9)
    confident = torch.eye(10, dtype=torch.float64) * 100      # every class, each sample certain
    assert L.class_certainty_loss(confident).item() == pytest.approx(-math.log(10), rel=1e-9)
    assert L.class_certainty_loss(torch.zeros(4, 10)).item() == pytest.approx(0.0, abs=1e-7)
