"""Train one recipe of deepgen on MNIST (or another data set) and save it as a checkpoint.

    python -m train vae                               # the recipe of checkpoints/vae, to runs/vae
    python -m train cvae --dataset fashion-mnist      # ... of checkpoints/fashion-mnist/cvae
    python -m train gan --until-epoch 30 --out runs/gan    # a long run in pieces ...
    python -m train gan --resume runs/gan             # ... resumed exactly where it stopped
    torchrun --nproc_per_node 2 -m train vae          # the same run on two processes
    python -m train transfer --encoder checkpoints/vae --per-class 10
"""
import argparse
import shlex
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from deepgen import DataMissing, checkpoint, distributed, recipes, training
from deepgen import data as D
from deepgen.images import save_png

RESUME_FILE = "resume.pt"
# options that change what a run produces, in the order the command shows them
RESULT_OPTIONS = ["dataset", "epochs", "batch_size", "lr", "latent_dim", "margin", "scale", "embedding_dim", "seed",
                  "limit", "init", "amp"]
MODEL_OPTIONS = ["latent_dim", "margin", "scale", "embedding_dim"]


def parser():
    width = max(map(len, recipes.RECIPES))
    models = "\n".join(f"  {name:{width}s}  {r.description}" for name, r in recipes.RECIPES.items())
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=f"models (recipes):\n{models}\n  {'transfer':{width}s}  few-label classifier "
                                       "on a frozen encoder vs from scratch")
    p.add_argument("model", choices=[*recipes.RECIPES, "transfer"], metavar="MODEL", help="a recipe (listed below)")
    p.add_argument("--dataset", choices=list(D.DATASETS),
                   help=f"what it learns from (default {D.DEFAULT}; transfer: the encoder's)")
    p.add_argument("--epochs", type=int, help="passes over the training set (default: the recipe's)")
    p.add_argument("--batch-size", type=int, help="default: the recipe's")
    p.add_argument("--lr", type=float, help="learning rate (default: the recipe's)")
    p.add_argument("--latent-dim", type=int, help="size of the code (default: the recipe's)")
    p.add_argument("--margin", type=float, help="Siamese loss margin (default: the loss's)")
    p.add_argument("--scale", type=float, help="Siamese loss scale s (default: the loss's)")
    p.add_argument("--embedding-dim", type=int, help="Siamese embedding size (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="use only the first N training images")
    p.add_argument("--init", help="checkpoint the model starts from (recipes that start from another "
                   "model's checkpoint: default the bundled one of that model and data set)")
    p.add_argument("--data-dir", help="folder holding MNIST/, FashionMNIST/ ... (else $DEEPGEN_DATA, else ./data)")
    p.add_argument("--device", default=None, help=f"cpu or cuda (default: {training.default_device()})")
    p.add_argument("--amp", action="store_true", help="CUDA: train in bfloat16 autocast")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--deterministic", action="store_true", help="deterministic algorithms only")
    p.add_argument("--out", help="output folder (default runs/MODEL); previews go to OUT/previews")
    p.add_argument("--until-epoch", type=int, help="stop after this epoch and save the run's state to "
                   f"OUT/{RESUME_FILE}, to be continued with --resume OUT")
    p.add_argument("--resume", metavar="RUN", help="continue the run saved in folder RUN exactly")
    p.add_argument("--encoder", help="transfer: checkpoint of the pretrained encoder")
    p.add_argument("--per-class", type=int, default=10, help="transfer: labels per class")
    return p


def canonical_command(args, given):
    """`python -m train NAME` with the options, among those the user gave, that change the result
    (the data set only where it is not the default)."""
    parts = ["python -m train", args.model]
    for name in RESULT_OPTIONS:
        if name in given and not (name == "dataset" and args.dataset in (None, D.DEFAULT)):
            value = getattr(args, name)
            flag = "--" + name.replace("_", "-")
            parts += [flag] if value is True else [] if value is False else [flag, shlex.quote(str(value))]
    return " ".join(parts)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    given = {a.lstrip("-").split("=")[0].replace("-", "_") for a in argv if a.startswith("--")}
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.deterministic:
        torch.use_deterministic_algorithms(True)
    try:
        if args.model == "transfer":
            return run_transfer(args)
        return run_training(args, given)
    except (DataMissing, ValueError, checkpoint.CheckpointError) as exc:
        sys.exit(f"error: {exc}")
    finally:
        distributed.stop()


def start_run(args, given):
    if args.resume:
        state_file = Path(args.resume) / RESUME_FILE
        if not state_file.exists():
            raise ValueError(f"{state_file} does not exist: --resume takes the --out folder of a run "
                             "stopped with --until-epoch")
        changed = given & set(RESULT_OPTIONS)
        if changed:
            raise ValueError(f"--resume continues the run as it was configured; drop "
                             f"{', '.join('--' + c.replace('_', '-') for c in sorted(changed))}")
        run = training.resume(state_file, data_dir=args.data_dir, device=args.device)
        if run.config.recipe != args.model:
            raise ValueError(f"{args.resume} holds a run of '{run.config.recipe}', not '{args.model}'")
        return run
    recipe, dataset = recipes.get(args.model), args.dataset or D.DEFAULT
    init = args.init or (str(recipes.bundled_path(recipe.init_from, dataset)) if recipe.init_from else None)
    model_args = {k: getattr(args, k) for k in MODEL_OPTIONS if getattr(args, k) is not None}
    config = training.resolve(args.model, dataset=dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                              seed=args.seed, limit=args.limit, init=init, amp=args.amp, data_dir=args.data_dir,
                              **model_args)
    return training.Run(config, data_dir=args.data_dir, device=args.device)


def run_training(args, given):
    out = Path(args.out or args.resume or f"runs/{args.model}")
    run = start_run(args, given)       # joins the torchrun group, if any
    main_process = distributed.is_main()
    command = training.load_state(out / RESUME_FILE)["command"] if args.resume else canonical_command(args, given)
    if main_process:
        (out / "previews").mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=run.steps, initial=run.step, desc=args.model, unit="step", disable=not main_process)
    for ev in run.events(until_epoch=args.until_epoch):
        bar.n = ev.step
        bar.set_postfix({k: f"{v:.4g}" for k, v in ev.losses.items()}, refresh=True)
        if ev.preview is not None and main_process:
            save_png(ev.preview, out / "previews" / f"epoch_{ev.epoch:03d}.png")
        if ev.epoch_end and main_process:
            tqdm.write(f"epoch {ev.epoch}/{ev.epochs} " + " ".join(f"{k}={v:.4f}" for k, v in ev.losses.items())
                       + f" ({ev.seconds:.0f} s)")
    bar.close()
    if not main_process:
        return
    if not run.finished:
        state = run.state_dict()
        state["command"] = command
        tmp = out / (RESUME_FILE + ".tmp")
        torch.save(state, tmp)
        tmp.replace(out / RESUME_FILE)
        print(f"stopped after epoch {run.epoch}/{run.config.epochs}; continue with: "
              f"python -m train {args.model} --resume {out}")
        return
    config = run.config.to_dict()
    config["init"] = config["init"] and Path(config["init"]).name   # the recipe's starting model, not a scratch path
    description = recipes.get(args.model, run.config.dataset).description
    if run.config.dataset != D.DEFAULT:
        description += f"; trained on {D.get(run.config.dataset).title}"
    checkpoint.save(run.model.cpu(), out, command=command, metrics=run.metrics, training=config,
                    description=description)
    (out / RESUME_FILE).unlink(missing_ok=True)
    print(f"saved {out} (evaluate with: python -m train.evaluate {out})")


def run_transfer(args):
    from deepgen.transfer import compare
    if not args.encoder:
        sys.exit("error: transfer needs --encoder CHECKPOINT (for example checkpoints/vae)")
    result = compare(args.encoder, per_class=args.per_class, data_dir=args.data_dir, seed=args.seed,
                     dataset=args.dataset)
    for k, v in result.items():
        print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")


if __name__ == "__main__":
    main()
