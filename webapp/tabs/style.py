"""Style transfer tab: the conditional VAE encodes a digit's style H with its label Y, then
decodes H with every label."""
import gradio as gr
import torch

from deepgen import inference

from .. import preload, registry, testset
from ..components import (
    KEEP, DigitInput, action, as_digit, as_label, as_seed, digit_gallery, friendly, intro, notice, notice_box)
from ..pictures import captioned

LABEL_SOURCES = ["classifier's prediction", "true label (test digits)"]
INTRO = r"""
### Style transfer with the conditional VAE
The CVAE conditions everything on the label $Y$:
$$\log P(X|Y) - KL[Q(H|X,Y)\,\|\,P(H|X,Y)] = E_{H \sim Q}[\log P(X|H,Y)] - KL[Q(H|X,Y)\,\|\,N(0, I)]$$
Since the decoder is told which digit to draw, the code $H$ only needs to hold what the label does
not: the **style** (slant, thickness, size). Encode the style of a digit into $H = \mu(X, Y)$, then
decode it with every label $Y = 0 \ldots 9$.
"""


def _label(x, true_label, source, session=None):
    """(label used, sentence saying where it came from)."""
    if source == LABEL_SOURCES[1] and true_label is not None:
        return int(true_label), f"true label **{int(true_label)}**"
    try:
        p = inference.classify(registry.get("classifier", session), x)[0]
    except registry.ModelMissing:
        if true_label is not None:
            return int(true_label), f"true label **{int(true_label)}** (no classifier checkpoint)"
        raise ValueError("No label for this digit: the classifier checkpoint is missing — pick a test "
                         "digit (it has a true label) or train the classifier.") from None
    label = int(p.argmax())
    why = "" if source == LABEL_SOURCES[0] else " (a drawn digit has no true label)"
    return label, f"classifier's prediction **{label}** (p = {float(p[label]):.2f}){why}"


@friendly
def style_transfer(image, true_label=None, label_source=LABEL_SOURCES[0], request: gr.Request = None):
    """Digit → (its style decoded with labels 0–9: ten (28×28 digit, label) pairs; which label was used)."""
    session = registry.session_of(request)
    true_label = as_label(true_label)
    x = as_digit(image)
    cvae = registry.get("cvae", session)
    label, why = _label(x, true_label, label_source, session)
    row = inference.style_row(cvae, x, label)
    return captioned(row, range(10)), f"Style encoded with the {why}."


@friendly
def style_grid(count=6, seed=0, request: gr.Request = None):
    """`count` random test digits (from `seed`) × ten labels, row by row as (28×28 digit, caption)
    pairs: the source digit captioned with its test-set index, then labels 0–9."""
    count = int(count)
    if not 1 <= count <= 12:
        raise ValueError("Use 1 to 12 source digits.")
    cvae = registry.get("cvae", registry.session_of(request))
    images, labels = testset.tensors()
    idx = torch.randperm(len(labels), generator=torch.Generator().manual_seed(as_seed(seed)))[:count]
    xs, ys = images[idx], labels[idx]
    rows = inference.style_grid(cvae, xs, ys).reshape(count, 10, 1, 28, 28)
    cells = torch.cat([xs[:, None], rows], 1).reshape(-1, 1, 28, 28)
    captions = [c for i in idx.tolist() for c in [f"#{i}"] + [str(d) for d in range(10)]]
    return captioned(cells, captions)


@friendly
def prior_grid(rows=5, seed=0, request: gr.Request = None):
    """Prior samples: one H ∼ N(0, I) per row, decoded with labels 0–9 across ((28×28 digit, label)
    pairs, row by row)."""
    rows = int(rows)
    if not 1 <= rows <= 12:
        raise ValueError("Use 1 to 12 rows.")
    cells = inference.prior_grid(registry.get("cvae", registry.session_of(request)), rows, as_seed(seed))
    return captioned(cells, list(range(10)) * rows)


def warm():
    """Load the CVAE and the classifier and run this tab's callbacks once."""
    style_transfer(preload.sample_digit())
    style_grid()
    prior_grid()


def on_open(request: gr.Request = None):
    """When the tab opens: a note on what is missing."""
    return notice(["cvae", "classifier"], session=registry.session_of(request))


def build(tab):
    intro(INTRO)
    status = notice_box()
    tab.select(on_open, None, status, api_visibility="private")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            source = DigitInput("style", label="Source digit")
            label_source = gr.Radio(LABEL_SOURCES, value=LABEL_SOURCES[0], label="Encode with the label from")
        with gr.Column(scale=5):
            row = digit_gallery("Its style, decoded with each label 0–9", columns=10)
            used = gr.Markdown()
            gr.Markdown("#### Several source digits × ten labels")
            with gr.Row(equal_height=True):
                count = gr.Slider(1, 12, value=6, step=1, label="source digits (random test digits)")
                seed = gr.Number(label="seed", value=0, precision=0, min_width=80)
                go = action("Show grid")
            grid_img = digit_gallery("Source (first column, #test index), then labels 0–9", columns=11,
                                     elem_classes=["source-first"])
    inputs, outputs = [source.digit, source.label, label_source], [row, used]
    preload.register("style", warm)
    source.then(style_transfer, inputs, outputs, api_name="style_transfer", show_progress="hidden")
    label_source.input(style_transfer, inputs, outputs, api_visibility="private", show_progress="hidden")
    go.click(style_grid, [count, seed], grid_img, api_name="style_grid", **KEEP)

    intro("#### Samples of the prior, per label\nEach row decodes one $H \\sim N(0, I)$ with the labels "
          "0–9: one style, ten digits.")
    with gr.Row(equal_height=True):
        rows = gr.Slider(1, 12, value=5, step=1, label="rows")
        prior_seed = gr.Number(label="seed", value=0, precision=0, min_width=80)
        sample = action("Sample")
    prior_img = digit_gallery("P(X | H, Y), H ∼ N(0, I): one H per row, Y = 0–9 across", columns=10)
    sample.click(prior_grid, [rows, prior_seed], prior_img, api_name="prior_grid", **KEEP)
    return source
