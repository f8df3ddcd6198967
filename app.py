"""deepgen web app: `python app.py` serves http://127.0.0.1:7860 (also a Hugging Face Space's entry point).

Models come from `$DEEPGEN_CHECKPOINTS` (default ./checkpoints), MNIST from `$DEEPGEN_DATA`; both are
read on first use, so the app starts in seconds and runs offline with whatever checkpoints exist.
`$DEEPGEN_THREADS` (default 1) sets torch's CPU threads: the models are small, so one thread per
request answers fastest and lets sessions (and a training run) work side by side without
oversubscribing the cores.
"""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, int(os.environ.get("DEEPGEN_THREADS") or 1)))

from webapp.style import CSS, THEME  # noqa: E402
from webapp.tabs import compare, draw, generate, latent, models, style  # noqa: E402

HEADER = """# deepgen · convolutional networks: applications
Autoencoders, VAEs, conditional VAEs, Siamese networks with metric-learning losses, GANs and VAE-GANs,
all trained on MNIST. Pick a tab."""


def build_demo():
    with gr.Blocks(title="deepgen") as demo:
        gr.Markdown(HEADER)
        with gr.Tabs():
            with gr.Tab("Models", id="models"):
                models.build(demo)
            with gr.Tab("Draw", id="draw") as tab:
                drawn = draw.build(tab)
            with gr.Tab("Latent space", id="latent") as tab:
                latent.build(tab, drawn.digit)
            with gr.Tab("Style transfer", id="style") as tab:
                style.build(tab)
            with gr.Tab("Compare", id="compare") as tab:
                compare.build(tab)
            with gr.Tab("Generate", id="generate") as tab:
                generate.build(tab)
    demo.queue(default_concurrency_limit=8)
    return demo


demo = build_demo()


def launch(**kwargs):
    """Launch with the theme and CSS (which Gradio 6 takes in `launch`)."""
    kwargs.setdefault("max_file_size", "20mb")
    return demo.launch(theme=THEME, css=CSS, **kwargs)


if __name__ == "__main__":
    launch()
