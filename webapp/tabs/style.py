"""Style transfer tab: the conditional VAE encodes a digit's (or an item's) style H with its
label Y, then decodes H with every label of its data set."""
import gradio as gr
import torch

from deepgen import data as D
from deepgen import inference, recipes

from .. import cvae_sliders, preload, registry, testset
from ..components import (
    KEEP, DigitInput, Words, action, as_dataset, as_digit, as_label, as_seed, class_names, digit_grid, friendly,
    intro, notice, notice_box, opening)
from ..pictures import captioned

LABEL_SOURCES = ["classifier's prediction", "true label (test digits)"]
INTRO = r"""
### Style transfer with the conditional VAE
The CVAE conditions everything on the label $Y$:
$$\begin{aligned}\log P(X|Y) &- KL[Q(H|X,Y)\,\|\,P(H|X,Y)] \\ &= E_{H \sim Q}[\log P(X|H,Y)] - KL[Q(H|X,Y)\,\|\,N(0, I)]\end{aligned}$$
Since the decoder is told which «class» to draw, the code $H$ only needs to hold what the label does
not: the **style** («style»). Encode the style of «a digit» into $H = \mu(X, Y)$, then
decode it with every label $Y = 0 \ldots 9$.
"""


def _label(x, true_label, source, session=None, dataset=D.DEFAULT):
    """(label used, sentence saying where it came from)."""
    names, noun = class_names(dataset), D.get(dataset).noun
    if source == LABEL_SOURCES[1] and true_label is not None:
        return int(true_label), f"true label **{names[int(true_label)]}**"
    try:
        p = inference.classify(registry.get("classifier", session, dataset), x)[0]
    except registry.ModelMissing:
        if true_label is not None:
            return int(true_label), f"true label **{names[int(true_label)]}** (no classifier checkpoint)"
        raise ValueError(f"No label for this {noun}: the classifier checkpoint is missing — pick a test "
                         f"{noun} (it has a true label) or train the classifier.") from None
    label = int(p.argmax())
    why = "" if source == LABEL_SOURCES[0] else f" (this {noun} has no true label)"
    return label, f"classifier's prediction **{names[label]}** (p = {float(p[label]):.2f}){why}"


@friendly
def style_transfer(image, true_label=None, label_source=LABEL_SOURCES[0], dataset=D.DEFAULT,
                   request: gr.Request = None):
    """Image of `dataset` → (its style decoded with each of the ten labels: ten (28×28 image,
    class name) pairs; which label was used)."""
    session, dataset = registry.session_of(request), as_dataset(dataset)
    true_label = as_label(true_label, dataset)
    x = as_digit(image, dataset)
    cvae = registry.get("cvae", session, dataset)
    label, why = _label(x, true_label, label_source, session, dataset)
    row = inference.style_row(cvae, x, label)
    return captioned(row, class_names(dataset)), f"Style encoded with the {why}."


@friendly
def style_grid(count=6, seed=0, dataset=D.DEFAULT, request: gr.Request = None):
    """`count` random test images of `dataset` (from `seed`) × ten labels, row by row as (28×28
    image, caption) pairs: the source captioned with its test-set index, then the ten classes."""
    count, dataset = int(count), as_dataset(dataset)
    if not 1 <= count <= 12:
        raise ValueError(f"Use 1 to 12 source {D.get(dataset).noun}s.")
    cvae = registry.get("cvae", registry.session_of(request), dataset)
    images, labels = testset.tensors(dataset)
    idx = torch.randperm(len(labels), generator=torch.Generator().manual_seed(as_seed(seed)))[:count]
    xs, ys = images[idx], labels[idx]
    rows = inference.style_grid(cvae, xs, ys).reshape(count, 10, 1, 28, 28)
    cells = torch.cat([xs[:, None], rows], 1).reshape(-1, 1, 28, 28)
    captions = [c for i in idx.tolist() for c in [f"#{i}", *class_names(dataset)]]
    return captioned(cells, captions)


@friendly
def prior_grid(rows=5, seed=0, dataset=D.DEFAULT, request: gr.Request = None):
    """Prior samples: one H ∼ N(0, I) per row, decoded with the ten labels across ((28×28 image,
    class name) pairs, row by row)."""
    rows, dataset = int(rows), as_dataset(dataset)
    if not 1 <= rows <= 12:
        raise ValueError("Use 1 to 12 rows.")
    cells = inference.prior_grid(registry.get("cvae", registry.session_of(request), dataset), rows, as_seed(seed))
    return captioned(cells, class_names(dataset) * rows)


def warm(dataset=D.DEFAULT):
    """Load the CVAE and the classifier and run this tab's callbacks once."""
    style_transfer(preload.sample_digit(), dataset=dataset)
    style_grid(dataset=dataset)
    prior_grid(dataset=dataset)


def on_open(dataset=D.DEFAULT, request: gr.Request = None):
    """When the tab opens: a note on what is missing."""
    return notice(["cvae", "classifier"], session=registry.session_of(request), dataset=as_dataset(dataset))


def titles(dataset=D.DEFAULT):
    """The labels of this tab's galleries and grid slider, in the words of `dataset`."""
    ds = D.get(as_dataset(dataset))
    if ds.name == D.DEFAULT:
        labels, across = "each label 0–9", "labels 0–9"
    else:
        labels, across = f"each class ({', '.join(ds.classes[:2])}, …)", "the ten classes"
    return {"row": f"Its style, decoded with {labels}",
            "grid": f"Source (first column, #test index), then {across}",
            "count": f"source {ds.noun}s (random test {ds.noun}s)",
            "prior": f"P(X | H, Y), H ∼ N(0, I): one H per row, {'Y = 0–9' if ds.name == D.DEFAULT else 'Y'} "
                     f"across{'' if ds.name == D.DEFAULT else ': ' + ', '.join(ds.classes)}",
            "heading": f"#### Several source {ds.noun}s × ten labels"}


def prior_intro(dataset=D.DEFAULT):
    """What the prior samples below show; for a data set whose CVAE recipe adds the label term
    (`CVAETrainer.label_weight`), what that term is and why it is there."""
    ds = D.get(as_dataset(dataset))
    text = ("#### Samples of the prior, per label\nEach row decodes one $H \\sim N(0, I)$ with the ten "
            f"labels: one style, ten {'digits' if ds.name == D.DEFAULT else 'kinds of clothing'}.")
    weight = recipes.get("cvae", ds.name).trainer_args.get("label_weight")
    if weight:
        text += (f" The bundled {ds.title} CVAE learnt with one term more than the −ELBO: a separate "
                 f"classifier names its prior samples, and the decoder also lowers {weight:g} × that "
                 "classifier's cross-entropy with the label it was given. Without it, nearly half of its coats "
                 "and shirts came out as pullovers and T-shirts.")
    return text


def switched(dataset, request: gr.Request = None):
    """This tab for a newly chosen data set: its words and a notice; the old set's grids go (the
    source's row is redrawn by the source's own switch, or emptied where the CVAE is missing)."""
    dataset = as_dataset(dataset)
    t = titles(dataset)
    missing = not registry.available("cvae", registry.session_of(request), dataset)
    row = gr.update(label=t["row"], value=None) if missing else gr.update(label=t["row"])
    return (row, "" if missing else gr.skip(), gr.update(label=t["grid"], value=None), gr.update(label=t["count"]),
            gr.update(label=t["prior"], value=None), t["heading"], prior_intro(dataset), on_open(dataset, request))


def _grids(count, seed, rows, prior_seed, dataset, request, wanted=(True, True)):
    """The style grid and the prior grid, each drawn where `wanted` (else gr.skip()) and left
    empty where it cannot be drawn."""
    drawn = []
    for want, draw_grid in zip(wanted, (lambda: style_grid(count, seed, dataset, request),
                                        lambda: prior_grid(rows, prior_seed, dataset, request))):
        try:
            drawn.append(draw_grid() if want else gr.skip())
        except gr.Error:
            drawn.append(None)
    return tuple(drawn)


def grids(count, seed, rows, prior_seed, dataset=D.DEFAULT, request: gr.Request = None):
    """Both grids redrawn for the data set shown (each left empty where it cannot be drawn)."""
    return _grids(count, seed, rows, prior_seed, dataset, request)


def fill_empty(grid_now, prior_now, count, seed, rows, prior_seed, dataset=D.DEFAULT, request: gr.Request = None):
    """On opening the tab, the grids that are still empty (a first visit) drawn; the others kept."""
    return _grids(count, seed, rows, prior_seed, dataset, request, wanted=(not grid_now, not prior_now))


def build(tab, dataset=None):
    """`dataset`: the app's data-set switch, which every callback here follows."""
    words = Words(tab, dataset)
    words.intro(INTRO)
    status = notice_box()
    extra = [dataset] if dataset is not None else []
    t = titles()
    opens = opening(tab)          # first, so that everything this tab does on opening goes out at once
    opens.then(on_open, extra, status, api_visibility="private")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            source = DigitInput("style", label="Source digit", dataset=dataset, tab=tab)
            label_source = gr.Radio(LABEL_SOURCES, value=LABEL_SOURCES[0], label="Encode with the label from")
        with gr.Column(scale=5):
            row = digit_grid(t["row"], columns=10)      # inline: no file per digit
            used = gr.Markdown()
            heading = gr.Markdown(t["heading"])
            with gr.Row(equal_height=True):
                count = gr.Slider(1, 12, value=6, step=1, label=t["count"])
                seed = gr.Number(label="seed", value=0, precision=0, min_width=80)
                go = action("Show grid")
            grid_img = digit_grid(t["grid"], columns=11, elem_classes=["source-first"])
    inputs, outputs = [source.digit, source.label, label_source, *extra], [row, used]
    preload.register("style", warm, each_dataset=True)
    source.then(style_transfer, inputs, outputs, api_name="style_transfer", show_progress="hidden")
    label_source.input(style_transfer, inputs, outputs, api_visibility="private", show_progress="hidden")
    go.click(style_grid, [count, seed, *extra], grid_img, api_name="style_grid", **KEEP)

    prior_text = intro(prior_intro())
    with gr.Row(equal_height=True):
        rows = gr.Slider(1, 12, value=5, step=1, label="rows")
        prior_seed = gr.Number(label="seed", value=0, precision=0, min_width=80)
        sample = action("Sample")
    prior_img = digit_grid(t["prior"], columns=10)
    sample.click(prior_grid, [rows, prior_seed, *extra], prior_img, api_name="prior_grid", **KEEP)
    opens.then(fill_empty, [grid_img, prior_img, count, seed, rows, prior_seed, *extra], [grid_img, prior_img],
               api_visibility="private", **KEEP)
    cvae_sliders.build(tab, dataset)
    if dataset is not None:
        for event in words.follow(switched, [row, used, grid_img, count, prior_img, heading, prior_text, status]):
            event.success(grids, [count, seed, rows, prior_seed, dataset], [grid_img, prior_img],
                          api_visibility="private", **KEEP)
    return source
