"""Command-line faces of deepgen: `python -m train MODEL` and `python -m train.evaluate`."""
