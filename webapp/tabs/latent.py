"""Latent space tab: sliders over the VAE's code, the 2-D VAE's manifold and latent scatter,
and interpolation in pixel space against latent space."""
import math

import gradio as gr
import numpy as np
import torch

from deepgen import inference
from deepgen.images import grid

from .. import preload, registry, testset
from ..components import (
    KEEP, action, as_digit, as_seed, digit_output, friendly, image_box, intro, notice, notice_box, picture)
from ..pictures import Frame, mark, scatter

N_SLIDERS, RANGE = 32, 3.0
SCATTER_DIGITS = 5000
INTRO = r"""
### Walk the VAE's latent space
The VAE models $P(X) = \int_H P(X|h)\,P(h)\,dh$ with the prior $P(H) = N(0, I)$ and learns
$Q(H|X) = N(\mu(X), \Sigma(X))$ by maximising the evidence lower bound
$$\log P(X) - KL[Q(H|X)\,\|\,P(H|X)] = E_{H \sim Q}[\log P(X|H)] - KL[Q(H|X)\,\|\,N(0, I)]$$
$$KL[Q(H|X)\,\|\,N(0, I)] = \tfrac12\left(\mathrm{tr}\,\Sigma(X) + \mu(X)^T\mu(X) - k - \log\det\Sigma(X)\right)$$
Because the KL term pulls every code towards $N(0, I)$, any point near the origin decodes to a
plausible digit. Move a slider (one per dimension $h_i$ of the 32-D code) and the decoder $f(h)$ redraws.
"""
GRID_INTRO = r"""
#### The 2-D VAE: the whole manifold in one picture
With a 2-D code, $h = (h_1, h_2)$ can be laid out on a plane. Left: $f(h)$ on a 15×15 grid over the
Gaussian's quantiles $h_i = \Phi^{-1}(p)$, $p \in [0.05, 0.95]$. Right: the means $\mu(X)$ of test digits,
coloured by digit. **Click the scatter** (or type coordinates) to decode that point.
This VAE's $P(X|H)$ draws the digit row by row, $P(X|H) = \prod_r P(x_r \mid H, x_{r-1})$: each
pixel depends on $h$ and on the three pixels just above it, so the two numbers need to hold only
the digit's shape, not every pixel of its strokes. $f(h)$ feeds each row's means to the row below.
"""
INTERP_INTRO = r"""
#### Interpolation: pixel space against latent space
Pixel space blends the pictures, $(1-t)\,x_0 + t\,x_1$, and passes through images that are no digit;
latent space decodes $f((1-t)\,\mu(x_0) + t\,\mu(x_1))$ and stays on the manifold of digits.
"""


def _check(values):
    code = []
    for i, v in enumerate(values):
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"h{i + 1} must be a number, not {v!r}.") from None
        if not math.isfinite(v) or abs(v) > RANGE + 1e-9:
            raise ValueError(f"h{i + 1} = {v:g} is outside the sliders' range [−{RANGE:g}, {RANGE:g}].")
        code.append(v)
    if len(code) > N_SLIDERS:
        raise ValueError(f"at most {N_SLIDERS} latent values, not {len(code)}")
    return code


@friendly
def decode_latent(*values, session=None):
    """Slider values h₁…h₃₂ → the VAE's decoded digit f(h) (dimensions past the VAE's size are ignored)."""
    code = _check(values)
    model = registry.get("vae", session)
    h = torch.zeros(model.latent_dim)
    n = min(len(code), model.latent_dim)
    h[:n] = torch.tensor(code[:n])
    return picture(inference.decode(model, h))


def _sliders_for(model, h):
    h = h.flatten()[:N_SLIDERS].clamp(-RANGE, RANGE)
    values = [round(float(v), 2) for v in h] + [0.0] * (N_SLIDERS - len(h))
    full = torch.zeros(model.latent_dim)
    full[:len(h)] = torch.tensor(values[:len(h)])
    return (*values, picture(inference.decode(model, full)))


@friendly
def code_from_digit(image, request: gr.Request = None):
    """A digit → its VAE code μ(x) on the sliders (clipped to ±3) and its decoding."""
    model = registry.get("vae", registry.session_of(request))
    return _sliders_for(model, inference.latent_mean(model, as_digit(image))[0])


@friendly
def code_from_test(index, request: gr.Request = None):
    model = registry.get("vae", registry.session_of(request))
    x, _, _ = testset.digit(index)
    return _sliders_for(model, inference.latent_mean(model, x)[0])


@friendly
def code_random(seed=None, request: gr.Request = None):
    """A sample of the prior N(0, I) on the sliders."""
    model = registry.get("vae", registry.session_of(request))
    seed = as_seed(seed, default=int(np.random.randint(0, 2**31 - 1)))
    return _sliders_for(model, inference.seed_noise(model, seed)[0])


@friendly
def code_zero(request: gr.Request = None):
    model = registry.get("vae", registry.session_of(request))
    return _sliders_for(model, torch.zeros(model.latent_dim))


@friendly
def manifold(n=15, session=None):
    """The 2-D VAE's decoded grid over the Gaussian's quantiles (n×n digits, one picture)."""
    n = int(n)
    if not 2 <= n <= 30:
        raise ValueError("The manifold grid has 2 to 30 rows.")
    return registry.cached("vae2d", ("manifold", n),
                           lambda m: grid(inference.latent_grid(m, n), nrow=n, padding=1), session)


def _scatter(model):
    images, labels = testset.first(SCATTER_DIGITS)
    mu = inference.encode_means(model, images).numpy()
    lim = max(3.0, float(np.percentile(np.abs(mu), 99.5)))
    frame = Frame(-lim, lim, size=440, pad=30)
    return scatter(mu, labels.numpy(), frame), frame


@friendly
def latent_scatter(session=None):
    """The test digits' latent means under the 2-D VAE, coloured by digit (RGB picture)."""
    img, _ = registry.cached("vae2d", "scatter", _scatter, session)
    return np.asarray(img)


@friendly
def decode_point(z1, z2, request: gr.Request = None):
    """A point (h₁, h₂) of the 2-D latent plane → (decoded digit, scatter with the point marked)."""
    try:
        z1, z2 = float(z1), float(z2)
    except (TypeError, ValueError):
        raise ValueError("Both coordinates must be numbers.") from None
    if not (math.isfinite(z1) and math.isfinite(z2)) or max(abs(z1), abs(z2)) > 10:
        raise ValueError("Coordinates must lie in [−10, 10].")
    model = registry.get("vae2d", registry.session_of(request))
    img, frame = registry.memo(model, "scatter", _scatter)
    digit = picture(inference.decode(model, torch.tensor([z1, z2])))
    return digit, np.asarray(mark(img, frame, [(z1, z2)], [f"({z1:.2f}, {z2:.2f})"]))


@friendly
def decode_click(evt: gr.SelectData, request: gr.Request = None):
    """A click on the scatter picture → (decoded digit, marked scatter, h₁, h₂)."""
    _, frame = registry.cached("vae2d", "scatter", _scatter, registry.session_of(request))
    z1, z2 = frame.to_data(*evt.index[:2])
    z1, z2 = round(z1, 2), round(z2, 2)
    return (*decode_point(z1, z2, request), z1, z2)


@friendly
def interpolate(index_a, index_b, steps=8, request: gr.Request = None):
    """Two test digits → (pixel-space blend, VAE latent-space walk), each a row of `steps` digits."""
    steps = int(steps)
    if not 3 <= steps <= 16:
        raise ValueError("Use 3 to 16 interpolation steps.")
    xa, xb = testset.digit(index_a)[0], testset.digit(index_b)[0]
    model = registry.get("vae", registry.session_of(request))
    return (grid(inference.interpolate_pixels(xa, xb, steps), nrow=steps),
            grid(inference.interpolate_latent(model, xa, xb, steps), nrow=steps))


def on_open(request: gr.Request = None):
    """When the tab opens: (manifold, scatter, notice); what is missing is named, not raised."""
    session, pictures = registry.session_of(request), []
    for fn in (lambda: manifold(session=session), lambda: latent_scatter(session)):
        try:
            pictures.append(fn())
        except gr.Error:
            pictures.append(None)
    try:
        start = decode_latent(*([0.0] * N_SLIDERS), session=session)
    except gr.Error:
        start = None
    return (*pictures, start, notice(["vae", "vae2d"], needs_testset=True, session=session))


def decode_sliders(request: gr.Request, *values):
    """`decode_latent` for the sliders' listener (Gradio passes the visitor's request first)."""
    return decode_latent(*values, session=registry.session_of(request))


def warm():
    """Load this tab's models and derived data (the grid, the scatter) and run its callbacks once."""
    on_open()
    code_from_digit(preload.sample_digit())
    decode_point(0.0, 0.0)
    interpolate(0, 1, 10)


def code_random_for(request: gr.Request):
    """`code_random` with a fresh seed for the visitor's listener."""
    return code_random(None, request)


def random_pair():
    n = testset.size() if _has_testset() else 10000
    a, b = np.random.randint(0, n, 2)
    return int(a), int(b)


def _has_testset():
    try:
        testset.tensors()
        return True
    except testset.TestSetMissing:
        return False


def build(tab, drawn_digit):
    """`drawn_digit`: the Draw tab's 28×28 input, a starting point for the sliders."""
    intro(INTRO)
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
    gr.on([s.input for s in sliders], decode_sliders, sliders, decoded, trigger_mode="always_last",
          show_progress="hidden", api_name="decode_latent")
    out = [*sliders, decoded]
    from_drawn.click(code_from_digit, drawn_digit, out, api_name="latent_from_digit", **KEEP)
    from_test.click(code_from_test, index, out, api_name="latent_from_test", **KEEP)
    random_btn.click(code_random_for, None, out, api_name="latent_random", **KEEP)
    zero.click(code_zero, None, out, api_name="latent_zero", **KEEP)

    intro(GRID_INTRO)
    with gr.Row(equal_height=False):
        grid_img = image_box(label="Decoded 15×15 grid of the 2-D VAE", format="png", interactive=False,
                            height=480, elem_classes=["pixelated"], scale=3)
        scatter_img = image_box(label="Test digits' μ(x), 2-D VAE (click to decode)", format="png",
                               interactive=False, height=480, scale=3, elem_classes=["plot"])
        with gr.Column(scale=2, min_width=200):
            point = digit_output("Decoded point", height=160)
            z1 = gr.Number(label="h₁", value=0.0)
            z2 = gr.Number(label="h₂", value=0.0)
            go = gr.Button("Decode this point", size="sm")
    scatter_img.select(decode_click, None, [point, scatter_img, z1, z2], api_visibility="private",
                       show_progress="hidden")
    go.click(decode_point, [z1, z2], [point, scatter_img], api_name="decode_point", **KEEP)
    tab.select(on_open, None, [grid_img, scatter_img, decoded, status], api_name="latent_overview")

    preload.register("latent", warm)

    intro(INTERP_INTRO)
    with gr.Row(equal_height=True):
        a = gr.Number(label="test digit A", value=0, precision=0, min_width=100)
        b = gr.Number(label="test digit B", value=1, precision=0, min_width=100)
        steps = gr.Slider(3, 16, value=10, step=1, label="steps", min_width=160)
        run = action("Interpolate", primary=True)
        pair = action("Random pair")
    with gr.Row():
        pixel_row = image_box(label="Pixel space: (1−t)·x₀ + t·x₁", format="png", interactive=False,
                             elem_classes=["pixelated"], height=120)
        latent_row = image_box(label="Latent space: f((1−t)·μ₀ + t·μ₁)", format="png", interactive=False,
                              elem_classes=["pixelated"], height=120)
    run.click(interpolate, [a, b, steps], [pixel_row, latent_row], api_name="interpolate", **KEEP)
    pair.click(random_pair, None, [a, b], api_visibility="private").then(
        interpolate, [a, b, steps], [pixel_row, latent_row], api_visibility="private", **KEEP)
    return sliders
