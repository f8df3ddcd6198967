"""Compare tab: two digits through two Siamese networks (ArcFace and CosFace by default):
similarity, distance, a calibrated verdict, the chosen loss's formula with the student's own
numbers, nearest test digits, the embedding plane, and the embeddings on their sphere in 3-D."""
import math

import gradio as gr
import numpy as np
import torch
import torch.nn.functional as F

from deepgen import data as D
from deepgen import inference, losses

from .. import preload, registry, sphere, testset
from ..components import (
    KEEP, LATEX, DigitInput, Words, as_dataset, as_digit, class_names, class_word, digit_gallery, digit_grid, friendly,
    how_to_give, image_box, in_words, notice, notice_box, opening)
from ..pictures import Frame, captioned, mark, scatter

BANK_DIGITS, PLOT_DIGITS, NEIGHBOURS = 5000, 2000, 8
DEFAULTS = ("siamese-arcface", "siamese-cosface")
DIGITS = [str(d) for d in range(10)]
INTRO = r"""
### Are these the same «digit»? Two Siamese networks answer
One network $F$ embeds both images (slide "Сиамские сети"); the distance of the unit embeddings
decides. For unit vectors angle and distance say the same thing:
$\cos\theta = \frac{(e_A, e_B)}{\|e_A\|\|e_B\|}$ and $D = \|e_A - e_B\| = \sqrt{2 - 2\cos\theta}$.
The verdict is $D \le$ threshold, and $p(\text{same}) = \sigma(a D + b)$, with the threshold and
$a, b$ calibrated on training pairs. Each model below shows the loss it was trained with, filled
in with its own margin and scale and with your «digits»' numbers.
"""
PROJECTION = ("A projection keeps only the directions of largest variance (PCA) and drops the rest: "
              "«digits» far apart in the 64-D embedding space can land side by side in the picture, and "
              "angles between points far apart on the sphere are not preserved, so trust the distances "
              "D, not the picture.")
SCALES = ("Each loss spreads the digits differently over the sphere (the triplet and contrastive losses "
          "pull a digit into a tight cap, the margin losses set the ten digits at wide angles), so the "
          "same D means different things under different losses: that is why the threshold is not fixed "
          "but calibrated per model on training pairs, as the D that best separates same from different "
          "pairs.")

# loss -> (slide, formula with {m} and {s} for the model's margin and scale)
FORMULAS = {
    "contrastive": ('"Сиамские сети" (contrastive loss)',
                    r"L = Y D^2 + (1 - Y)\max(\alpha - D, 0)^2, \quad \alpha = {m}"),
    "triplet": ('"Triplet loss"',
                r"L = \max\left(\|F(A) - F(P)\|^2 - \|F(A) - F(N)\|^2 + \alpha,\ 0\right), \quad \alpha = {m}"),
    "softmax": ('"Softmax loss"',
                r"L_{softmax} = -\frac{1}{N}\sum_{i=1}^{N} \ln \frac{e^{W_{y_i}^T x_i + b_{y_i}}}"
                r"{\sum_{j=1}^{C} e^{W_j^T x_i + b_j}}"),
    "nsoftmax": ('"Normalized Softmax Loss, N-Softmax"',
                 r"L_{Nsoftmax} = -\frac{1}{N}\sum_{i=1}^{N} \ln \frac{e^{s\cos\theta_{y_i}}}"
                 r"{e^{s\cos\theta_{y_i}} + \sum_{j \ne y_i} e^{s\cos\theta_j}}, \quad s = {s}"),
    "sphereface": ('"SphereFace Loss"',
                   r"L_{SphereFace} = -\frac{1}{N}\sum_{i=1}^{N} \ln \frac{e^{s\cos(m\theta_{y_i})}}"
                   r"{e^{s\cos(m\theta_{y_i})} + \sum_{j \ne y_i} e^{s\cos\theta_j}}, \quad m = {m},\ s = {s}"),
    "cosface": ('"CosFace Loss"',
                r"L_{CosFace} = -\frac{1}{N}\sum_{i=1}^{N} \ln \frac{e^{s(\cos\theta_{y_i} - m)}}"
                r"{e^{s(\cos\theta_{y_i} - m)} + \sum_{j \ne y_i} e^{s\cos\theta_j}}, \quad m = {m},\ s = {s}"),
    "arcface": ('"ArcFace Loss"',
                r"L_{ArcFace} = -\frac{1}{N}\sum_{i=1}^{N} \ln \frac{e^{s\cos(\theta_{y_i} + m)}}"
                r"{e^{s\cos(\theta_{y_i} + m)} + \sum_{j \ne y_i} e^{s\cos\theta_j}}, \quad m = {m}"
                r"\ (= {m_deg}°),\ s = {s}"),
}


def _number(value):
    return "–" if value is None else f"{value:g}"


def formula(model):
    """Markdown: the formula of the loss `model` was trained with, its margin and scale filled in,
    and the lecture slide it comes from."""
    name = getattr(model, "loss_name", "?")
    if name not in FORMULAS:
        return f"Trained with the **{name}** loss."
    slide, tex = FORMULAS[name]
    loss = getattr(model, "loss", None)
    m, s = getattr(loss, "margin", None), getattr(loss, "scale", None)
    tex = (tex.replace("{m}", _number(m)).replace("{s}", _number(s))
           .replace("{m_deg}", f"{math.degrees(m):.1f}" if m is not None else "–"))
    return f"Trained with the **{name}** loss (slide {slide}):\n$$\n{tex}\n$$"


def _margin_effect(model, raw):
    """Markdown: what the loss's margin does for the student's own digits, given the network's raw
    outputs F(x) for A and B (the classification losses: each digit's angle to its nearest class
    centre W_j, with and without the margin; the pair losses: the pair's terms)."""
    name, loss = getattr(model, "loss_name", None), getattr(model, "loss", None)
    if name in ("contrastive", "triplet"):
        return None
    if not hasattr(loss, "W"):
        return None
    with torch.no_grad():
        if name == "softmax":
            p = F.softmax(loss.logits(raw), dim=1)
            rows = [f"- **{who}**: softmax puts it in class {int(p[k].argmax())} "
                    f"with p = {float(p[k].max()):.3f}" for k, who in enumerate("AB")]
            return ("The plain softmax separates classes by hyperplanes $W_j^T x + b_j$, with no angle and "
                    "no margin; the embeddings are normalised only to compare them.\n" + "\n".join(rows))
        cos = loss.cos(raw)
    m, s = getattr(loss, "margin", 0.0), getattr(loss, "scale", None)
    rows = []
    for k, who in enumerate("AB"):
        j = int(cos[k].argmax())
        c = float(cos[k, j])
        theta = math.degrees(math.acos(max(-1.0, min(1.0, c))))
        head = (f"- **{who}** lies at θ = {theta:.1f}° from the centre $W_{{{j}}}$ of class {j}: "
                f"cos θ = {c:.3f}")
        target = torch.tensor([c])
        if name == "arcface":
            with_margin = float(losses.arcface_target(target, m))
            tail = (f"; training asked for cos(θ + m) = cos({theta:.1f}° + {math.degrees(m):.1f}°) = "
                    f"{with_margin:.3f}")
        elif name == "cosface":
            tail = f"; training asked for cos θ − m = {c - m:.3f}"
        elif name == "sphereface":
            psi = float(losses.sphereface_psi(target, int(m)))
            lam = float(getattr(loss, "lam", 0.0))
            tail = (f"; training asked for ψ(θ) = {psi:.3f}, the monotone form of cos(mθ) = "
                    f"cos({int(m)}·{theta:.1f}°), blended as (λ cos θ + ψ)/(1 + λ) = "
                    f"{(lam * c + psi) / (1 + lam):.3f} with λ = {lam:g}")
        else:
            tail = ""
        rows.append(head + tail + (f", logit s·cos θ = {s * c:.1f}" if s else ""))
    lesson = {"arcface": "The margin adds m to the angle, so a digit must sit m closer to its centre than any "
                         "other class to win: the classes become tight caps on the sphere.",
              "cosface": "The margin subtracts m from the cosine of the true class, so the classes must be "
                         "separated by a gap in cos θ.",
              "sphereface": "The margin multiplies the angle by m, so the true class must be won at an "
                            "m times smaller angle.",
              "nsoftmax": "No margin: only the angles count (both x and W are normalised), scaled by s."}[name]
    return lesson + "\n" + "\n".join(rows)


def _pair_terms(name, model, r):
    """The pair losses' terms for the student's pair."""
    m = getattr(getattr(model, "loss", None), "margin", None)
    d = r["distance"]
    if name == "contrastive" and m is not None:
        return (f"Your pair as a same-digit pair (Y = 1) costs D² = {d * d:.3f}; as a pair of different "
                f"digits (Y = 0) it costs max(α − D, 0)² = {max(m - d, 0) ** 2:.3f}: training pushes "
                f"different digits at least α = {m:g} apart.")
    if name == "triplet" and m is not None:
        return (f"With A as anchor and B as positive, ‖F(A) − F(P)‖² = {d * d:.3f}: a negative N costs "
                f"nothing only once ‖F(A) − F(N)‖² ≥ {d * d + m:.3f} (that, plus α = {m:g}).")
    return None


def _dataset(model):
    """The name of the data set `model` was trained on: the one whose test set it embeds."""
    return D.dataset_of(model).name


def _bank(model):
    """Unit embeddings of the first BANK_DIGITS test images of the model's data set, and their labels."""
    images, labels = testset.first(BANK_DIGITS, _dataset(model))
    return inference.embed(model, images), labels


def _plane(model):
    bank, labels = registry.memo(model, "bank", _bank)
    e, labels = bank[:PLOT_DIGITS], labels[:PLOT_DIGITS]
    mean, components = inference.pca(e)
    points = inference.project(e, mean, components).numpy()
    lim = float(np.percentile(np.abs(points), 99.5)) * 1.1
    frame = Frame(-lim, lim, size=380, pad=26)
    return (scatter(points, labels.numpy(), frame, radius=1.4, names=class_names(_dataset(model))), frame, mean,
            components)


def _sphere(model):
    """The first PLOT_DIGITS test embeddings along their 3 principal axes, put back on the unit
    sphere (the projection keeps the origin, the sphere's centre); their labels; the axes; and the
    share of the variance the axes keep."""
    bank, labels = registry.memo(model, "bank", _bank)
    e = bank[:PLOT_DIGITS]
    mean, axes = inference.pca(e, k=3)
    centred = e - mean
    kept = float((centred @ axes.T).pow(2).sum() / centred.pow(2).sum())
    return _on_sphere(e, axes), labels[:PLOT_DIGITS], axes, kept


def _on_sphere(e, axes):
    return F.normalize(e @ axes.T, dim=1)


def _neighbours(model, e):
    bank, labels = registry.memo(model, "bank", _bank)
    idx, dist = inference.nearest(bank, e, NEIGHBOURS)
    names = class_names(_dataset(model))
    images = testset.first(BANK_DIGITS, _dataset(model))[0][idx]
    return captioned(images, [f"{names[int(labels[i])]} · {d:.2f}" for i, d in zip(idx, dist.tolist())])


def _siamese(slot, session, dataset=D.DEFAULT):
    if slot not in registry.SIAMESE_SLOTS:
        raise ValueError(f"'{slot}' is not a Siamese model; choose one of "
                         f"{', '.join(registry.SIAMESE_SLOTS)}.")
    return registry.get(slot, session, dataset)


def _verdicts(dataset):
    """How the verdict reads: same / different digit(s), or class(es) for other data sets."""
    if dataset == D.DEFAULT:
        return "**same digit**", "**different digits**"
    return "**same class**", "**different classes**"


def compare_one(slot, xa, xb, session=None, dataset=D.DEFAULT):
    """One model's verdict for two 1×1×28×28 images: (label dict, details, neighbours A, B, plane)."""
    model = _siamese(slot, session, dataset)
    r = inference.compare(model, xa, xb)
    verdict = _verdicts(_dataset(model))[0 if r["same"] else 1]
    calibrated = "calibrated on training pairs" if r["calibrated"] else (
        "**uncalibrated**: default threshold 1.0, a = −10, b = 10")
    details = [f"{verdict}: $D$ = {r['distance']:.3f} {'≤' if r['same'] else '>'} threshold "
               f"{r['threshold']:.3f} ({calibrated})",
               f"| cos θ | θ | D = √(2 − 2 cos θ) | p(same) |\n|---|---|---|---|\n"
               f"| {r['cosine']:.3f} | {r['angle']:.1f}° | {r['distance']:.3f} | {r['p_same']:.3f} |",
               formula(model)]
    effect = _pair_terms(model.loss_name, model, r) or _margin_effect(model, r["features"])
    if effect:
        details.append(effect)
    details.append(f"*Why this threshold ({r['threshold']:.3f})?* {SCALES}")
    details = "\n\n".join(details)
    label = {"same": r["p_same"], "different": 1 - r["p_same"]}
    try:
        e = r["embeddings"]
        plot, frame, mean, components = registry.memo(model, "plane", _plane)
        marked = mark(plot, frame, inference.project(e, mean, components).tolist(), ["A", "B"])
        return label, details, _neighbours(model, e[0]), _neighbours(model, e[1]), np.asarray(marked)
    except testset.TestSetMissing as exc:
        return label, details + f"\n\n**Note:** {exc}", None, None, None


@friendly
def compare(image_a, image_b, model_left=DEFAULTS[0], model_right=DEFAULTS[1], dataset=D.DEFAULT,
            request: gr.Request = None):
    """Two images of `dataset`, two Siamese models → for each model: (p same/different, details,
    nearest test images of A, of B, PCA plane of test embeddings with A and B marked). A column
    whose model is missing says how to train it; both missing is an error."""
    dataset = as_dataset(dataset)
    xa = as_digit(image_a, dataset)
    if image_b is None:
        raise ValueError(f"There is no {D.get(dataset).noun} B yet: {how_to_give(dataset)}.")
    xb = as_digit(image_b, dataset)
    session, columns, missing = registry.session_of(request), [], []
    for slot in (model_left, model_right):
        try:
            columns += compare_one(slot, xa, xb, session, dataset)
        except registry.ModelMissing as exc:
            missing.append(exc)
            columns += (None, f"**Missing:** {exc}", None, None, None)
    if len(missing) == 2:
        raise missing[0]
    return tuple(columns)


@friendly
def compare_when_ready(image_a, image_b, model_left, model_right, dataset=D.DEFAULT, request: gr.Request = None):
    """As `compare`, but while one of the two images is still missing shows each model's formula
    and waits."""
    if image_a is None or image_b is None:
        session, dataset = registry.session_of(request), as_dataset(dataset)
        return tuple(x for slot in (model_left, model_right)
                     for x in (None, _waiting(slot, session, dataset), None, None, None))
    return compare(image_a, image_b, model_left, model_right, dataset, request)


def _waiting(slot, session, dataset=D.DEFAULT):
    """What a model's column says before both images are there: the formula of its loss."""
    waiting = f"Give both {D.get(dataset).noun}s A and B to compare them."
    try:
        return f"{waiting}\n\n{formula(_siamese(slot, session, dataset))}"
    except registry.ModelMissing as exc:
        return f"{waiting}\n\n**Missing:** {exc}"


# --- the sphere -------------------------------------------------------------------------------

def _digits(digits, dataset=D.DEFAULT):
    """The ticked classes (names such as "7" or "Trouser", or numbers) → a set of labels 0–9."""
    names, chosen = class_names(dataset), set()
    for d in digits or ():
        text = str(d).strip()
        if text in names:
            chosen.add(names.index(text))
        elif text in DIGITS:
            chosen.add(int(text))
        elif dataset == D.DEFAULT:
            raise ValueError(f"Digits to show are 0–9, not '{d}'.")
        else:
            raise ValueError(f"Classes to show are {', '.join(names)}, not '{d}'.")
    return chosen


def _marks(model, axes, image_a, image_b, dataset=D.DEFAULT):
    marks = [(name, image) for name, image in (("A", image_a), ("B", image_b)) if image is not None]
    if not marks:
        return []
    e = inference.embed(model, torch.cat([as_digit(image, dataset) for _, image in marks]))
    return [(name, xyz) for (name, _), xyz in zip(marks, _on_sphere(e, axes).tolist())]


def neighbours_of(model, index):
    """The NEIGHBOURS test images on the sphere nearest to test image `index` (of the model's data
    set) in the full embedding space: (the index as a number, its label, their test-set indices,
    gallery items captioned "#index · class · D")."""
    dataset = _dataset(model)
    x, label, index = testset.digit(index, dataset)
    bank, labels = registry.memo(model, "bank", _bank)
    e = bank[index] if index < len(bank) else inference.embed(model, x)[0]
    idx, dist = inference.nearest(bank[:PLOT_DIGITS], e, NEIGHBOURS)
    if index < PLOT_DIGITS:         # the image itself, exactly at 0 (rounding leaves ~1e-4)
        dist = torch.where(idx == index, torch.zeros_like(dist), dist)
    names = class_names(dataset)
    images = testset.first(PLOT_DIGITS, dataset)[0][idx]
    items = captioned(images, [f"#{int(i)} · {names[int(labels[i])]} · D = {d:.3f}"
                               for i, d in zip(idx, dist.tolist())])
    return index, label, idx.tolist(), items


def _explore(slot, digits, image_a, image_b, index, dataset, request):
    dataset = as_dataset(dataset)
    model = _siamese(slot, registry.session_of(request), dataset)
    points, labels, axes, kept = registry.memo(model, "sphere", _sphere)
    chosen = _digits(digits, dataset)
    keep = torch.isin(labels, torch.tensor(sorted(chosen), dtype=labels.dtype))
    shown = torch.nonzero(keep).flatten()
    index, label, ring, items = neighbours_of(model, index)
    ds, names = D.get(dataset), class_names(dataset)
    value = sphere.view(points[shown], labels[shown], shown, _marks(model, axes, image_a, image_b, dataset),
                        ring, index, PLOT_DIGITS, names=names, dataset=dataset)
    note = (f"**{len(shown)}** of the first {PLOT_DIGITS} test {ds.noun}s, embedded by **{slot}** and "
            f"seen along their three principal axes, which keep **{kept:.0%}** of the variance; each "
            "point is pushed back onto the unit sphere. " + in_words(PROJECTION, dataset))
    if not chosen:
        note = f"Tick at least one {class_word(dataset)} to show it on the sphere.\n\n" + note
    others = [i for i in ring if i != index]
    same = sum(int(labels[i]) == label for i in others)
    a = "an" if names[label][0].lower() in "aeiou8" else "a"
    caption = (f"Nearest neighbours of test {ds.noun} **#{index}** ({a} {names[label]}) among the {ds.noun}s on "
               f"the sphere, by the distance D of the full {axes.shape[1]}-D "
               f"embeddings, ringed on the sphere: {same} of the {len(others)} others show {a} {names[label]} too.")
    return index, value, f"{note}\n\n{caption}", items


@friendly
def explore(slot, digits, image_a, image_b, index, dataset=D.DEFAULT, request: gr.Request = None):
    """The sphere of `slot`'s test embeddings: (viewer value with the ticked classes, A and B marked
    and the neighbours of test image `index` ringed; a note on the view; the neighbours as a
    gallery)."""
    return _explore(slot, digits, image_a, image_b, index, dataset, request)[1:]


def explore_around(slot, digits, image_a, image_b, index, dataset=D.DEFAULT, request: gr.Request = None):
    """`explore` for every event but the index box's own Enter (the tab opening, a new model, digits
    ticked, A or B drawn): an index still typed wrong keeps the sphere and the neighbours as they are
    and says so in the note, without an error; the Enter in the box gives that error, once."""
    try:
        testset.digit(index, as_dataset(dataset))
    except ValueError as exc:
        return gr.skip(), f"{exc} The sphere waits for it: press Enter in the box once it is right.", gr.skip()
    except testset.TestSetMissing:
        pass                                    # explore says that, as an error
    return explore(slot, digits, image_a, image_b, index, dataset, request)


@friendly
def pick(slot, digits, image_a, image_b, evt: gr.EventData, dataset=D.DEFAULT, request: gr.Request = None):
    """A click on the sphere: the clicked test image becomes the one whose neighbours are shown."""
    index = (getattr(evt, "_data", None) or {}).get("index")
    if index is None:
        raise ValueError("Click on a point of the sphere to see its nearest neighbours.")
    return _explore(slot, digits, image_a, image_b, index, dataset, request)


@friendly
def pick_neighbour(slot, digits, image_a, image_b, index, evt: gr.SelectData, dataset=D.DEFAULT,
                   request: gr.Request = None):
    """A click on a neighbour: it becomes the image whose neighbours are shown."""
    model = _siamese(slot, registry.session_of(request), as_dataset(dataset))
    chosen = neighbours_of(model, index)[2][evt.index]
    return _explore(slot, digits, image_a, image_b, chosen, dataset, request)


def prepare(model_left, model_right, dataset=D.DEFAULT, request: gr.Request = None):
    """When the tab opens: embed the test images for the chosen models (cached) while the user
    draws; returns a note on anything missing."""
    session, slots, dataset = registry.session_of(request), (model_left, model_right), as_dataset(dataset)
    message = notice(slots, needs_testset=True, session=session, dataset=dataset)
    for slot in slots:
        try:
            registry.cached(slot, "plane", _plane, session, dataset)
            registry.cached(slot, "sphere", _sphere, session, dataset)
        except (registry.ModelMissing, testset.TestSetMissing):
            pass
    return message


def warm(dataset=D.DEFAULT):
    """Embed the test images for the default models, draw the sphere and run a comparison once;
    then load the other Siamese models (the choosers offer them)."""
    prepare(*DEFAULTS, dataset)
    sphere.sprite_sheet(PLOT_DIGITS, dataset)
    explore(DEFAULTS[0], class_names(dataset), None, None, 0, dataset)
    compare(preload.sample_digit(), preload.sample_digit(), *DEFAULTS, dataset)
    for slot in registry.SIAMESE_SLOTS:
        registry.available(slot, None, dataset)


def titles(dataset=D.DEFAULT):
    """The words of this tab's galleries and pickers for `dataset`."""
    ds = D.get(as_dataset(dataset))
    what = class_word(ds.name)
    return {"near_a": f"Nearest test {ds.noun}s to A ({what} · distance D)",
            "near_b": f"Nearest test {ds.noun}s to B ({what} · distance D)",
            "shown": f"{class_word(ds.name, plural=True).capitalize()} shown",
            "index": f"Nearest neighbours of test {ds.noun} # (0–9999)",
            "near": f"Nearest neighbours (test {ds.noun} # · {what} · distance D; click one to move there)"}


def switched(dataset, model_left, model_right, request: gr.Request = None):
    """This tab for a newly chosen data set: its words, the classes on the sphere, and a notice
    (the embeddings are computed when the tab opens, `prepare`)."""
    dataset = as_dataset(dataset)
    t, names = titles(dataset), class_names(dataset)
    return (gr.update(label=t["near_a"]), gr.update(label=t["near_b"]), gr.update(label=t["near_a"]),
            gr.update(label=t["near_b"]), gr.update(label=t["shown"], choices=names, value=names),
            gr.update(label=t["index"]), gr.update(label=t["near"]),
            notice((model_left, model_right), needs_testset=True, session=registry.session_of(request),
                   dataset=dataset))


def build(tab, dataset=None):
    """`dataset`: the app's data-set switch, which every callback here follows."""
    words = Words(tab, dataset)
    words.intro(INTRO)
    status = notice_box()
    extra = [dataset] if dataset is not None else []
    t = titles()
    opens = opening(tab)          # first, so that everything this tab does on opening goes out at once
    with gr.Row(equal_height=False):
        with gr.Column(min_width=280):
            a = DigitInput("compare_a", label="Digit A", pad_label="Draw digit A", dataset=dataset, start=0, tab=tab)
        with gr.Column(min_width=280):
            b = DigitInput("compare_b", label="Digit B", pad_label="Draw digit B", dataset=dataset, start=1, tab=tab)
    go = gr.Button("Compare", variant="primary")
    outputs, choosers, galleries = [], [], []
    with gr.Row(equal_height=False):
        for default in DEFAULTS:
            with gr.Column(min_width=320):
                chooser = gr.Dropdown(registry.SIAMESE_SLOTS, value=default, label="Siamese model")
                verdict = gr.Label(label="Verdict", num_top_classes=2)
                details = gr.Markdown(latex_delimiters=LATEX)
                near_a = digit_grid(t["near_a"], columns=NEIGHBOURS)     # inline: no 32 files per answer
                near_b = digit_grid(t["near_b"], columns=NEIGHBOURS)
                plane = image_box(label="Test embeddings (2-D PCA), A and B marked", format="png", inline=True,
                                 interactive=False, height=430, elem_classes=["plot"])
                words.note(PROJECTION)
                choosers.append(chooser)
                galleries += [near_a, near_b]
                outputs += [verdict, details, near_a, near_b, plane]
    inputs = [a.digit, b.digit, *choosers, *extra]
    go.click(compare, inputs, outputs, api_name="compare", **KEEP)
    for source in (a, b):
        source.then(compare_when_ready, inputs, outputs, **KEEP)
    for chooser in choosers:
        chooser.input(compare_when_ready, inputs, outputs, api_visibility="private", **KEEP)

    gr.Markdown("### The embeddings as they are: on the unit sphere\n"
                "Every embedding has length 1, so the test images lie on a sphere (in 64 dimensions). "
                "Turn it, zoom in, hover a point for its class, click one for its nearest neighbours; "
                "**A** and **B** are your images.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            view = sphere.viewer(PLOT_DIGITS)
        with gr.Column(scale=2, min_width=260):
            sphere_model = gr.Dropdown(registry.SIAMESE_SLOTS, value=DEFAULTS[0], label="Model on the sphere")
            digits = gr.CheckboxGroup(DIGITS, value=DIGITS, label=t["shown"])
            # no minimum or maximum: Gradio would refuse every event that reads the box, each with its own
            # error; the tab's callbacks check it (explore says what is wrong, explore_around waits)
            index = gr.Number(label=t["index"], value=0, precision=0)
            note = gr.Markdown(latex_delimiters=LATEX)
    near = digit_gallery(t["near"], columns=NEIGHBOURS, height="auto", elem_classes=["neighbours"])
    sphere_in, sphere_out = [sphere_model, digits, a.digit, b.digit], [view, note, near]
    explore_inputs = [*sphere_in, index, *extra]
    index.submit(explore, explore_inputs, sphere_out, api_name="explore_sphere", **KEEP)
    for trigger in (sphere_model.input, digits.input):
        trigger(explore_around, explore_inputs, sphere_out, api_visibility="private", **KEEP)
    for source in (a, b):
        source.then(explore_around, explore_inputs, sphere_out, after_clear=True, **KEEP)
    view.pick(pick, [*sphere_in, *extra], [index, *sphere_out], api_visibility="private", **KEEP)
    near.select(pick_neighbour, explore_inputs, [index, *sphere_out], api_visibility="private", **KEEP)
    if dataset is not None:
        words.follow(switched, [*galleries, digits, index, near, status], inputs=choosers)
    opened = opens.then(prepare, [*choosers, *extra], status, api_visibility="private")
    opened.then(compare_when_ready, inputs, outputs, api_visibility="private", **KEEP)
    opened.then(explore_around, explore_inputs, sphere_out, api_visibility="private", **KEEP)
    preload.register("compare", warm, each_dataset=True, heavy=True)
    return a, b
