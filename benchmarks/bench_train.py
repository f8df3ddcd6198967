"""Training speed of every recipe against the pytorch/examples VAE, in one process on one machine.

    python benchmarks/bench_train.py [--steps 30] [--threads 2] [--recipes vae gan] [--time-to-target]

For each recipe: images per second over `--steps` optimisation steps at the recipe's batch size
(after 3 warm-up steps), and its ratio to the baseline: the pytorch/examples VAE (MLP
784-400-20, batch 128, Adam 1e-3, summed BCE + KL), timed the same way. `--time-to-target` also
trains deepgen's `vae` recipe epoch by epoch and reports the training wall time until its test
−ELBO reaches the baseline's 105.6 nats (evaluation time not counted), next to the baseline's
own time to that value.
"""
import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DEEPGEN_DATA", str(ROOT.parent / "shared" / "data"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from deepgen import data as D  # noqa: E402
from deepgen import losses as L  # noqa: E402
from deepgen import recipes, training  # noqa: E402

TARGET_NATS = 105.6   # the pytorch/examples VAE after 10 epochs (design brief)


class ExamplesVAE(nn.Module):
    """pytorch/examples `vae/main.py`: 784-400-20 MLP encoder and decoder."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = L.reparameterize(mu, logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def examples_loss(model, x):
    logits, mu, logvar = model(x)
    return L.negative_elbo(x, logits.view_as(x), mu, logvar).mean()


def baseline_step_fn():
    torch.manual_seed(0)
    model = ExamplesVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        loss = examples_loss(model, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, step


def images_per_second(step, batch_size, images, labels, steps, warmup=3):
    g = torch.Generator().manual_seed(0)
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        idx = torch.randint(len(images), (batch_size,), generator=g)
        step(images[idx], labels[idx])
    return steps * batch_size / (time.perf_counter() - start)


def recipe_step_fn(name):
    recipe = recipes.get(name)
    torch.manual_seed(0)
    model = recipe.build().train()
    trainer = recipe.trainer(model, recipe.lr, 10_000, **recipe.trainer.settings(**recipe.trainer_args))
    return trainer.step


def test_neg_elbo(model, x):
    """Mean −ELBO on the images x (one posterior sample each, seeded)."""
    torch.manual_seed(0)
    values = []
    with torch.no_grad():
        for xb in x.split(1000):
            logits, mu, logvar = model(xb)
            values.append(L.negative_elbo(xb, logits.view_as(xb), mu, logvar))
    return float(torch.cat(values).mean())


def time_to_target(max_epochs):
    """(seconds, epochs) until the test −ELBO ≤ TARGET_NATS: deepgen's vae recipe and the baseline."""
    test_x, _ = D.mnist_tensors(train=False)
    results = {}
    config = training.resolve("vae")
    run = training.Run(config)
    spent, epoch = 0.0, 0
    events = run.events(log_every=10**9)
    while epoch < max_epochs:
        start = time.perf_counter()
        for ev in events:
            if ev.epoch_end:
                break
        spent += time.perf_counter() - start
        epoch += 1
        run.model.eval()
        value = test_neg_elbo(run.model, test_x)
        run.model.train()
        print(f"  deepgen vae, epoch {epoch}: test -ELBO {value:.2f} ({spent:.0f} s)", flush=True)
        if value <= TARGET_NATS:
            break
    results["deepgen vae"] = (spent, epoch, value)

    model, step = baseline_step_fn()
    images, labels = D.mnist(train=True).tensors
    batches = D.loader(torch.utils.data.TensorDataset(images, labels), 128, seed=0)
    spent, epoch = 0.0, 0
    while epoch < max_epochs:
        start = time.perf_counter()
        model.train()
        for x, y in batches:
            step(x, y)
        spent += time.perf_counter() - start
        epoch += 1
        model.eval()
        value = test_neg_elbo(model, test_x)
        print(f"  pytorch/examples vae, epoch {epoch}: test -ELBO {value:.2f} ({spent:.0f} s)", flush=True)
        if value <= TARGET_NATS:
            break
    results["pytorch/examples vae"] = (spent, epoch, value)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--recipes", nargs="*", default=list(recipes.RECIPES))
    p.add_argument("--time-to-target", action="store_true")
    p.add_argument("--max-epochs", type=int, default=12)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = D.mnist(train=True).tensors
    _, step = baseline_step_fn()
    base = images_per_second(step, 128, images, labels, args.steps * 4)
    print(f"{'model':22s} {'batch':>5s} {'images/s':>9s} {'vs baseline':>11s}")
    print(f"{'pytorch/examples vae':22s} {128:5d} {base:9.0f} {1.0:10.2f}x")
    for name in args.recipes:
        batch = recipes.get(name).batch_size
        speed = images_per_second(recipe_step_fn(name), batch, images, labels, args.steps)
        print(f"{name:22s} {batch:5d} {speed:9.0f} {speed / base:10.3f}x", flush=True)
    if args.time_to_target:
        print(f"\ntraining wall time to a test -ELBO of {TARGET_NATS} nats ({args.threads} threads):")
        for name, (seconds, epochs, value) in time_to_target(args.max_epochs).items():
            reached = "reached" if value <= TARGET_NATS else "NOT reached"
            print(f"  {name:22s} {seconds:7.0f} s, {epochs} epochs ({reached}: {value:.2f})")


if __name__ == "__main__":
    main()
