"""Evaluation metrics against hand-worked values, closed forms and pytorch-metric-learning."""
import math

import pytest
import torch

from deepgen import metrics as M
from deepgen.losses import bernoulli_nll


def rotation(deg):
    t = math.radians(deg)
    return torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], dtype=torch.double)


def test_frechet_distance_1d_closed_form():
    # (μ1 − μ2)² + (σ1 − σ2)² for one dimension: (1 − 4)² + (2 − 0.5)² = 9 + 2.25
    d = M.frechet_distance(torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([4.0]), torch.tensor([[0.25]]))
    assert d == pytest.approx(11.25)


def test_frechet_distance_rotated_covariance():
    # Σ1 = I, Σ2 = R diag(9, 4) Rᵀ: tr(I + Σ2 − 2Σ2^½) = (1 − 3)² + (1 − 2)² = 5, plus ‖μ1 − μ2‖² = 2
    r = rotation(30)
    cov2 = r @ torch.diag(torch.tensor([9.0, 4.0], dtype=torch.double)) @ r.t()
    d = M.frechet_distance(torch.zeros(2), torch.eye(2), torch.ones(2), cov2)
    assert d == pytest.approx(7.0)


def test_frechet_distance_is_symmetric_and_zero_on_itself():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, generator=g, dtype=torch.double)
    b = torch.randn(3, 3, generator=g, dtype=torch.double)
    cov1, cov2 = a @ a.t() + 0.1 * torch.eye(3), b @ b.t() + 0.1 * torch.eye(3)
    mu1, mu2 = torch.randn(3, generator=g), torch.randn(3, generator=g)
    assert M.frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(M.frechet_distance(mu2, cov2, mu1, cov1))
    assert M.frechet_distance(mu1, cov1, mu1, cov1) == pytest.approx(0.0, abs=1e-8)


def test_frechet_feature_distance_matches_the_gaussians_it_samples():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(200000, 1, generator=g) * 2.0 + 1.0
    b = torch.randn(200000, 1, generator=g) * 0.5 + 4.0
    assert M.frechet_feature_distance(a, b) == pytest.approx(11.25, rel=0.01)


def test_ambiguous_share_hand_worked():
    probs = torch.tensor([[0.95, 0.05], [0.5, 0.5], [0.1, 0.9], [0.89, 0.11]])
    assert M.ambiguous_share(probs) == pytest.approx(2 / 4)       # 0.5 and 0.89 fall below 0.9
    assert M.ambiguous_share(probs, threshold=0.5) == pytest.approx(0.0)
    assert M.ambiguous_share(torch.full((5, 10), 0.1)) == 1.0


def test_classifier_score_hand_worked():
    # p(y) = (0.75, 0.25); KL1 = ln(1/0.75); KL2 = ½ ln(0.5/0.75) + ½ ln(0.5/0.25)
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    expected = math.exp((math.log(1 / 0.75) + 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2)) / 2)
    assert M.classifier_score(probs) == pytest.approx(expected, rel=1e-6)
    assert M.classifier_score(torch.eye(10)) == pytest.approx(10.0, rel=1e-6)
    assert M.classifier_score(torch.full((5, 10), 0.1)) == pytest.approx(1.0)


def angles_to_points(degrees):
    t = torch.tensor(degrees, dtype=torch.float) * math.pi / 180
    return torch.stack([t.cos(), t.sin()], 1)


def test_recall_at_1_and_map_at_r_by_hand():
    # points on the unit circle; nearest neighbours by angle:
    # a0 (0°) → a1 (10°) ✓; a1 → a0 ✓; a2 (100°) → b1 (104°) ✗;
    # b0 (200°) → b2 (215°) ✓; b1 → a2 ✗; b2 → b0 ✓   ⇒ recall@1 = 4/6
    emb = angles_to_points([0, 10, 100, 200, 104, 215])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    assert M.recall_at_1(emb, labels) == pytest.approx(4 / 6)
    # R = 2 for every query. Rankings (top 2) and AP@R = (Σ precision@i at hits) / R:
    # a0: a1 (10°) ✓, a2 (100°) ✓ before b1 (104°) → (1 + 1)/2 = 1
    # a1: a0 (10°) ✓, a2 (90°) ✓ before b1 (94°) → 1
    # a2: b1 (4°) ✗, a1 (90°) ✓ → (½)/2 = ¼
    # b0: b2 (15°) ✓, b1 (96°) ✓ before a2 (100°) → 1
    # b1: a2 (4°) ✗, a1 (94°) ✗ before b0 (96°) → 0
    # b2: b0 (15°) ✓, b1 (111°) ✓ before a2 (115°) → 1
    assert M.map_at_r(emb, labels) == pytest.approx((1 + 1 + 0.25 + 1 + 0 + 1) / 6)


def test_retrieval_metrics_match_pytorch_metric_learning():
    from pytorch_metric_learning.distances import CosineSimilarity
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (300,), generator=g)
    centres = torch.randn(5, 8, generator=g)
    emb = torch.nn.functional.normalize(centres[labels] + 0.9 * torch.randn(300, 8, generator=g), dim=1)
    calc = AccuracyCalculator(include=("precision_at_1", "mean_average_precision_at_r"), k="max_bin_count",
                              knn_func=CustomKNN(CosineSimilarity()))
    ref = calc.get_accuracy(emb, labels, emb, labels, ref_includes_query=True)
    assert M.recall_at_1(emb, labels) == pytest.approx(ref["precision_at_1"], abs=1e-6)
    assert M.map_at_r(emb, labels) == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-6)


def test_roc_auc_equals_a_direct_count_with_ties():
    g = torch.Generator().manual_seed(1)
    scores = torch.randint(0, 7, (120,), generator=g).float()  # many ties
    positive = torch.rand(120, generator=g) < 0.4
    pos, neg = scores[positive], scores[~positive]
    wins = (pos[:, None] > neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :]).double()
    assert M.roc_auc(scores, positive) == pytest.approx(float(wins.mean()))


def test_roc_auc_hand_worked():
    # positives 0.35, 0.8, 0.4 vs negatives 0.1, 0.4: wins 1 + 0 + 1 + 1 + 1 + ½ = 4.5 of 6
    assert M.roc_auc(torch.tensor([0.1, 0.4, 0.35, 0.8, 0.4]), torch.tensor([0, 0, 1, 1, 1]).bool()) == 0.75


def test_best_threshold_is_as_good_as_any_threshold():
    g = torch.Generator().manual_seed(2)
    same = torch.rand(400, generator=g) < 0.5
    d = torch.where(same, torch.rand(400, generator=g) * 1.2, 0.6 + torch.rand(400, generator=g))
    t = M.best_threshold(d, same)
    brute = max(M.verification_accuracy(d, same, float(c)) for c in torch.cat([d, d.min().view(1) - 1]))
    assert M.verification_accuracy(d, same, t) == pytest.approx(brute)


def test_fit_logistic_solves_the_score_equations():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(500, generator=g) * 2
    y = (torch.rand(500, generator=g) < torch.sigmoid(4 - 5 * x)).double()
    a, b = M.fit_logistic(x, y)
    p = torch.sigmoid(a * x.double() + b)
    assert float((p - y).sum()) == pytest.approx(0, abs=1e-6)
    assert float(((p - y) * x).sum()) == pytest.approx(0, abs=1e-6)
    assert a < 0  # larger distance, less likely the same digit


def test_make_pairs_half_same_no_self_pairs_reproducible():
    labels = torch.arange(10).repeat(20)
    a, b = M.make_pairs(labels, 1000, seed=5)
    same = labels[a] == labels[b]
    assert int(same.sum()) == 500
    assert bool((a != b).all())
    a2, b2 = M.make_pairs(labels, 1000, seed=5)
    assert torch.equal(a, a2) and torch.equal(b, b2)


def test_iwae_is_exact_when_the_decoder_ignores_the_code():
    # p(x|h) = p(x) and q = the prior: every weight is p(x), so −log p(x) = BCE(x, logits) for any k
    x = torch.rand(4, 1, 28, 28)
    logits = torch.randn(1, 1, 28, 28)
    mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)
    nll = M.iwae_nll(x, lambda h, xs: logits.expand(len(h), -1, -1, -1), mu, logvar, k=7)
    assert torch.allclose(nll, bernoulli_nll(x, logits.expand(4, -1, -1, -1)), atol=1e-3)


def test_vae_bounds_score_each_image_with_its_own_rows():
    # a row-by-row decoder that ignores the code (first decoder layer zeroed) and Q = the prior
    # (last encoder layer zeroed): −ELBO and IWAE both equal the decoder's BCE of each image given
    # its own rows, which holds only if every importance sample is scored against its own image
    from deepgen.evaluation import evaluate_vae
    from deepgen.models import VAE
    torch.manual_seed(0)
    model = VAE(latent_dim=2, width=8, hidden=16, context_rows=1, context_reach=1).eval()
    with torch.no_grad():
        model.decoder[0].weight.zero_()
        model.encoder[-1].weight.zero_()
        model.encoder[-1].bias.zero_()
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        direct = bernoulli_nll(x, model.decode_logits(torch.zeros(6, 2), x)).mean().item()
    out = evaluate_vae(model, (x, torch.zeros(6, dtype=torch.long)), iwae_k=5)
    assert out["test_neg_elbo"] == pytest.approx(direct, rel=1e-5)
    assert out["test_nll_iwae"] == pytest.approx(direct, rel=1e-5)


def test_iwae_bound_tightens_with_k():
    torch.manual_seed(0)
    w = torch.randn(2, 784) * 0.5
    decode = lambda h, xs: (h @ w).view(-1, 1, 28, 28)  # noqa: E731
    x = torch.rand(64, 1, 28, 28).round()
    mu, logvar = torch.zeros(64, 2) + 0.3, torch.full((64, 2), -1.0)
    k1 = M.iwae_nll(x, decode, mu, logvar, k=1).mean()
    k50 = M.iwae_nll(x, decode, mu, logvar, k=50).mean()
    assert k50 < k1


def _linear_gaussian(seed=0, n=5, d=3, pixels=20, s=0.5):
    """P(H) = N(0, I), P(X|H) = N(Wh, s²I) with orthogonal columns of W (norms 1, 2, 3): the
    posterior is diagonal, N(m, diag v) with v = 1 / (1 + c²/s²), m = v·Wᵀx/s², and
    P(X) = N(0, WWᵀ + s²I), all in closed form."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(pixels, d, generator=g, dtype=torch.double))
    c = torch.arange(1.0, d + 1, dtype=torch.double)
    w = q * c
    x = torch.randn(n, pixels, generator=g, dtype=torch.double) * 2
    v = 1 / (1 + c ** 2 / s ** 2)
    m = v * (x @ w) / s ** 2
    cov = w @ w.t() + s ** 2 * torch.eye(pixels, dtype=torch.double)
    log_px = torch.distributions.MultivariateNormal(torch.zeros(pixels, dtype=torch.double), cov).log_prob(x)
    return x, w, s, m, v, log_px


def test_refined_posterior_reaches_the_true_posterior_and_the_evidence():
    # log P(X) − KL[Q ‖ P(H|X)] = ELBO: once Q is the (here diagonal) true posterior, −ELBO = −log P(X)
    x, w, s, m, v, log_px = _linear_gaussian()
    torch.manual_seed(0)

    def neg_log_lik(h):
        return ((x - h @ w.t()) ** 2).sum(1) / (2 * s ** 2) + 0.5 * x.shape[1] * math.log(2 * math.pi * s ** 2)

    mu, logvar = M.refined_posterior(neg_log_lik, torch.zeros_like(m), torch.zeros_like(m), steps=2000, lr=0.05,
                                     samples=16)
    assert torch.allclose(mu, m, atol=0.02)
    assert torch.allclose(logvar.exp(), v, rtol=0.1)
    # the −ELBO of the fitted Q in closed form: E_Q‖x − Wh‖² = ‖x − Wμ‖² + Σ cᵢ² σᵢ²
    var = logvar.exp()
    rec = (((x - mu @ w.t()) ** 2).sum(1) + (var * (w ** 2).sum(0)).sum(1)) / (2 * s ** 2) \
        + 0.5 * x.shape[1] * math.log(2 * math.pi * s ** 2)
    kl = 0.5 * (var.sum(1) + mu.pow(2).sum(1) - m.shape[1] - logvar.sum(1))
    assert torch.allclose(rec + kl, -log_px, atol=0.02)
    start = neg_log_lik(torch.zeros_like(m))        # Q = the prior: its −ELBO is E_prior[−log P(X|H)] > −log P(X)
    assert (start > -log_px + 1).all()


def test_refined_posterior_lowers_a_vaes_negative_elbo_image_by_image():
    from deepgen.losses import negative_elbo, reparameterize
    from deepgen.models import VAE
    torch.manual_seed(0)
    model = VAE(latent_dim=4, width=8, hidden=32).eval()
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1)).round()
    mu0, logvar0 = torch.full((6, 4), 2.0), torch.full((6, 4), 1.0)     # a poor guess: far from the prior

    mu, logvar = M.refined_posterior(lambda h: bernoulli_nll(x, model.decode_logits(h)), mu0, logvar0,
                                     steps=60, lr=0.05)
    assert all(p.grad is None for p in model.parameters())      # the decoder is held fixed

    def bound(mu, logvar, reps=64):
        torch.manual_seed(1)
        with torch.no_grad():
            return torch.stack([negative_elbo(x, model.decode_logits(reparameterize(mu, logvar)), mu, logvar)
                                for _ in range(reps)]).mean(0)
    assert (bound(mu, logvar) < bound(mu0, logvar0) - 1).all()


def test_vae_evaluation_reports_the_refined_bound_only_when_asked():
    from deepgen.evaluation import evaluate_vae
    from deepgen.models import VAE
    torch.manual_seed(0)
    model = VAE(latent_dim=4, width=8, hidden=32).eval()
    with torch.no_grad():                   # an encoder that guesses Q(H|X) = N(2, e) whatever the image
        model.encoder[-1].weight.zero_()
        model.encoder[-1].bias.copy_(torch.tensor([2.0] * 4 + [1.0] * 4))
    x = torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(2)).round()
    test = (x, torch.zeros(20, dtype=torch.long))
    plain = evaluate_vae(model, test, iwae_k=4)
    refined = evaluate_vae(model, test, iwae_k=4, refine_steps=30)
    assert "test_neg_elbo_refined" not in plain
    assert {k: refined[k] for k in plain} == plain          # the encoder's numbers stay as they were
    assert refined["refine_steps"] == 30
    assert refined["test_neg_elbo_refined"] < plain["test_neg_elbo"] - 0.5
