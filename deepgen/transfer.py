"""Transfer learning (slide "Передача обучения"): a classifier head on a frozen pretrained
encoder, trained with a few labels per class, next to the same network trained from scratch."""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import load
from .data import few_labels, mnist
from .evaluation import batched


def feature_extractor(model):
    """The pretrained body that maps a digit to a feature vector: the encoder without its last
    layer for the autoencoder / VAE (its hidden layer), the backbone for a Siamese network."""
    if model.kind in ("ae", "vae", "cvae", "vaegan"):
        return nn.Sequential(*list(model.encoder.children())[:-1])
    if model.kind == "siamese":
        return model.backbone
    if model.kind == "classifier":
        return model.features
    raise ValueError(f"a {model.kind} has no encoder to transfer")


def fit_head(body, x, y, frozen, steps=300, lr=1e-3, seed=0):
    """Train body + linear head on (x, y); with `frozen`, only the head learns."""
    torch.manual_seed(seed)
    body = copy.deepcopy(body)
    with torch.no_grad():
        dim = body.eval()(x[:2]).shape[1]
    head = nn.Linear(dim, 10)
    net = nn.Sequential(body, head)
    params = head.parameters() if frozen else net.parameters()
    opt = torch.optim.Adam(params, lr=lr, weight_decay=1e-4)
    for _ in range(steps):
        body.train(not frozen)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def accuracy(net, x, y):
    return float(batched(net, x).argmax(1).eq(y).double().mean())


def compare(encoder, per_class=10, data_dir=None, seed=0, steps=300):
    """Test accuracy with `per_class` labels per digit: frozen pretrained encoder + linear head
    vs the same architecture trained from scratch (random init)."""
    model = load(encoder) if isinstance(encoder, str) else encoder
    body = feature_extractor(model)
    subset = few_labels(mnist(True, data_dir), per_class, seed)
    x = torch.stack([subset[i][0] for i in range(len(subset))])
    y = torch.tensor([int(subset[i][1]) for i in range(len(subset))])
    xt, yt = mnist(False, data_dir).tensors
    scratch_body = copy.deepcopy(body)
    for m in scratch_body.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    frozen = accuracy(fit_head(body, x, y, frozen=True, steps=steps, lr=1e-2, seed=seed), xt, yt)
    scratch = accuracy(fit_head(scratch_body, x, y, frozen=False, steps=steps, seed=seed), xt, yt)
    return {"transfer_labels_per_class": per_class, "transfer_frozen_accuracy": frozen,
            "transfer_scratch_accuracy": scratch}
