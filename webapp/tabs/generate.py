"""Generate tab: GAN, VAE-GAN and VAE prior samples side by side, with the discriminators' D(x),
and interpolation between two seeds."""
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import pandas as pd
import torch

from deepgen import inference
from deepgen.images import grid

from .. import preload, registry, testset
from ..components import (
    KEEP, LATEX, action, as_seed, friendly, image_box, intro, notice, notice_box)
from ..pictures import captioned, digit_grid_html

MAX_SAMPLES = 64
POOL = ThreadPoolExecutor(3, thread_name_prefix="generate")  # the three models run side by side on 2 cores
SOURCES = [("gan", "GAN: G(z)"), ("vaegan", "VAE-GAN: f(z)"), ("vae", "VAE: f(z)")]
JUDGES = [("gan", "D of the GAN"), ("vaegan", "D of the VAE-GAN")]
INTRO = r"""
### Sample the generators
The GAN's discriminator $D$ and generator $G$ play a game. $D$ minimises
$$-E_x[\log D(x)] - E_z[\log(1 - D(G(z)))]$$
and $G$ (non-saturating form) minimises $-E_z[\log D(G(z))]$; the bundled $G$ also learned to draw
digits that a classifier on $D$'s features puts firmly in one class (CatGAN's certainty term).
Each sample comes from $z \sim N(0, I)$ drawn from the seed; under each digit is $D(x)$, the
discriminator's probability that it is a real MNIST digit (VAE samples are judged by the GAN's $D$;
click a digit to see it large).
The VAE-GAN (Larsen et al. 2016) is a VAE whose decoder is trained as a GAN generator: compare its
samples with the VAE's blurrier ones.
"""


EQUILIBRIUM = ("At the game's equilibrium the generated digits look as real as real ones, so $D$ cannot tell "
               "them apart and says $D(x) = 0.5$ for both: 0.5, not 1, is the goal, for samples and real "
               "test digits alike.")


def _check(seed, count=1):
    seed = as_seed(seed)
    try:
        count = int(count)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("The count must be a whole number.") from None
    if not 1 <= count <= MAX_SAMPLES:
        raise ValueError(f"Draw 1 to {MAX_SAMPLES} samples, not {count}.")
    return seed, count


def _real_scores(model):
    images, _ = testset.first(512)
    return float(inference.discriminator_scores(model, images).mean())


@friendly
def generate(seed=0, count=16, request: gr.Request = None):
    """(GAN, VAE-GAN, VAE samples, each an HTML grid of digits captioned with their D(x); table of mean D(x))."""
    session = registry.session_of(request)
    seed, count = _check(seed, count)
    judges = {slot: registry.get(slot, session) for slot, _ in JUDGES if registry.available(slot, session)}
    drawing = {slot: POOL.submit(inference.generate, registry.get(slot, session), count, seed)
               for slot, _ in SOURCES if registry.available(slot, session)}
    samples = {slot: job.result() for slot, job in drawing.items()}
    if samples and judges:                     # one discriminator pass per judge over all samples
        batch = torch.cat(list(samples.values()))
        judging = {judge: POOL.submit(inference.discriminator_scores, model, batch) for judge, model in judges.items()}
        scores = {judge: dict(zip(samples, job.result().split(count))) for judge, job in judging.items()}
    pictures, rows = [], []
    for slot, title in SOURCES:
        if slot not in samples:
            pictures.append(None)
            continue
        own = slot if slot in judges else next(iter(judges), None)   # VAE samples: the GAN's D
        captions = [f"{v:.2f}" for v in scores[own][slot].tolist()] if own else [""] * count
        pictures.append(digit_grid_html(captioned(samples[slot], captions), columns=8))
        rows.append({"samples": title, **{name: round(float(scores[judge][slot].mean()), 3)
                                          for judge, name in JUDGES if judge in judges}})
    if not rows:
        raise registry.ModelMissing("None of the gan, vaegan and vae checkpoints is there — train them "
                                    "with `python -m train gan`, `… vaegan`, `… vae`.")
    try:
        rows.append({"samples": "real test digits (512)",
                     **{name: round(registry.memo(judges[slot], "real_D", _real_scores), 3)
                        for slot, name in JUDGES if slot in judges}})
    except testset.TestSetMissing:
        pass
    return (*pictures, pd.DataFrame(rows))


@friendly
def interpolate_seeds(seed_a=0, seed_b=1, steps=10, request: gr.Request = None):
    """Rows of samples along the great circle from z(seed_a) to z(seed_b): GAN, VAE-GAN, VAE."""
    seed_a, steps = _check(seed_a, steps)
    seed_b, _ = _check(seed_b)
    if steps < 2:
        raise ValueError("Use at least 2 steps.")
    out, session = [], registry.session_of(request)
    for slot, _ in SOURCES:
        out.append(grid(inference.interpolate_seeds(registry.get(slot, session), seed_a, seed_b, steps), nrow=steps)
                   if registry.available(slot, session) else None)
    return tuple(out)


def on_open(seed, count, seed_a, seed_b, steps, request: gr.Request = None):
    """When the tab opens: samples and an interpolation for the current seeds, and a note on what
    is missing."""
    try:
        samples = generate(seed, count, request)
    except gr.Error:
        samples = (None,) * (len(SOURCES) + 1)
    try:
        walks = interpolate_seeds(seed_a, seed_b, steps, request)
    except gr.Error:
        walks = (None,) * len(SOURCES)
    return (*samples, *walks, notice([s for s, _ in SOURCES], session=registry.session_of(request)))


def build(tab):
    intro(INTRO)
    status = notice_box()
    with gr.Row(equal_height=True):
        seed = gr.Number(label="seed", value=0, precision=0, minimum=0, min_width=100)
        count = gr.Slider(1, MAX_SAMPLES, value=32, step=1, label="samples")
        go = action("Generate", primary=True)
    with gr.Row(equal_height=False):
        pictures = []
        for slot, title in SOURCES:
            with gr.Column(min_width=300):
                gr.Markdown(f"{title}, captioned with D(x)", elem_classes=["grid-title"])
                pictures.append(gr.HTML(min_height=120, elem_id=f"samples-{slot}", elem_classes=["samples"]))
    scores = gr.Dataframe(label="Mean D(x): each discriminator's probability that the samples are real",
                          interactive=False)
    gr.Markdown(EQUILIBRIUM, latex_delimiters=LATEX, elem_classes=["note"])
    outputs = [*pictures, scores]
    go.click(generate, [seed, count], outputs, api_name="generate", **KEEP)
    seed.submit(generate, [seed, count], outputs, api_visibility="private", **KEEP)
    count.release(generate, [seed, count], outputs, api_visibility="private", **KEEP)

    intro("#### Interpolation between two seeds\nSpherical interpolation between $z_A$ and $z_B$ keeps every "
          "intermediate $z$ as long as a typical Gaussian sample.")
    with gr.Row(equal_height=True):
        seed_a = gr.Number(label="seed A", value=0, precision=0, minimum=0, min_width=100)
        seed_b = gr.Number(label="seed B", value=1, precision=0, minimum=0, min_width=100)
        steps = gr.Slider(2, 16, value=10, step=1, label="steps")
        walk = action("Interpolate")
    rows = [image_box(label=title, format="png", interactive=False, elem_classes=["pixelated"], height=110)
            for _, title in SOURCES]
    walk.click(interpolate_seeds, [seed_a, seed_b, steps], rows, api_name="interpolate_seeds", **KEEP)
    tab.select(on_open, [seed, count, seed_a, seed_b, steps], [*outputs, *rows, status], api_visibility="private")
    preload.register("generate", lambda: on_open(0, 32, 0, 1, 10))
    return seed
