"""Evaluate bundled checkpoints on the MNIST test set, write each one's metrics.json, print a table.

    python -m train.evaluate                       # every folder in checkpoints/
    python -m train.evaluate checkpoints/vae checkpoints/gan --data-dir ../shared/data
"""
import argparse
import sys
import time
from pathlib import Path

import torch

from deepgen import DataMissing, checkpoint, load
from deepgen.evaluation import Judge, evaluate, fid_floor
from deepgen.transfer import compare

TRANSFER_KINDS = ("ae", "vae", "siamese")
SAMPLERS = ("vae", "gan", "vaegan")  # their samples get an FID, reported next to the real-data floor


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="*", help="checkpoint folders (default: every folder in --root)")
    p.add_argument("--root", default="checkpoints")
    p.add_argument("--classifier", default=None, help="classifier checkpoint that scores generated digits "
                   "(default ROOT/classifier)")
    p.add_argument("--data-dir", help="MNIST folder (else $DEEPGEN_DATA, else ./data)")
    p.add_argument("--iwae-k", type=int, default=64, help="importance samples for test_nll_iwae")
    p.add_argument("--per-class", type=int, default=10, help="labels per class for the transfer comparison")
    p.add_argument("--threads", type=int)
    p.add_argument("--dry-run", action="store_true", help="print the table, write no metrics.json")
    p.add_argument("--show", action="store_true", help="print the metrics already in metrics.json, evaluate nothing")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folders = [Path(c) for c in args.checkpoints] or sorted(
        d for d in Path(args.root).iterdir() if (d / "config.json").exists())
    if args.show:
        return print_table([(f.name, checkpoint.read_metrics(f)) for f in folders])
    try:
        rows = run(folders, args)
    except DataMissing as exc:
        sys.exit(f"error: {exc}")
    print_table(rows)


def run(folders, args):
    classifier_dir = Path(args.classifier or Path(args.root) / "classifier")
    judge = Judge(load(classifier_dir)) if (classifier_dir / "config.json").exists() else None
    floor = None
    rows = []
    for folder in folders:
        start = time.time()
        model = load(folder)
        if judge and floor is None and model.kind in SAMPLERS:
            floor = fid_floor(judge, data_dir=args.data_dir)
        metrics = evaluate(model, judge=judge, data_dir=args.data_dir, iwae_k=args.iwae_k, fid_floor=floor)
        if model.kind in TRANSFER_KINDS:
            metrics.update(compare(model, per_class=args.per_class, data_dir=args.data_dir))
        metrics["eval_seconds"] = round(time.time() - start, 1)
        if not args.dry_run:
            checkpoint.write_metrics(folder, metrics)
        rows.append((folder.name, metrics))
        print(f"{folder.name}: done in {metrics['eval_seconds']} s", file=sys.stderr)
    return rows


def print_table(rows):
    for name, metrics in rows:
        cells = [f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
                 if v is not None and k != "eval_seconds"]
        print(f"{name:22s} " + "  ".join(cells))


if __name__ == "__main__":
    main()
