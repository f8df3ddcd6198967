"""The seven Siamese losses behind one interface: `loss(embeddings, labels) -> scalar`.

Pair and triplet losses compare the embeddings of a batch with each other; the
classification losses hold one weight vector (centroid) per class. Defaults train well on
MNIST's 10 classes (a scale near 30 rather than 64).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import losses as L


class MetricLoss(nn.Module):
    """Common interface. `embeddings` are the backbone's raw outputs."""

    def forward(self, embeddings, labels):
        raise NotImplementedError

    def step(self):
        """Called once per optimisation step (for schedules such as SphereFace's λ)."""


def _pairwise_distances(e):
    return torch.cdist(e, e).clamp(min=0)


class ContrastiveLoss(MetricLoss):
    """All pairs of the batch; positive and negative pair terms are averaged separately, then added,
    so the rare same-class pairs weigh as much as the others. Embeddings are L2-normalised."""

    def __init__(self, margin=1.0, **_):
        super().__init__()
        self.margin = margin

    def forward(self, embeddings, labels):
        e = F.normalize(embeddings, dim=1)
        n = len(e)
        iu = torch.triu_indices(n, n, offset=1, device=e.device)
        sq = (e[iu[0]] - e[iu[1]]).pow(2).sum(1)
        d = (sq + 1e-12).sqrt()  # finite gradient at D = 0
        same = labels[iu[0]] == labels[iu[1]]
        per_pair = L.contrastive_loss(d, same, self.margin)
        zero = embeddings.sum() * 0  # keeps the graph when a batch has no pair of a kind
        pos = per_pair[same].mean() if same.any() else zero
        neg = per_pair[~same].mean() if (~same).any() else zero
        return pos + neg


class TripletLoss(MetricLoss):
    """Batch-hard mining (Hermans et al. 2017): for each anchor its farthest positive and nearest
    negative in the batch. Embeddings are L2-normalised."""

    def __init__(self, margin=0.5, **_):
        super().__init__()
        self.margin = margin

    def forward(self, embeddings, labels):
        e = F.normalize(embeddings, dim=1)
        d2 = _pairwise_distances(e).pow(2)
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(e), dtype=torch.bool, device=e.device)
        pos_mask, neg_mask = same & ~eye, ~same
        valid = pos_mask.any(1) & neg_mask.any(1)
        hardest_pos = torch.where(pos_mask, d2, torch.full_like(d2, -1)).argmax(1)
        hardest_neg = torch.where(neg_mask, d2, torch.full_like(d2, float("inf"))).argmin(1)
        if not valid.any():  # no anchor has both a positive and a negative in this batch
            return embeddings.sum() * 0
        per_triplet = L.triplet_loss(e, e[hardest_pos], e[hardest_neg], self.margin)
        return per_triplet[valid].mean()


class _ClassifierLoss(MetricLoss):
    def __init__(self, embedding_dim, num_classes=10, margin=0.0, scale=30.0, **_):
        super().__init__()
        self.margin, self.scale = margin, scale
        self.W = nn.Parameter(torch.empty(num_classes, embedding_dim))
        if not self.W.is_meta:      # a checkpoint's skeleton needs no values (random ops on meta load slowly)
            nn.init.normal_(self.W, 0.0, 0.01)

    def cos(self, embeddings):
        return L.cosine_logits(embeddings, self.W)

    def logits(self, embeddings):
        """Class scores without margin, for prediction."""
        return self.scale * self.cos(embeddings)


class SoftmaxLoss(_ClassifierLoss):
    def __init__(self, embedding_dim, num_classes=10, **kw):
        super().__init__(embedding_dim, num_classes, **kw)
        self.b = nn.Parameter(torch.zeros(num_classes))

    def logits(self, embeddings):
        return embeddings @ self.W.t() + self.b

    def forward(self, embeddings, labels):
        return L.softmax_loss(self.logits(embeddings), labels)


class NormalizedSoftmaxLoss(_ClassifierLoss):
    def forward(self, embeddings, labels):
        return L.normalized_softmax_loss(self.cos(embeddings), labels, self.scale)


class SphereFaceLoss(_ClassifierLoss):
    """λ is annealed from `lambda_base` towards `lambda_min` as λ = base·(1 + γ·t)^−1 (Liu et al. 2017)."""

    def __init__(self, embedding_dim, num_classes=10, margin=4, scale=30.0,
                 lambda_base=1000.0, lambda_gamma=0.12, lambda_min=5.0, **_):
        super().__init__(embedding_dim, num_classes, margin=int(margin), scale=scale)
        self.lambda_base, self.lambda_gamma, self.lambda_min = lambda_base, lambda_gamma, lambda_min
        self.register_buffer("t", torch.zeros((), dtype=torch.long))  # steps taken, saved with the model

    @property
    def lam(self):
        return max(self.lambda_min, self.lambda_base / (1 + self.lambda_gamma * float(self.t)))

    def step(self):
        self.t += 1

    def forward(self, embeddings, labels):
        return L.sphereface_loss(self.cos(embeddings), labels, self.scale, self.margin, self.lam)


class CosFaceLoss(_ClassifierLoss):
    def forward(self, embeddings, labels):
        return L.cosface_loss(self.cos(embeddings), labels, self.scale, self.margin)


class ArcFaceLoss(_ClassifierLoss):
    def forward(self, embeddings, labels):
        return L.arcface_loss(self.cos(embeddings), labels, self.scale, self.margin)


# name -> (class, default margin, default scale)
LOSSES = {
    "contrastive": (ContrastiveLoss, 1.0, None),
    "triplet": (TripletLoss, 0.5, None),
    "softmax": (SoftmaxLoss, None, None),
    "nsoftmax": (NormalizedSoftmaxLoss, None, 20.0),
    "sphereface": (SphereFaceLoss, 4, 30.0),
    "cosface": (CosFaceLoss, 0.35, 30.0),
    "arcface": (ArcFaceLoss, 0.5, 30.0),
}


def make_loss(name, embedding_dim, margin=None, scale=None):
    if name not in LOSSES:
        raise ValueError(f"unknown Siamese loss '{name}'; choose one of {', '.join(LOSSES)}")
    cls, default_margin, default_scale = LOSSES[name]
    kw = {"embedding_dim": embedding_dim}
    if default_margin is not None:
        kw["margin"] = default_margin if margin is None else margin
    if default_scale is not None:
        kw["scale"] = default_scale if scale is None else scale
    return cls(**kw)
