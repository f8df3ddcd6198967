"""Compare tab: two digits through two Siamese networks (ArcFace and CosFace by default):
similarity, distance, a calibrated verdict, nearest test digits and the embedding plane."""
import gradio as gr
import numpy as np
import torch

from deepgen import inference

from .. import preload, registry, testset
from ..components import (
    KEEP, LATEX, DigitInput, as_digit, friendly, image_box, intro, notice, notice_box)
from ..pictures import Frame, captioned_grid, mark, scatter

BANK_DIGITS, PLOT_DIGITS, NEIGHBOURS = 5000, 2000, 8
DEFAULTS = ("siamese-arcface", "siamese-cosface")
INTRO = r"""
### Are these the same digit? Two Siamese networks answer
One network $F$ embeds both images; the distance of the unit embeddings decides. Trained as
classifiers with an angular margin, the embeddings cluster by digit:
$$L_{CosFace} = -\frac{1}{N}\sum_{i=1}^{N} \ln \frac{e^{s(\cos\theta_{y_i} - m)}}{e^{s(\cos\theta_{y_i} - m)} + \sum_{j \ne y_i} e^{s\cos\theta_j}}
\qquad L_{ArcFace} = -\frac{1}{N}\sum_{i=1}^{N} \ln \frac{e^{s\cos(\theta_{y_i} + m)}}{e^{s\cos(\theta_{y_i} + m)} + \sum_{j \ne y_i} e^{s\cos\theta_j}}$$
Shown: $\cos\theta = \frac{(x, y)}{\|x\|\|y\|}$, the angle $\theta$, the distance $D = \|e_A - e_B\|$ of
the unit embeddings, and $p(\text{same}) = \sigma(a D + b)$, with the threshold and $a, b$ calibrated
on training pairs.
"""


def _bank(model):
    """Unit embeddings of the first BANK_DIGITS test digits, and their labels."""
    images, labels = testset.first(BANK_DIGITS)
    return inference.embed(model, images), labels


def _plane(model):
    bank, labels = registry.memo(model, "bank", _bank)
    e, labels = bank[:PLOT_DIGITS], labels[:PLOT_DIGITS]
    mean, components = inference.pca(e)
    points = inference.project(e, mean, components).numpy()
    lim = float(np.percentile(np.abs(points), 99.5)) * 1.1
    frame = Frame(-lim, lim, size=380, pad=26)
    return scatter(points, labels.numpy(), frame, radius=1.4), frame, mean, components


def _neighbours(model, e):
    bank, labels = registry.memo(model, "bank", _bank)
    idx, dist = inference.nearest(bank, e, NEIGHBOURS)
    images = testset.first(BANK_DIGITS)[0][idx]
    return captioned_grid(images, [f"{int(labels[i])} · {d:.2f}" for i, d in zip(idx, dist.tolist())],
                          nrow=NEIGHBOURS, zoom=2)


def compare_one(slot, xa, xb, session=None):
    """One model's verdict for two 1×1×28×28 digits: (label dict, details, neighbours A, B, plane)."""
    if slot not in registry.SIAMESE_SLOTS:
        raise ValueError(f"'{slot}' is not a Siamese model; choose one of "
                         f"{', '.join(registry.SIAMESE_SLOTS)}.")
    model = registry.get(slot, session)
    r = inference.compare(model, xa, xb)
    verdict = "**same digit**" if r["same"] else "**different digits**"
    calibrated = "calibrated on training pairs" if r["calibrated"] else (
        "**uncalibrated**: default threshold 1.0, a = −10, b = 10")
    details = (f"{verdict}: $D$ = {r['distance']:.3f} {'≤' if r['same'] else '>'} threshold "
               f"{r['threshold']:.3f} ({calibrated})\n\n"
               f"| cos θ | θ | D = ‖e_A − e_B‖ | p(same) |\n|---|---|---|---|\n"
               f"| {r['cosine']:.3f} | {r['angle']:.1f}° | {r['distance']:.3f} | {r['p_same']:.3f} |")
    label = {"same": r["p_same"], "different": 1 - r["p_same"]}
    try:
        e = inference.embed(model, torch.cat([xa[:1], xb[:1]]))
        plot, frame, mean, components = registry.memo(model, "plane", _plane)
        marked = mark(plot, frame, inference.project(e, mean, components).tolist(), ["A", "B"])
        return label, details, _neighbours(model, e[0]), _neighbours(model, e[1]), np.asarray(marked)
    except testset.TestSetMissing as exc:
        return label, details + f"\n\n**Note:** {exc}", None, None, None


@friendly
def compare(image_a, image_b, model_left=DEFAULTS[0], model_right=DEFAULTS[1], request: gr.Request = None):
    """Two digits, two Siamese models → for each model: (p same/different, details, nearest test
    digits of A, of B, PCA plane of test embeddings with A and B marked)."""
    xa = as_digit(image_a)
    if image_b is None:
        raise ValueError("There is no digit B yet: draw one, upload one or pick a test digit.")
    xb = as_digit(image_b)
    session = registry.session_of(request)
    return (*compare_one(model_left, xa, xb, session), *compare_one(model_right, xa, xb, session))


def compare_when_ready(image_a, image_b, model_left, model_right, request: gr.Request = None):
    """As `compare`, but quietly waits while one of the two digits is still missing."""
    if image_a is None or image_b is None:
        waiting = "Give both digits A and B to compare them."
        return (None, waiting, None, None, None) * 2
    return compare(image_a, image_b, model_left, model_right, request)


def prepare(model_left, model_right, request: gr.Request = None):
    """When the tab opens: embed the test digits for the chosen models (cached) while the user
    draws; returns a note on anything missing."""
    session, slots = registry.session_of(request), (model_left, model_right)
    message = notice(slots, needs_testset=True, session=session)
    for slot in slots:
        try:
            registry.cached(slot, "plane", _plane, session)
        except (registry.ModelMissing, testset.TestSetMissing):
            pass
    return message


def warm():
    """Embed the test digits for the default models and run a comparison once; then load the
    other Siamese models (the choosers offer them)."""
    prepare(*DEFAULTS)
    compare(preload.sample_digit(), preload.sample_digit())
    for slot in registry.SIAMESE_SLOTS:
        registry.available(slot)


def build(tab):
    intro(INTRO)
    status = notice_box()
    with gr.Row(equal_height=False):
        with gr.Column(min_width=280):
            a = DigitInput("compare_a", label="Digit A", pad_label="Draw digit A")
        with gr.Column(min_width=280):
            b = DigitInput("compare_b", label="Digit B", pad_label="Draw digit B")
    go = gr.Button("Compare", variant="primary")
    columns, outputs, choosers = [], [], []
    with gr.Row(equal_height=False):
        for default in DEFAULTS:
            with gr.Column(min_width=320):
                chooser = gr.Dropdown(registry.SIAMESE_SLOTS, value=default, label="Siamese model")
                verdict = gr.Label(label="Verdict", num_top_classes=2)
                details = gr.Markdown(latex_delimiters=LATEX)
                gr.Markdown("Nearest test digits to **A**, then to **B** (label · distance)")
                near_a = image_box(label="Nearest test digits to A", show_label=False, format="png",
                                  interactive=False, height=80, buttons=[])
                near_b = image_box(label="Nearest test digits to B", show_label=False, format="png",
                                  interactive=False, height=80, buttons=[])
                plane = image_box(label="Test embeddings (2-D PCA), A and B marked", format="png",
                                 interactive=False, height=430, elem_classes=["plot"])
                choosers.append(chooser)
                outputs += [verdict, details, near_a, near_b, plane]
    inputs = [a.digit, b.digit, *choosers]
    go.click(compare, inputs, outputs, api_name="compare", **KEEP)
    for source in (a, b):
        source.then(compare_when_ready, inputs, outputs, **KEEP)
    for chooser in choosers:
        chooser.input(compare_when_ready, inputs, outputs, api_visibility="private", **KEEP)
    tab.select(prepare, choosers, status, api_visibility="private")
    preload.register("compare", warm)
    return a, b
