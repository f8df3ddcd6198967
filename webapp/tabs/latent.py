"""Latent space tab: sliders over the VAE's code, the 2-D VAE's manifold and latent scatter,
and interpolation in pixel space against latent space."""
import math

import gradio as gr
import numpy as np
import torch

from deepgen import data, inference, losses
from deepgen.images import grid

from .. import latent_plots, preload, registry, testset
from ..components import (
    KEEP, LATEX, action, as_digit, as_seed, digit_gallery, digit_output, friendly, image_box, notice,
    notice_box, opening, picture, slider_value)
from ..components import Words, in_words
from ..pictures import Frame, mark, png_data_url, scatter

N_SLIDERS, RANGE = 32, 3.0
SCATTER_DIGITS = 5000
GRID_ROWS = 15
GRID_NAME = f"{GRID_ROWS}x{GRID_ROWS} grid"     # drawn into the scatter: PIL's default font has no "×"
KL_DIGITS = 5000            # test digits each dimension's KL is averaged over
ELBO_SAMPLES = 8            # codes H ∼ Q(H|X) the reconstruction term is averaged over
# Fit Q to this digit: gradient steps and their size, the codes each −ELBO averages, importance samples of −log P(X)
FIT_STEPS, FIT_LR, FIT_SAMPLES, FIT_K = 30, 0.05, 32, 128
INTRO = r"""
### Walk the VAE's latent space
The VAE models $P(X) = \int_H P(X|h)\,P(h)\,dh$ with the prior $P(H) = N(0, I)$ and learns
$Q(H|X) = N(\mu(X), \Sigma(X))$ by maximising the evidence lower bound
$$\begin{aligned}\log P(X) - KL[Q(H|X)\,\|\,P(H|X)] &= E_{H \sim Q}[\log P(X|H)] \\ &\quad - KL[Q(H|X)\,\|\,N(0, I)]\end{aligned}$$
$$\begin{aligned}KL[Q(H|X)\,\|\,N(0, I)] &= \tfrac12\big(\mathrm{tr}\,\Sigma(X) + \mu(X)^T\mu(X) \\ &\quad - k - \log\det\Sigma(X)\big)\end{aligned}$$
Because the KL term pulls every code towards $N(0, I)$, any point near the origin decodes to a
plausible «digit». Move a slider (one per dimension $h_i$ of the 32-D code) and the decoder $f(h)$ redraws.
"""
POSTERIOR_INTRO = r"""
#### Your «digit» as a distribution, and what each dimension costs
Press **Drawn digit** (or **Use test digit**): the encoder gives $Q(H|X) = N(\mu(X), \mathrm{diag}\,\sigma^2(X))$,
a cloud of codes, not one point. The chart shows $\mu_i$ with the band $\mu_i \pm \sigma_i$ for each dimension,
and each dimension's $KL_i = \tfrac12(\mu_i^2 + \sigma_i^2 - 1 - \log\sigma_i^2)$, which sum to the KL term.
The sliders are sorted by $KL_i$ averaged over test «digits». Those marked **off** ($KL_i < 0.01$ nats) are
inactive: $Q(h_i|X) \approx N(0, 1)$ whatever the «digit», so the decoder ignores them and their sliders change
nothing. Every nat of KL is paid in the ELBO, so a dimension that does not improve the reconstruction by
more than it costs is cheaper switched off (*posterior collapse*).
"""
GRID_INTRO = r"""
#### The 2-D VAE: the whole manifold in one picture
With a 2-D code, $h = (h_1, h_2)$ can be laid out on a plane. Left: $f(h)$ on a 15×15 grid over the
Gaussian's quantiles $h_i = \Phi^{-1}(p)$, $p \in [0.05, 0.95]$: the dashed square on the right. Right: the
means $\mu(X)$ of test «digits», coloured by «class». **Move the pointer over the scatter** and $f(h)$ is decoded as
it moves; click (or type coordinates) to keep a point. Your «digit»'s $Q(H|X)$ appears as an ellipse, the
interpolation below as a path from A to B.
This VAE's $P(X|H)$ draws the «digit» row by row, $P(X|H) = \prod_r P(x_r \mid H, x_{r-1})$: each
pixel depends on $h$ and on the three pixels just above it, so the two numbers need to hold only
the «digit»'s shape, not every pixel of its strokes. $f(h)$ feeds each row's means to the row below.
"""
INTERP_INTRO = r"""
#### Interpolation: pixel space against latent space
Click a test «digit» below to make it end A, then one for end B.
Pixel space blends the pictures, $(1-t)\,x_0 + t\,x_1$, and passes through images that are no «digit»;
latent space decodes $f((1-t)\,\mu(x_0) + t\,\mu(x_1))$ and stays on the manifold of «digits».
"""


def _check(values, order):
    code = [slider_value(v, f"h{order[i] + 1}" if i < len(order) else f"slider {i + 1}", RANGE)
            for i, v in enumerate(values)]
    if len(code) > N_SLIDERS:
        raise ValueError(f"at most {N_SLIDERS} latent values, not {len(code)}")
    return code


def _order(model, order):
    """The dimension each slider moves: `order` as the page holds it (set with the sliders'
    labels), or h₁, h₂, … where it holds none or one made for another model."""
    if order is None or len(order) != min(N_SLIDERS, model.latent_dim) or \
            not all(isinstance(d, int) and 0 <= d < model.latent_dim for d in order):
        return list(range(min(N_SLIDERS, model.latent_dim)))
    return list(order)


def _code(model, values, order):
    """Slider values (in slider order) → the code h, zero in the dimensions no slider moves."""
    h = torch.zeros(model.latent_dim)
    for d, v in zip(order, values):
        h[d] = v
    return h


@friendly
def decode_latent(*values, session=None, order=None, dataset=data.DEFAULT):
    """Slider values → the VAE's decoded digit f(h). Slider j moves dimension order[j] (default
    h₁, h₂, …); sliders past the VAE's size are ignored."""
    model = registry.get("vae", session, dataset)
    order = _order(model, order)
    return picture(inference.decode(model, _code(model, _check(values, order), order)))


def _sliders_for(model, h, order=None):
    """A code → (the sliders' values in slider order, clipped to ±3, then its decoding)."""
    order = _order(model, order)
    h = h.flatten()
    values = [round(float(h[d].clamp(-RANGE, RANGE)), 2) for d in order]
    values += [0.0] * (N_SLIDERS - len(values))
    return (*values, picture(inference.decode(model, _code(model, values, order))))


@friendly
def code_from_digit(image, order=None, request: gr.Request = None, dataset=data.DEFAULT):
    """A digit → its VAE code μ(x) on the sliders (clipped to ±3) and its decoding."""
    model = registry.get("vae", registry.session_of(request), dataset)
    return _sliders_for(model, inference.latent_mean(model, as_digit(image, dataset))[0], order)


@friendly
def code_from_test(index, order=None, request: gr.Request = None, dataset=data.DEFAULT):
    model = registry.get("vae", registry.session_of(request), dataset)
    x, _, _ = testset.digit(index, dataset)
    return _sliders_for(model, inference.latent_mean(model, x)[0], order)


@friendly
def code_random(seed=None, order=None, request: gr.Request = None, dataset=data.DEFAULT):
    """A sample of the prior N(0, I) on the sliders."""
    model = registry.get("vae", registry.session_of(request), dataset)
    seed = as_seed(seed, default=int(np.random.randint(0, 2**31 - 1)))
    return _sliders_for(model, inference.seed_noise(model, seed)[0], order)


@friendly
def code_zero(order=None, request: gr.Request = None, dataset=data.DEFAULT):
    model = registry.get("vae", registry.session_of(request), dataset)
    return _sliders_for(model, torch.zeros(model.latent_dim), order)


# --- the digit's posterior, the KL of each dimension, the ELBO's two terms --------------------

def _mean_kl(model, dataset=data.DEFAULT):
    """Each dimension's KL averaged over the first KL_DIGITS test digits (cached per model), or
    None without the test set."""
    try:
        return registry.memo(model, ("mean_kl", dataset), lambda m: inference.mean_kl_per_dimension(
            m, testset.first(KL_DIGITS, dataset)[0]))
    except testset.TestSetMissing:
        return None


def dimension_order(model, dataset=data.DEFAULT):
    """(the dimensions the sliders move, most informative first; their mean KL or None): sorted by
    mean KL over test digits, the first N_SLIDERS of them (h₁, h₂, … without the test set)."""
    kl = _mean_kl(model, dataset)
    dims = range(model.latent_dim)
    order = sorted(dims, key=lambda d: -float(kl[d])) if kl is not None else list(dims)
    return order[:N_SLIDERS], kl


def slider_label(d, kl):
    """h7, or "h7 off" for an inactive dimension (its mean KL below 0.01 nats); the chart below
    the sliders gives each KL."""
    off = kl is not None and latent_plots.inactive([float(kl[d])])[0]
    return f"h{d + 1} off" if off else f"h{d + 1}"


@friendly
def sort_sliders(order, *values, request: gr.Request = None, dataset=data.DEFAULT):
    """When the tab opens: the sliders sorted by each dimension's mean KL and labelled with it
    (inactive ones "off"), keeping the code they showed → (order, *slider updates, f(h), chart).
    From the page the data set comes after the sliders' values."""
    if len(values) > N_SLIDERS:
        *values, dataset = values
    model = registry.get("vae", registry.session_of(request), dataset)
    old = _order(model, order)
    h = _code(model, [float(v) for v in values[:len(old)]], old)
    new, kl = dimension_order(model, dataset)
    *shown, decoded = _sliders_for(model, h, new)
    updates = [gr.update(value=v, label=slider_label(d, kl), interactive=True) for v, d in zip(shown, new)]
    updates += [gr.update(value=0.0, label="unused", interactive=False) for _ in range(N_SLIDERS - len(new))]
    chart = latent_plots.posterior_chart(new, kl) if kl is not None else ""
    return (new, *updates, decoded, chart)


def _describe(x, seed, session, order=None, marks=None, dataset=data.DEFAULT):
    """A digit x (1×1×28×28) under the 32-D VAE: (chart of μ ± σ and KLᵢ, x, a sample f(μ + σ·ε),
    the reconstruction error's heat map, the ELBO's terms as text), then under the 2-D VAE
    (see `_describe_2d`)."""
    model = registry.get("vae", session, dataset)
    mu, sigma = (v[0] for v in inference.posterior(model, x))
    logvar = 2 * sigma.log()
    kl_digit = losses.kl_per_dimension(mu, logvar)
    kl_mean = _mean_kl(model, dataset)
    order = _order(model, order) if order is not None else dimension_order(model, dataset)[0]
    chart = latent_plots.posterior_chart(order, kl_mean, mu, sigma, kl_digit)
    sample = inference.decode(model, inference.posterior_sample(model, x, seed))
    error = inference.reconstruction_error(model, x)[0, 0]
    terms = {k: v[0] for k, v in inference.elbo_terms(model, x, ELBO_SAMPLES).items()}
    kl_parts = (float(sigma.pow(2).sum()), float(mu.pow(2).sum()), model.latent_dim, float(logvar.sum()))
    text = latent_plots.elbo_text(terms, kl_parts, ELBO_SAMPLES, float(error.sum()))
    return (chart, picture(x), picture(sample), latent_plots.heat_map(error.numpy()), text,
            *_describe_2d(x, session, marks, dataset))


@friendly
def describe_digit(image, seed=0, order=None, marks=None, request: gr.Request = None, dataset=data.DEFAULT):
    """The drawn digit's posterior, a sample of it, its reconstruction error and ELBO terms
    (see `_describe`)."""
    return _describe(as_digit(image, dataset), as_seed(seed), registry.session_of(request), order, marks, dataset)


@friendly
def describe_test(index, seed=0, order=None, marks=None, request: gr.Request = None, dataset=data.DEFAULT):
    """`describe_digit` for test digit `index`."""
    x, _, _ = testset.digit(index, dataset)
    return _describe(x, as_seed(seed), registry.session_of(request), order, marks, dataset)


@friendly
def another_sample(image, seed=0, request: gr.Request = None, dataset=data.DEFAULT):
    """A new ε for the digit shown: (f(μ + σ·ε) with the next seed, that seed)."""
    if image is None:
        raise ValueError("Press “Drawn digit” or “Use test digit” first.")
    seed = as_seed(seed) + 1
    model = registry.get("vae", registry.session_of(request), dataset)
    return picture(inference.decode(model, inference.posterior_sample(model, as_digit(image, dataset), seed))), seed


@friendly
def fit_posterior(image, request: gr.Request = None, dataset=data.DEFAULT):
    """The digit shown, its −ELBO with the encoder's Q(H|X), with Q fitted to it alone, and
    −log P(X) (Markdown, see `latent_plots.gap_text`)."""
    if image is None:
        raise ValueError("Press “Drawn digit” or “Use test digit” first.")
    model = registry.get("vae", registry.session_of(request), dataset)
    gap = {k: v[0] for k, v in inference.posterior_gap(model, as_digit(image, dataset), FIT_STEPS, FIT_LR,
                                                        samples=FIT_SAMPLES, k=FIT_K).items()}
    text = latent_plots.gap_text(gap, FIT_STEPS, FIT_SAMPLES, FIT_K, getattr(model, "metrics", None))
    return in_words(text, dataset)


def cleared():
    return ""


def forget_digit():
    """The digit shown and what was said of it, emptied: after a switch of data set they belong
    to the other set."""
    return None, None, None, "", "", ""


@friendly
def manifold(n=GRID_ROWS, session=None, dataset=data.DEFAULT):
    """The 2-D VAE's decoded grid over the Gaussian's quantiles (n×n digits, one picture)."""
    n = int(n)
    if not 2 <= n <= 30:
        raise ValueError("The manifold grid has 2 to 30 rows.")
    return registry.cached("vae2d", ("manifold", n),
                           lambda m: grid(inference.latent_grid(m, n), nrow=n, padding=1), session, dataset)


def _scatter(model):
    """The model's test images' latent means, coloured and named by class (its own data set's)."""
    dataset = data.dataset_of(model).name
    images, labels = testset.first(SCATTER_DIGITS, dataset)
    mu = inference.encode_means(model, images).numpy()
    lim = max(3.0, float(np.percentile(np.abs(mu), 99.5)))
    frame = Frame(-lim, lim, size=440, pad=30)
    img = scatter(mu, labels.numpy(), frame, names=data.class_names(dataset))
    q = float(inference.gaussian_quantiles(2)[1])
    return latent_plots.region(img, frame, -q, q, GRID_NAME), frame


@friendly
def latent_scatter(session=None, dataset=data.DEFAULT):
    """The test digits' latent means under the 2-D VAE, coloured by digit (RGB picture)."""
    img, _ = registry.cached("vae2d", "scatter", _scatter, session, dataset)
    return np.asarray(img)


def _plane(model, marks=None):
    """(the scatter with what `marks` holds drawn on it: the digit's posterior ellipse {"mu",
    "sigma"}, the interpolation path {"path": [A, B], "steps"}; its frame)."""
    img, frame = registry.memo(model, "scatter", _scatter)
    marks = marks if isinstance(marks, dict) else {}
    if marks.get("path"):
        img = latent_plots.path(img, frame, *marks["path"], marks.get("steps", 2))
    if marks.get("mu"):
        img = latent_plots.ellipse(img, frame, marks["mu"], marks["sigma"])
    return img, frame


def _rounded(values):
    return [round(float(v), 4) for v in values]


def _describe_2d(x, session, marks=None, dataset=data.DEFAULT):
    """A digit under the 2-D VAE → (scatter with its ellipse μ ± 2σ, the marks with its posterior
    added, a line of text); all left as they are where there is no 2-D VAE."""
    try:
        model = registry.get("vae2d", session, dataset)
    except registry.ModelMissing:
        return gr.update(), marks, ""
    mu, sigma = (v[0] for v in inference.posterior(model, x))
    terms = {k: float(v[0]) for k, v in inference.elbo_terms(model, x, ELBO_SAMPLES).items()}
    posterior = {**(marks if isinstance(marks, dict) else {}), "mu": _rounded(mu), "sigma": _rounded(sigma)}
    img, _ = _plane(model, posterior)
    m1, m2, s1, s2 = (latent_plots.number(v, 3 if i > 1 else 2) for i, v in enumerate([*mu, *sigma]))
    text = (f"**Your digit in the 2-D VAE:** μ = ({m1}, {m2}), σ = ({s1}, {s2}); the thick ellipse is "
            f"μ ± 2σ, the thin one μ ± σ. −ELBO = reconstruction + KL = {terms['reconstruction']:.1f} + "
            f"{terms['kl']:.1f} = {terms['negative_elbo']:.1f} nats.")
    return np.asarray(img), posterior, text


@friendly
def decode_point(z1, z2, marks=None, request: gr.Request = None, dataset=data.DEFAULT):
    """A point (h₁, h₂) of the 2-D latent plane → (decoded digit, scatter with the point marked,
    and the digit's posterior ellipse if one is shown)."""
    try:
        z1, z2 = float(z1), float(z2)
    except (TypeError, ValueError):
        raise ValueError("Both coordinates must be numbers.") from None
    if not (math.isfinite(z1) and math.isfinite(z2)) or max(abs(z1), abs(z2)) > 10:
        raise ValueError("Coordinates must lie in [−10, 10].")
    model = registry.get("vae2d", registry.session_of(request), dataset)
    img, frame = _plane(model, marks)
    digit = picture(inference.decode(model, torch.tensor([z1, z2])))
    return digit, np.asarray(mark(img, frame, [(z1, z2)], [f"({z1:.2f}, {z2:.2f})"]))


@friendly
def decode_click(evt: gr.SelectData, marks=None, request: gr.Request = None, dataset=data.DEFAULT):
    """A click on the scatter picture → (decoded digit, marked scatter, h₁, h₂)."""
    _, frame = registry.cached("vae2d", "scatter", _scatter, registry.session_of(request), dataset)
    z1, z2 = frame.to_data(*evt.index[:2])
    z1, z2 = round(z1, 2), round(z2, 2)
    return (*decode_point(z1, z2, marks, request=request, dataset=dataset), z1, z2)


def hover_decode(code, request: gr.Request = None):
    """The page's hover probe asks this (a server function, outside the queue) as the pointer
    moves over the scatter: [h₁, h₂] → the 2-D VAE's f(h) as a PNG data URL; None for anything
    that is not a point of the plane or without a 2-D VAE. The probe sends the data set after
    the point ([h₁, h₂, dataset])."""
    try:
        z1, z2, *rest = code
        z1, z2 = float(z1), float(z2)
        dataset = registry.dataset_name(rest[0] if rest else None)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(z1) and math.isfinite(z2)) or max(abs(z1), abs(z2)) > 10:
        return None
    try:
        model = registry.get("vae2d", registry.session_of(request), dataset)
    except registry.ModelMissing:
        return None
    return png_data_url(picture(inference.decode(model, torch.tensor([z1, z2]))))


def plane_frame(request: gr.Request = None, dataset=data.DEFAULT):
    """The hover probe's value: how the scatter picture's pixels map to codes (None without a
    2-D VAE or the test set)."""
    try:
        _, frame = registry.cached("vae2d", "scatter", _scatter, registry.session_of(request), dataset)
    except (registry.ModelMissing, testset.TestSetMissing):
        return None
    return {**latent_plots.frame_value(frame), "dataset": registry.dataset_name(dataset)}


@friendly
def interpolate(index_a, index_b, steps=8, request: gr.Request = None, dataset=data.DEFAULT):
    """Two test digits → (pixel-space blend, VAE latent-space walk), each a row of `steps` digits."""
    steps = int(steps)
    if not 3 <= steps <= 16:
        raise ValueError("Use 3 to 16 interpolation steps.")
    xa, xb = testset.digit(index_a, dataset)[0], testset.digit(index_b, dataset)[0]
    model = registry.get("vae", registry.session_of(request), dataset)
    return (grid(inference.interpolate_pixels(xa, xb, steps), nrow=steps),
            grid(inference.interpolate_latent(model, xa, xb, steps), nrow=steps))


THUMBS_PER_CLASS = 3


def thumbnail_indices(dataset=data.DEFAULT):
    """Test-set indices of the first THUMBS_PER_CLASS images of each class, class 0's first."""
    _, labels = testset.tensors(dataset)
    return [i for c in range(10) for i in torch.nonzero(labels == c).flatten()[:THUMBS_PER_CLASS].tolist()]


@friendly
def thumbnails(dataset=data.DEFAULT):
    """The test digits to pick interpolation ends from: [(28×28 picture, "class · #index")]."""
    images, labels = testset.tensors(dataset)
    names = data.class_names(dataset)
    return [(picture(images[i]), f"{names[int(labels[i])]} · #{i}") for i in thumbnail_indices(dataset)]


def _walk_2d(xa, xb, steps, marks, session, dataset=data.DEFAULT):
    """The same walk in the 2-D VAE → (its row of digits, the scatter with the path from A to B,
    the marks with the path added); nothing changed where there is no 2-D VAE."""
    try:
        model = registry.get("vae2d", session, dataset)
    except registry.ModelMissing:
        return None, gr.update(), marks
    a, b = inference.latent_mean(model, torch.cat([xa, xb]))
    marks = {**(marks if isinstance(marks, dict) else {}), "path": [_rounded(a), _rounded(b)], "steps": steps}
    row = grid(inference.interpolate_latent(model, xa, xb, steps), nrow=steps)
    return row, np.asarray(_plane(model, marks)[0]), marks


@friendly
def ends_and_walk(index_a, index_b, steps=8, marks=None, request: gr.Request = None, dataset=data.DEFAULT):
    """What goes with `interpolate`: (A, B, the 2-D VAE's walk, the scatter with its path, marks)."""
    (xa, _, _), (xb, _, _) = testset.digit(index_a, dataset), testset.digit(index_b, dataset)
    return (picture(xa), picture(xb), *_walk_2d(xa, xb, int(steps), marks, registry.session_of(request), dataset))


@friendly
def interpolate_ends(index_a, index_b, steps=8, marks=None, request: gr.Request = None, dataset=data.DEFAULT):
    """`interpolate` and `ends_and_walk`: (A, B, pixel row, latent row, 2-D row, scatter with the
    path, marks)."""
    pixel_row, latent_row = interpolate(index_a, index_b, steps, request, dataset)
    end_a, end_b, *walk = ends_and_walk(index_a, index_b, steps, marks, request, dataset)
    return (end_a, end_b, pixel_row, latent_row, *walk)


@friendly
def pick_end(evt: gr.SelectData, which, index_a, index_b, steps=8, marks=None, request: gr.Request = None,
             dataset=data.DEFAULT):
    """A click on thumbnail evt.index sets end `which` ("A" or "B") → (A's index, B's index, the
    end the next click sets, then `interpolate_ends`)."""
    indices = thumbnail_indices(dataset)
    if not isinstance(evt.index, int) or not 0 <= evt.index < len(indices):
        raise ValueError("Click one of the thumbnails.")
    picked = indices[evt.index]
    a, b = (picked, index_b) if which != "B" else (index_a, picked)
    return (a, b, "B" if which != "B" else "A", *interpolate_ends(a, b, steps, marks, request, dataset))


def on_open(marks=None, request: gr.Request = None, dataset=data.DEFAULT):
    """When the tab opens: (manifold, scatter with `marks` drawn, f(0), notice); what is missing
    is named, not raised."""
    session, pictures = registry.session_of(request), []
    for fn in (lambda: manifold(session=session, dataset=dataset), lambda: _marked_scatter(marks, session, dataset)):
        try:
            pictures.append(fn())
        except gr.Error:
            pictures.append(None)
    try:
        start = decode_latent(*([0.0] * N_SLIDERS), session=session, dataset=dataset)
    except gr.Error:
        start = None
    return (*pictures, start, notice(["vae", "vae2d"], needs_testset=True, session=session,
                                     dataset=registry.dataset_name(dataset)))


def switched(request: gr.Request, dataset):
    """`on_open` for a newly chosen data set, the scatter's marks (the old set's) dropped."""
    return (*on_open(None, request, dataset), None)


@friendly
def _marked_scatter(marks, session, dataset=data.DEFAULT):
    return np.asarray(_plane(registry.get("vae2d", session, dataset), marks)[0])


def sort_sliders_for(request: gr.Request, order, *values):
    """`sort_sliders` for the page's listeners (the visitor's request first, the data set after
    the sliders' values); without a VAE it stops quietly, as the tab's notice names what is missing."""
    *values, dataset = values
    if not registry.available("vae", registry.session_of(request), dataset):
        raise gr.Error("No VAE to sort the sliders of.", visible=False, print_exception=False)
    return sort_sliders(order, *values, request=request, dataset=dataset)


def decode_sliders(request: gr.Request, order, *values):
    """`decode_latent` for the sliders' listener (Gradio passes the visitor's request first, then
    the sliders' order, then their values, then the data set)."""
    *values, dataset = values
    return decode_latent(*values, session=registry.session_of(request), order=order, dataset=dataset)


def warm(dataset=data.DEFAULT):
    """Load this tab's models and derived data (the grid, the scatter, each dimension's KL) and
    run its callbacks once."""
    on_open(dataset=dataset)
    order = sort_sliders(None, *([0.0] * N_SLIDERS), dataset)[0]
    code_from_digit(preload.sample_digit(), order, dataset=dataset)
    describe_digit(preload.sample_digit(), 0, order, dataset=dataset)
    decode_point(0.0, 0.0, dataset=dataset)
    hover_decode([0.0, 0.0, dataset])
    thumbnails(dataset)
    interpolate_ends(0, 1, 10, dataset=dataset)


def code_random_for(order, request: gr.Request, dataset=data.DEFAULT):
    """`code_random` with a fresh seed for the visitor's listener."""
    return code_random(None, order, request, dataset)


def random_pair(dataset=data.DEFAULT):
    n = testset.size(dataset) if _has_testset(dataset) else 10000
    a, b = np.random.randint(0, n, 2)
    return int(a), int(b)


def _has_testset(dataset=data.DEFAULT):
    try:
        testset.tensors(dataset)
        return True
    except testset.TestSetMissing:
        return False


def build(tab, drawn_digit, dataset=None):
    """`drawn_digit`: the Draw tab's 28×28 input, a starting point for the sliders; `dataset`: the
    app's data-set switch (without one, MNIST)."""
    opens = opening(tab)          # first, so that everything this tab does on opening goes out at once
    words = Words(tab, dataset)
    dataset = dataset if dataset is not None else gr.State(data.DEFAULT)
    words.intro(INTRO)
    status = notice_box()
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, elem_classes=["latent-sliders"]):
            sliders = []
            for r in range(N_SLIDERS // 8):
                with gr.Row():
                    sliders += [gr.Slider(-RANGE, RANGE, value=0.0, step=0.01, label=f"h{r * 8 + c + 1}",
                                          min_width=80, buttons=[]) for c in range(8)]
        with gr.Column(scale=2, min_width=220):
            decoded = digit_output("Decoded f(h)", height=200)
            with gr.Row():
                from_drawn = gr.Button("Drawn digit", size="sm")
                random_btn = gr.Button("Prior sample", size="sm")
                zero = gr.Button("Zero", size="sm")
            with gr.Row(equal_height=False):
                index = gr.Number(label="test digit", value=0, precision=0, min_width=80)
                from_test = action("Use test digit")
    order = gr.State(None)          # the dimension each slider moves, as their labels say
    gr.on([s.input for s in sliders], decode_sliders, [order, *sliders, dataset], decoded, trigger_mode="always_last",
          show_progress="hidden", api_name="decode_latent")
    out = [*sliders, decoded]

    words.intro(POSTERIOR_INTRO)
    chart = gr.HTML(elem_classes=["posterior"])
    with gr.Row(equal_height=False):
        shown = digit_output("Your digit x", height=150, min_width=120)
        sample = digit_output("A sample f(μ + σ·ε)", height=150, min_width=120)
        heat = digit_output("Error −log P(xₚ|μ): black 0, yellow ≥ 1 nat", height=150, min_width=120)
        with gr.Column(min_width=140):
            another = action("Another ε")
            fit = action("Fit Q to this digit")
            seed = gr.State(0)
    elbo = gr.Markdown(latex_delimiters=LATEX)
    gap = gr.Markdown(latex_delimiters=LATEX)
    marks = gr.State(None)          # what the scatter shows besides the digits: the ellipse, the path

    random_btn.click(code_random_for, [order, dataset], out, api_name="latent_random", **KEEP)
    zero.click(code_zero, [order, dataset], out, api_name="latent_zero", **KEEP)
    another.click(another_sample, [shown, seed, dataset], [sample, seed], api_visibility="private", **KEEP)
    fit.click(fit_posterior, [shown, dataset], gap, api_visibility="private", **KEEP)
    shown.change(cleared, None, gap, api_visibility="private", show_progress="hidden")

    words.intro(GRID_INTRO)
    with gr.Row(equal_height=False):
        grid_img = image_box(label="Decoded 15×15 grid of the 2-D VAE", format="png", interactive=False,
                            height=480, elem_classes=["pixelated"], scale=3, min_width=320)
        scatter_img = image_box(label="Test digits' μ(x), 2-D VAE (click to decode)", format="png",
                               interactive=False, height=480, scale=3, min_width=320, elem_classes=["plot"],
                               elem_id="latent-scatter")
        with gr.Column(scale=2, min_width=200):
            probe = latent_plots.hover_probe(hover_decode, "latent-scatter")
            point = digit_output("Decoded point", height=160)
            z1 = gr.Number(label="h₁", value=0.0)
            z2 = gr.Number(label="h₂", value=0.0)
            go = gr.Button("Decode this point", size="sm")
    text_2d = gr.Markdown()
    described = [chart, shown, sample, heat, elbo, scatter_img, marks, text_2d]
    from_drawn.click(code_from_digit, [drawn_digit, order, dataset], out, api_name="latent_from_digit",
                     **KEEP).success(describe_digit, [drawn_digit, seed, order, marks, dataset], described,
                                     api_visibility="private", **KEEP)
    from_test.click(code_from_test, [index, order, dataset], out, api_name="latent_from_test", **KEEP).success(
        describe_test, [index, seed, order, marks, dataset], described, api_visibility="private", **KEEP)
    scatter_img.select(decode_click, [marks, dataset], [point, scatter_img, z1, z2], api_visibility="private",
                       show_progress="hidden")
    go.click(decode_point, [z1, z2, marks, dataset], [point, scatter_img], api_name="decode_point", **KEEP)
    opens.then(on_open, [marks, dataset], [grid_img, scatter_img, decoded, status], api_name="latent_overview").then(
        sort_sliders_for, [order, *sliders, dataset], [order, *out, chart], api_visibility="private", **KEEP)
    opens.then(plane_frame, dataset, probe, api_visibility="private", show_progress="hidden")

    preload.register("latent", warm, each_dataset=True, heavy=True)

    words.intro(INTERP_INTRO)
    with gr.Row(equal_height=False):
        gallery = digit_gallery("Test digits: click one to make it an end", columns=5 * THUMBS_PER_CLASS, scale=4,
                                height="auto", elem_classes=["pickable"])
        gallery.allow_preview = False       # a click picks, rather than opening the picture large
        with gr.Column(scale=1, min_width=200):
            which = gr.Radio(["A", "B"], value="A", label="the next click sets end")
            with gr.Row():
                end_a = digit_output("end A", height=90, min_width=80)
                end_b = digit_output("end B", height=90, min_width=80)
            steps = gr.Slider(3, 16, value=10, step=1, label="steps", min_width=160)
            pair = action("Random pair")
            with gr.Accordion("By test-set index", open=False):
                a = gr.Number(label="test digit A", value=0, precision=0, min_width=100)
                b = gr.Number(label="test digit B", value=1, precision=0, min_width=100)
                run = action("Interpolate", primary=True)
    pixel_row = image_box(label="Pixel space: (1−t)·x₀ + t·x₁", format="png", interactive=False,
                          elem_classes=["pixelated"], height=120)
    latent_row = image_box(label="Latent space: f((1−t)·μ₀ + t·μ₁)", format="png", interactive=False,
                           elem_classes=["pixelated"], height=120)
    row_2d = image_box(label="2-D VAE: f((1−t)·μ₀ + t·μ₁), the path A → B on the scatter", format="png",
                       interactive=False, elem_classes=["pixelated"], height=120)
    rows = [end_a, end_b, pixel_row, latent_row, row_2d, scatter_img, marks]
    run.click(interpolate, [a, b, steps, dataset], [pixel_row, latent_row], api_name="interpolate", **KEEP).success(
        ends_and_walk, [a, b, steps, marks, dataset], [end_a, end_b, *rows[4:]], api_visibility="private", **KEEP)
    pair.click(random_pair, dataset, [a, b], api_visibility="private").then(
        interpolate_ends, [a, b, steps, marks, dataset], rows, api_visibility="private", **KEEP)
    gallery.select(pick_end, [which, a, b, steps, marks, dataset], [a, b, which, *rows], api_visibility="private",
                   **KEEP)
    opens.then(thumbnails, dataset, gallery, api_visibility="private", **KEEP)
    # the app's switch: this tab follows it (a tab not opened yet redraws as it opens)
    switch = words.follow()
    if switch is not None:
        switch[0].success(switched, dataset, [grid_img, scatter_img, decoded, status, marks],
                          api_visibility="private", show_progress="hidden").then(
            sort_sliders_for, [order, *sliders, dataset], [order, *out, chart], api_visibility="private", **KEEP)
        switch[0].success(plane_frame, dataset, probe, api_visibility="private", show_progress="hidden")
        switch[0].success(forget_digit, None, [shown, sample, heat, elbo, gap, text_2d], api_visibility="private",
                          show_progress="hidden")
        switch[0].success(thumbnails, dataset, gallery, api_visibility="private", **KEEP)
    return sliders
