"""Transfer learning (slide "Передача обучения"): a classifier head on a frozen pretrained
encoder, trained with a few labels per class, next to the same network trained from scratch."""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import load
from .data import dataset_of, few_labels, get, tensor_dataset
from .evaluation import batched


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


def compare(encoder, per_class=10, data_dir=None, seed=0, steps=300, dataset=None):
    """Test accuracy with `per_class` labels per class: frozen pretrained encoder + linear head
    vs the same architecture trained from scratch (random init), on `dataset` (by default the
    one the encoder was trained on)."""
    model = load(encoder) if isinstance(encoder, str) else encoder
    dataset = get(dataset).name if dataset else dataset_of(model).name
    body = model.feature_body()
    subset = few_labels(tensor_dataset(dataset, True, data_dir), per_class, seed)
    x = torch.stack([subset[i][0] for i in range(len(subset))])
    y = torch.tensor([int(subset[i][1]) for i in range(len(subset))])
    xt, yt = tensor_dataset(dataset, False, data_dir).tensors
    scratch_body = copy.deepcopy(body)
    for m in scratch_body.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    frozen = accuracy(fit_head(body, x, y, frozen=True, steps=steps, lr=1e-2, seed=seed), xt, yt)
    scratch = accuracy(fit_head(scratch_body, x, y, frozen=False, steps=steps, seed=seed), xt, yt)
    return {"transfer_labels_per_class": per_class, "transfer_frozen_accuracy": frozen,
            "transfer_scratch_accuracy": scratch}
