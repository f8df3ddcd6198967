"""Evaluation metrics, each a plain function of tensors, checked by hand-worked tests."""
import math

import torch
import torch.nn.functional as F

from . import losses as L


def frechet_distance(mu1, cov1, mu2, cov2):
    """‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½), the Fréchet distance of two Gaussians (FID's formula).
    tr (Σ₁Σ₂)^½ is computed as the sum of √eigenvalues of Σ₁^½ Σ₂ Σ₁^½ (symmetric, PSD)."""
    mu1, cov1, mu2, cov2 = (t.double() for t in (mu1, cov1, mu2, cov2))
    vals, vecs = torch.linalg.eigh(cov1)
    sqrt1 = vecs @ torch.diag(vals.clamp(min=0).sqrt()) @ vecs.t()
    middle = sqrt1 @ cov2 @ sqrt1
    tr_sqrt = torch.linalg.eigvalsh((middle + middle.t()) / 2).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + cov1.trace() + cov2.trace() - 2 * tr_sqrt)


def gaussian_stats(features):
    f = features.double()
    return f.mean(0), torch.atleast_2d(torch.cov(f.t()))


def frechet_feature_distance(features_a, features_b):
    """FID with a given feature extractor: the Fréchet distance of the features' Gaussian fits."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def classifier_score(probs):
    """The Inception-Score analogue: exp(E_x KL(p(y|x) ‖ p(y))); between 1 and the number of classes."""
    probs = probs.double().clamp(min=1e-12)
    marginal = probs.mean(0, keepdim=True)
    return float(torch.exp((probs * (probs.log() - marginal.log())).sum(1).mean()))


def ambiguous_share(probs, threshold=0.9):
    """The share of images whose most likely class the classifier gives a probability below
    `threshold` ("ambiguous digits"): mean_x 1[max_y p(y|x) < threshold]."""
    return float((probs.max(1).values < threshold).double().mean())


def _neighbour_ranking(embeddings, k, chunk=1024):
    """Indices of each row's k nearest other rows by cosine similarity (self excluded)."""
    e = F.normalize(embeddings.float(), dim=1)
    out = []
    for start in range(0, len(e), chunk):
        sim = e[start:start + chunk] @ e.t()
        rows = torch.arange(start, min(start + chunk, len(e)))
        sim[torch.arange(len(rows)), rows] = -float("inf")
        out.append(sim.topk(k, dim=1).indices)
    return torch.cat(out)


def recall_at_1(embeddings, labels):
    """Leave-one-out nearest neighbour: the share of items whose nearest other item has their label."""
    nn1 = _neighbour_ranking(embeddings, 1)[:, 0]
    return float((labels[nn1] == labels).double().mean())


def map_at_r(embeddings, labels):
    """MAP@R (Musgrave et al. 2020): for each query with R other items of its class, the mean over
    its top-R neighbours of precision@i at every relevant position i, divided by R."""
    counts = torch.bincount(labels)
    r = counts[labels] - 1
    ranked = _neighbour_ranking(embeddings, int(r.max()))
    relevant = (labels[ranked] == labels[:, None]).double()
    positions = torch.arange(1, ranked.shape[1] + 1, dtype=torch.double)
    within_r = positions[None, :] <= r[:, None]
    relevant = relevant * within_r
    precision = relevant.cumsum(1) / positions
    return float(((precision * relevant).sum(1) / r.clamp(min=1)).mean())


def roc_auc(scores, positive):
    """Area under the ROC curve = P(score of a positive > score of a negative), ties counting ½
    (scikit-learn's `roc_auc_score`)."""
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(positive.bool().numpy(), scores.double().numpy()))


def make_pairs(labels, n_pairs, seed=0):
    """`n_pairs` index pairs, half of one digit and half of two different digits, drawn reproducibly."""
    g = torch.Generator().manual_seed(seed)
    by_class = [torch.nonzero(labels == c).flatten() for c in range(int(labels.max()) + 1)]
    a, b = [], []
    half = n_pairs // 2
    for i in range(n_pairs):
        c1 = int(torch.randint(len(by_class), (1,), generator=g))
        c2 = c1 if i < half else (c1 + int(torch.randint(1, len(by_class), (1,), generator=g))) % len(by_class)
        pool1, pool2 = by_class[c1], by_class[c2]
        i1 = pool1[torch.randint(len(pool1), (1,), generator=g)]
        i2 = pool2[torch.randint(len(pool2), (1,), generator=g)]
        while c1 == c2 and i2 == i1:
            i2 = pool2[torch.randint(len(pool2), (1,), generator=g)]
        a.append(int(i1))
        b.append(int(i2))
    return torch.tensor(a), torch.tensor(b)


def best_threshold(distances, same):
    """The distance threshold (predict "same" when distance ≤ t) with the highest accuracy."""
    d, order = distances.double().sort()
    s = same.bool()[order]
    # accuracy when the first i pairs (smallest distances) are called "same"
    correct = torch.cat([torch.zeros(1, dtype=torch.double), s.double().cumsum(0)]) \
        + torch.cat([(~s).double().flip(0).cumsum(0).flip(0), torch.zeros(1, dtype=torch.double)])
    i = int(correct.argmax())
    if i == 0:
        return float(d[0]) - 1e-6
    if i == len(d):
        return float(d[-1])
    return float((d[i - 1] + d[i]) / 2)


def verification_accuracy(distances, same, threshold):
    return float(((distances <= threshold) == same.bool()).double().mean())


def fit_logistic(x, y):
    """(a, b) of P(y = 1 | x) = sigmoid(a·x + b), the maximum-likelihood fit (scikit-learn's
    logistic regression without a penalty)."""
    from sklearn.linear_model import LogisticRegression
    fit = LogisticRegression(C=float("inf"), tol=1e-10, max_iter=1000).fit(
        x.double().numpy().reshape(-1, 1), y.bool().numpy())
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def log_normal(h, mu, logvar):
    """log N(h; μ, diag exp(logvar)), summed over the last dimension."""
    return -0.5 * (((h - mu) ** 2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


def iwae_nll(x, logits_fn, mu, logvar, k, generator=None):
    """Importance-weighted estimate of −log p(x) (Burda et al. 2016) with k samples of Q(H|X):
    −log (1/k) Σᵢ p(x|hᵢ) p(hᵢ) / q(hᵢ|x). `logits_fn(h, xs)` decodes the k·n codes h, row j
    scoring image xs[j] (a row-by-row decoder needs it; the others may ignore it). The codes come
    from `generator` (else torch's global one)."""
    n, d = mu.shape
    h = L.reparameterize(mu.expand(k, n, d), logvar.expand(k, n, d), generator)
    xs = x.repeat(k, 1, 1, 1)
    logits = logits_fn(h.reshape(k * n, d), xs)
    log_px_h = -L.bernoulli_nll(xs, logits).reshape(k, n)
    log_w = log_px_h + log_normal(h, torch.zeros_like(mu), torch.zeros_like(logvar)) - log_normal(h, mu, logvar)
    return -(torch.logsumexp(log_w, 0) - math.log(k))


def refined_posterior(neg_log_lik, mu, logvar, steps=100, lr=0.02, samples=1, generator=None):
    """Semi-amortised inference (Kim et al. 2018): Q(H|X) = N(μ, diag exp(logvar)) started at the
    encoder's guess and fitted to each image alone by `steps` Adam steps on its −ELBO (`samples`
    codes H = μ + σ·ε a step, the step size `lr` annealed to 0 on a cosine), the decoder held
    fixed. Slide "VAE": log P(X) − KL[Q(H|X) ‖ P(H|X)] = E_{H∼Q}[log P(X|H)] − KL[Q(H|X) ‖ N(0, I)];
    log P(X) does not depend on Q, so each step that raises the ELBO brings Q nearer the true
    posterior P(H|X). `neg_log_lik(h)` is −log P(X|H = h) of each image (n values) for codes h
    (n×d, row j for image j). The codes' ε come from `generator` (else torch's global one).
    Returns the fitted (μ, logvar); images do not interact."""
    mu, logvar = mu.detach().clone().requires_grad_(), logvar.detach().clone().requires_grad_()
    opt = torch.optim.Adam([mu, logvar], lr=lr)
    with torch.enable_grad():
        for t in range(steps):
            opt.param_groups[0]["lr"] = lr * 0.5 * (1 + math.cos(math.pi * t / steps))
            loss = sum(neg_log_lik(L.reparameterize(mu, logvar, generator)).sum() for _ in range(samples)) / samples
            loss = loss + L.kl_to_standard_normal(mu, logvar).sum()
            mu.grad, logvar.grad = torch.autograd.grad(loss, [mu, logvar])
            opt.step()
    return mu.detach(), logvar.detach()
