"""Evaluate checkpoints on the test set of their data set, write each one's metrics.json, print a table.

    python -m train.evaluate                       # every checkpoint in checkpoints/ and checkpoints/<data set>/
    python -m train.evaluate checkpoints/vae checkpoints/gan --data-dir ../shared/data
    python -m train.evaluate checkpoints/fashion-mnist/cvae    # scored by checkpoints/fashion-mnist/classifier
"""
import argparse
import sys
import time
from pathlib import Path

import torch

from deepgen import DataMissing, checkpoint, load, recipes
from deepgen import data as D
from deepgen.evaluation import Judge, evaluate, fid_floor
from deepgen.transfer import compare


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="*", help="checkpoint folders (default: every folder in --root)")
    p.add_argument("--root", default="checkpoints")
    p.add_argument("--classifier", default=None, help="classifier checkpoint that scores generated images "
                   "(default: the bundled classifier of each checkpoint's data set, ROOT/classifier for MNIST, "
                   "ROOT/<data set>/classifier for the others)")
    p.add_argument("--data-dir", help="folder holding MNIST/, FashionMNIST/ ... (else $DEEPGEN_DATA, else ./data)")
    p.add_argument("--iwae-k", type=int, default=64, help="importance samples for test_nll_iwae")
    p.add_argument("--refine-steps", type=int, default=0,
                   help="VAEs: also report test_neg_elbo_refined, the -ELBO with each test image's Q(H|X) fitted "
                        "to it by this many gradient steps from the encoder's (0: skip; 100 takes minutes)")
    p.add_argument("--per-class", type=int, default=10, help="labels per class for the transfer comparison")
    p.add_argument("--threads", type=int)
    p.add_argument("--dry-run", action="store_true", help="print the table, write no metrics.json")
    p.add_argument("--show", action="store_true", help="print the metrics already in metrics.json, evaluate nothing")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folders = [Path(c) for c in args.checkpoints] or bundled(Path(args.root))
    if args.show:
        return print_table([(label(f), checkpoint.read_metrics(f)) for f in folders])
    try:
        rows = run(folders, args)
    except (DataMissing, ValueError, checkpoint.CheckpointError) as exc:
        sys.exit(f"error: {exc}")
    print_table(rows)


def bundled(root):
    """The checkpoint folders in `root` and in its folder of each data set (`recipes.bundled_path`)."""
    parents = [root, *(root / name for name in D.DATASETS if name != D.DEFAULT)]
    return [d for parent in parents if parent.is_dir()
            for d in sorted(parent.iterdir()) if (d / "config.json").exists()]


def label(folder):
    """The folder's name, with its data set's folder where it is under ROOT/<data set>/."""
    return f"{folder.parent.name}/{folder.name}" if folder.parent.name in D.DATASETS else folder.name


def run(folders, args):
    judges, floors, rows = {}, {}, []
    for folder in folders:
        start = time.time()
        model = load(folder)
        recipe, dataset = recipes.of(model), D.dataset_of(model).name
        if dataset not in judges:
            judges[dataset] = judge_of(dataset, args)
        judge = judges[dataset]
        if judge and dataset not in floors and recipe.samples:   # their samples' FID is reported next to real images'
            floors[dataset] = fid_floor(judge, data_dir=args.data_dir)
        metrics = evaluate(model, recipe.evaluate, judge=judge, data_dir=args.data_dir, iwae_k=args.iwae_k,
                           refine_steps=args.refine_steps,
                           fid_floor=floors.get(dataset))
        if recipe.transfer:
            metrics.update(compare(model, per_class=args.per_class, data_dir=args.data_dir))
        metrics["eval_seconds"] = round(time.time() - start, 1)
        if not args.dry_run:
            checkpoint.write_metrics(folder, metrics)
        rows.append((label(folder), metrics))
        print(f"{label(folder)}: done in {metrics['eval_seconds']} s", file=sys.stderr)
    return rows


def judge_of(dataset, args):
    """The classifier that scores generated images of `dataset`: --classifier, else the bundled
    one of that data set; None where there is none (the metrics that need it are left out)."""
    folder = Path(args.classifier) if args.classifier else recipes.bundled_path("classifier", dataset, args.root)
    if not (folder / "config.json").exists():
        if args.classifier:
            raise ValueError(f"--classifier {folder} is not a checkpoint folder")
        return None
    judge = Judge(load(folder))
    if judge.dataset != dataset:
        raise ValueError(f"the classifier {folder} was trained on {D.get(judge.dataset).title}; the checkpoints "
                         f"of {D.get(dataset).title} need a classifier of {D.get(dataset).title} (--classifier)")
    return judge


def print_table(rows):
    for name, metrics in rows:
        cells = [f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
                 if v is not None and k != "eval_seconds"]
        print(f"{name:28s} " + "  ".join(cells))


if __name__ == "__main__":
    main()
