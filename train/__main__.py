"""Train one deepgen model on MNIST and save it as a checkpoint.

    python -m train vae --epochs 30 --out checkpoints/vae --data-dir ../shared/data
    python -m train siamese --loss arcface --margin 0.5 --scale 30
    python -m train transfer --encoder checkpoints/vae --per-class 10
"""
import argparse
import shlex
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from deepgen import DataMissing, checkpoint, load
from deepgen.images import save_png
from deepgen.metric_losses import LOSSES
from deepgen.models.vaegan import VAEGAN
from deepgen.training import DEFAULTS, MODELS, default_device, train

MODEL_KINDS = {"vae2d": "vae"}  # training recipes whose checkpoints are of another kind


def parser():
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=[*MODELS, "transfer"], metavar="MODEL",
                   help="; ".join(f"{k}: {v}" for k, v in MODELS.items())
                   + "; transfer: few-label classifier on a frozen encoder vs from scratch")
    p.add_argument("--epochs", type=int, help="passes over the training set (default per model: "
                   + ", ".join(f"{k} {v['epochs']}" for k, v in DEFAULTS.items()) + ")")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--latent-dim", type=int, help="latent size (ae 16, vae 32, vae2d 2, cvae 16, gan/vaegan 64/32)")
    p.add_argument("--loss", default="arcface", choices=list(LOSSES), help="Siamese loss")
    p.add_argument("--margin", type=float, help="Siamese loss margin (default per loss)")
    p.add_argument("--scale", type=float, help="Siamese loss scale s (default per loss)")
    p.add_argument("--embedding-dim", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="use only the first N training images")
    p.add_argument("--data-dir", help="MNIST folder (else $DEEPGEN_DATA, else ./data)")
    p.add_argument("--device", default=None, help=f"cpu or cuda (default: {default_device()})")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--init", help="continue training the model saved in this checkpoint (folder or Hub repo id); "
                   "vaegan also starts from a gan checkpoint's generator and discriminator")
    p.add_argument("--out", help="output folder (default runs/MODEL); previews go to OUT/previews")
    p.add_argument("--encoder", help="transfer: checkpoint of the pretrained encoder")
    p.add_argument("--per-class", type=int, default=10, help="transfer: labels per class")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python -m train " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        if args.model == "transfer":
            return run_transfer(args)
        return run_training(args, command)
    except DataMissing as exc:
        sys.exit(f"error: {exc}")


def run_training(args, command):
    name = args.model if args.model != "siamese" else f"siamese-{args.loss}"
    out = Path(args.out or f"runs/{name}")
    (out / "previews").mkdir(parents=True, exist_ok=True)
    model, history = None, []
    if args.init:
        model = load(args.init)
        history = [model.config["command"]] if model.config.get("command") else []
        if args.model == "vaegan" and model.kind == "gan":
            model = VAEGAN.from_gan(model)
        elif model.kind != MODEL_KINDS.get(args.model, args.model):
            sys.exit(f"error: --init {args.init} holds a '{model.kind}' model, which '{args.model}' cannot continue")
    command = " && ".join(history + [command])
    events = train(args.model, model=model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                   data_dir=args.data_dir, limit=args.limit, device=args.device, latent_dim=args.latent_dim,
                   loss=args.loss, margin=args.margin, scale=args.scale, embedding_dim=args.embedding_dim)
    bar = None
    for ev in events:
        if bar is None:
            bar = tqdm(total=ev.steps, desc=name, unit="step")
        bar.n = ev.step
        bar.set_postfix({k: f"{v:.4g}" for k, v in ev.losses.items()}, refresh=True)
        if ev.preview is not None:
            save_png(ev.preview, out / "previews" / f"epoch_{ev.epoch:03d}.png")
        if ev.epoch_end:
            tqdm.write(f"epoch {ev.epoch}/{ev.epochs} " + " ".join(f"{k}={v:.4f}" for k, v in ev.losses.items())
                       + f" ({ev.seconds:.0f} s)")
        model = ev.model
    bar.close()
    checkpoint.save(model.cpu(), out, command=command)
    print(f"saved {out} (evaluate with: python -m train.evaluate {out})")


def run_transfer(args):
    from deepgen.transfer import compare
    if not args.encoder:
        sys.exit("error: transfer needs --encoder CHECKPOINT (for example checkpoints/vae)")
    result = compare(args.encoder, per_class=args.per_class, data_dir=args.data_dir, seed=args.seed)
    for k, v in result.items():
        print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")


if __name__ == "__main__":
    main()
