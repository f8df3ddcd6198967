"""The seven Siamese losses behind `loss(embeddings, labels)`."""
import itertools
import math

import pytest
import torch

from deepgen.metric_losses import LOSSES, ContrastiveLoss, TripletLoss, make_loss

DIM, CLASSES = 16, 10
NAMES = list(LOSSES)


def labels(per_class=4):
    return torch.arange(CLASSES).repeat_interleave(per_class)


def centers(scale=3.0):
    return scale * torch.eye(CLASSES, DIM)


def aligned_loss(name):
    """A loss whose class weights (if it has any) point at `centers()`."""
    loss = make_loss(name, DIM)
    if hasattr(loss, "W"):
        with torch.no_grad():
            loss.W.copy_(centers(1.0))
    return loss


def random_embeddings(n, seed=0):
    return torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed))


def clustered_embeddings(y, spread=0.1, seed=1):
    return centers()[y] + spread * random_embeddings(len(y), seed)


def test_registry_holds_the_seven_losses():
    assert set(NAMES) == {"contrastive", "triplet", "softmax", "nsoftmax", "sphereface", "cosface", "arcface"}


@pytest.mark.parametrize("name", NAMES)
def test_finite_scalar_with_gradients(name):
    loss = make_loss(name, DIM)
    y = labels()
    e = random_embeddings(len(y)).requires_grad_()
    value = loss(e, y)
    assert value.shape == () and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(e.grad).all() and e.grad.abs().sum() > 0
    for p in loss.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_identical_embeddings_have_finite_gradients(name):
    y = labels()
    e = random_embeddings(len(y)).detach()
    e[1] = e[0]  # a pair of one class at distance 0
    e[2] = e[0]
    e.requires_grad_()
    make_loss(name, DIM)(e, y).backward()
    assert torch.isfinite(e.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_clustered_classes_cost_less_than_random_embeddings(name):
    loss = aligned_loss(name)
    y = labels()
    with torch.no_grad():
        assert loss(clustered_embeddings(y), y) < loss(random_embeddings(len(y)), y)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_descent_on_embeddings_lowers_the_loss(name):
    torch.manual_seed(0)
    loss = make_loss(name, DIM)
    y = labels()
    e = random_embeddings(len(y)).requires_grad_()
    opt = torch.optim.Adam([e, *loss.parameters()], lr=0.05)
    values = []
    for _ in range(40):
        value = loss(e, y)
        opt.zero_grad()
        value.backward()
        opt.step()
        loss.step()
        values.append(value.item())
    assert values[-1] < 0.7 * values[0]


@pytest.mark.parametrize("name,margin,scale", [("cosface", 0.2, 12.0), ("arcface", 0.3, 15.0),
                                               ("sphereface", 3, 7.0), ("nsoftmax", None, 5.0),
                                               ("contrastive", 0.7, None), ("triplet", 0.9, None)])
def test_make_loss_passes_margin_and_scale(name, margin, scale):
    loss = make_loss(name, DIM, margin, scale)
    if margin is not None:
        assert loss.margin == margin
    if scale is not None:
        assert loss.scale == scale


def test_sphereface_lambda_anneals_to_its_floor():
    loss = make_loss("sphereface", DIM)
    assert loss.lam == pytest.approx(1000.0)
    for _ in range(10):
        loss.step()
    assert loss.lam == pytest.approx(1000.0 / (1 + 0.12 * 10))
    for _ in range(2000):
        loss.step()
    assert loss.lam == pytest.approx(5.0)


# --- brute force over pairs and triplets ---

def normalized_rows(e):
    return [row / row.norm() for row in e.double()]


def dist(a, b):
    return math.sqrt(sum((u - v) ** 2 for u, v in zip(a.tolist(), b.tolist())))


def brute_contrastive(e, y, margin):
    e = normalized_rows(e)
    pos, neg = [], []
    for i, j in itertools.combinations(range(len(e)), 2):
        d = dist(e[i], e[j])
        if y[i] == y[j]:
            pos.append(d ** 2)
        else:
            neg.append(max(margin - d, 0.0) ** 2)
    mean = lambda v: sum(v) / len(v) if v else 0.0  # noqa: E731
    return mean(pos) + mean(neg)


def brute_batch_hard_triplet(e, y, margin):
    """Per anchor the largest hinge over all its triplets: the farthest positive, nearest negative."""
    e = normalized_rows(e)
    per_anchor = []
    for a in range(len(e)):
        hinges = [max(dist(e[a], e[p]) ** 2 - dist(e[a], e[n]) ** 2 + margin, 0.0)
                  for p in range(len(e)) for n in range(len(e))
                  if p != a and y[p] == y[a] and y[n] != y[a]]
        if hinges:
            per_anchor.append(max(hinges))
    return sum(per_anchor) / len(per_anchor)


@pytest.mark.parametrize("margin", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("y", [[0, 0, 1, 1, 1, 2, 0, 2, 3], [0, 1, 2, 3, 4]])
def test_contrastive_loss_equals_brute_force_over_pairs(margin, y):
    y = torch.tensor(y)
    e = random_embeddings(len(y), seed=7)[:, :3]
    ours = ContrastiveLoss(margin)(e, y).item()
    assert ours == pytest.approx(brute_contrastive(e, y.tolist(), margin), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("margin", [0.2, 0.5, 4.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_batch_hard_equals_brute_force_over_triplets(margin, seed):
    y = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3])  # anchor 5 has no positive and is left out
    e = random_embeddings(len(y), seed=seed)[:, :2]
    ours = TripletLoss(margin)(e, y).item()
    assert ours == pytest.approx(brute_batch_hard_triplet(e, y.tolist(), margin), rel=1e-5, abs=1e-6)


def test_triplet_picks_farthest_positive_and_nearest_negative_by_hand():
    # unit vectors at angles (degrees); squared chord length is 2 − 2 cos Δ
    angles = [0, 10, 90, 60, 180]
    y = torch.tensor([0, 0, 0, 1, 1])
    e = torch.tensor([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in angles])
    d2 = lambda deg: 2 - 2 * math.cos(math.radians(deg))  # noqa: E731
    margin = 4.0  # every hinge is active, so the value shows which pair was picked
    anchors = [d2(90) - d2(60), d2(80) - d2(50), d2(90) - d2(30), d2(120) - d2(30), d2(120) - d2(90)]
    assert TripletLoss(margin)(e, y).item() == pytest.approx(sum(anchors) / 5 + margin, rel=1e-5)
