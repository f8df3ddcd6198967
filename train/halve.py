"""Halve the size of checkpoints by storing their weights as float16 (the config's training
command records the step).

    python -m train.halve checkpoints/vae checkpoints/vae2d
"""
import sys

from deepgen.checkpoint import halve


def main(argv=None):
    folders = sys.argv[1:] if argv is None else argv
    if not folders:
        sys.exit(__doc__)
    for folder in folders:
        halve(folder)
        print(f"halved {folder}")


if __name__ == "__main__":
    main()
