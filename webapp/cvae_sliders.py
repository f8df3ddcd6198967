"""The conditional VAE's own sliders, for the Style transfer tab: its code H holds the style and
its label Y the class, so each can move while the other stays. Hold the style and sweep the label
(one H decoded with every label), or hold the label and sweep the style (each dimension of H in
turn from −2 to 2, the others held).

Mount with `cvae_sliders.build(tab, dataset)` inside a tab (`dataset`: the app's data-set switch,
or None for MNIST only)."""
import gradio as gr
import numpy as np
import torch

from deepgen import data as D
from deepgen import inference
from deepgen.images import to_uint8

from . import registry, testset
from .components import (KEEP, action, as_dataset, as_seed, class_names, digit_output, follow, friendly, intro,
                         opening, picture, slider_value)
from .pictures import digit_grid_html

MAX_SLIDERS, RANGE = 8, 3.0
SWEEP = [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
INTRO = r"""
#### The CVAE's own sliders: style and label, one at a time
$P(X|H, Y)$ takes the style $H$ and the label $Y$ apart. **Hold the style, sweep the label:** one $H$ decoded
with every $Y$ (the row). **Hold the label, sweep the style:** for the chosen $Y$, each row moves one
dimension $h_i$ of $H$ from −2 to 2 while the others stay where the sliders put them.
"""


def _code(cvae, values):
    """Slider values → H (dimensions past the sliders stay 0)."""
    h = torch.zeros(cvae.latent_dim)
    for i, v in enumerate(values[:cvae.latent_dim]):
        h[i] = slider_value(v, f"h{i + 1}", RANGE)
    return h


def _label(label, dataset):
    names = class_names(dataset)
    if label not in names:
        raise ValueError(f"Choose a label from {', '.join(names)}.")
    return names.index(label)


def _number(v):
    return f"{v:g}".replace("-", "−")


def _inputs(dataset, label, values, request):
    dataset = as_dataset(dataset)
    cvae = registry.get("cvae", registry.session_of(request), dataset)
    return dataset, cvae, _label(label, dataset), _code(cvae, values)


@friendly
def decode_style(dataset, label, *values, request: gr.Request = None):
    """(label, h₁, h₂, …) → (f(H, Y), and H decoded with every label: an HTML row of digits
    captioned with their class). Fast enough to follow a slider as it moves."""
    dataset, cvae, y, h = _inputs(dataset, label, values, request)
    names = class_names(dataset)
    shown = inference.decode_each_label(cvae, h)
    return picture(shown[y:y + 1]), digit_grid_html(list(zip(to_uint8(shown[:, 0]), names)), columns=len(names))


@friendly
def sweep_style(dataset, label, *values, request: gr.Request = None):
    """(label, h₁, h₂, …) → the style sweep for that label as an HTML grid of captioned digits: a
    row per dimension of H, a column per value of SWEEP."""
    _, cvae, y, h = _inputs(dataset, label, values, request)
    sweep = inference.style_sweep(cvae, h, y, SWEEP)
    captions = [f"h{i + 1} = {_number(v)}" for i in range(cvae.latent_dim) for v in SWEEP]
    return digit_grid_html(list(zip(to_uint8(sweep[:, 0]), captions)), columns=len(SWEEP))


def _sliders(cvae, h):
    """H → updates of the sliders: its values, those past the CVAE's size hidden."""
    return [gr.update(value=round(float(h[i].clamp(-RANGE, RANGE)), 2), visible=True) if i < cvae.latent_dim
            else gr.update(value=0.0, visible=False) for i in range(MAX_SLIDERS)]


@friendly
def style_from_test(dataset, index, request: gr.Request = None):
    """Test image `index` → (its label, its style μ(X, Y) on the sliders): encoded with its true label."""
    dataset = as_dataset(dataset)
    cvae = registry.get("cvae", registry.session_of(request), dataset)
    x, y, _ = testset.digit(index, dataset)
    return (class_names(dataset)[y], *_sliders(cvae, inference.latent_mean(cvae, x, [y])[0]))


@friendly
def style_prior(dataset, seed=None, request: gr.Request = None):
    """A style H ∼ N(0, I) from `seed` (a fresh one when empty) on the sliders."""
    dataset = as_dataset(dataset)
    cvae = registry.get("cvae", registry.session_of(request), dataset)
    seed = as_seed(seed, default=int(np.random.randint(0, 2**31 - 1)))
    return tuple(_sliders(cvae, inference.seed_noise(cvae, seed)[0]))


@friendly
def style_zero(dataset, request: gr.Request = None):
    """H = 0, the prior's mean, on the sliders."""
    dataset = as_dataset(dataset)
    cvae = registry.get("cvae", registry.session_of(request), dataset)
    return tuple(_sliders(cvae, torch.zeros(cvae.latent_dim)))


def style_prior_for(dataset, request: gr.Request = None):
    return style_prior(dataset, None, request)


@friendly
def style_layout(dataset, label=None, request: gr.Request = None):
    """When the tab opens or the data set changes: the labels of the data set (the chosen one
    kept where it is one of them), one slider per dimension of the CVAE's H (the rest hidden),
    their values kept."""
    dataset = as_dataset(dataset)
    cvae = registry.get("cvae", registry.session_of(request), dataset)
    names = class_names(dataset)
    return (gr.update(choices=names, value=label if label in names else names[0]),
            *(gr.update(visible=i < cvae.latent_dim) for i in range(MAX_SLIDERS)))


def build(tab, dataset=None):
    """The section: sliders of H, the label, f(H, Y), the label row and the style sweep."""
    intro(INTRO)
    ds = dataset if dataset is not None else gr.State(D.DEFAULT)
    names = class_names(D.DEFAULT)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=260):
            label = gr.Radio(names, value=names[0], label="label Y")
            sliders = [gr.Slider(-RANGE, RANGE, value=0.0, step=0.01, label=f"h{i + 1}", min_width=120, buttons=[])
                       for i in range(MAX_SLIDERS)]
            with gr.Row():
                prior = gr.Button("Prior sample", size="sm")
                zero = gr.Button("Zero", size="sm")
            with gr.Row(equal_height=False):
                index = gr.Number(label="style of test image", value=0, precision=0, min_width=80)
                from_test = action("Use its style")
        with gr.Column(scale=5):
            decoded = digit_output("f(H, Y)", height=140)
            row = gr.HTML(label="Hold the style, sweep the label", show_label=True, container=True, padding=True)
            sweep = gr.HTML(label="Hold the label, sweep the style", show_label=True, container=True, padding=True)
    inputs = [ds, label, *sliders]
    # the digit and the label row follow a slider as it moves; the sweep (about 50 digits) comes when it is let go
    gr.on([s.input for s in sliders] + [label.input], decode_style, inputs, [decoded, row],
          trigger_mode="always_last", show_progress="hidden", api_name="cvae_style")
    gr.on([s.release for s in sliders] + [label.input], sweep_style, inputs, sweep, trigger_mode="always_last",
          show_progress="hidden", api_name="cvae_sweep")

    def then_redraw(event):
        event.success(decode_style, inputs, [decoded, row], api_visibility="private", **KEEP).success(
            sweep_style, inputs, sweep, api_visibility="private", **KEEP)

    then_redraw(prior.click(style_prior_for, ds, sliders, api_visibility="private", **KEEP))
    then_redraw(zero.click(style_zero, ds, sliders, api_visibility="private", **KEEP))
    then_redraw(from_test.click(style_from_test, [ds, index], [label, *sliders], api_visibility="private", **KEEP))
    then_redraw(opening(tab).then(style_layout, [ds, label], [label, *sliders], api_visibility="private", **KEEP))
    if dataset is not None:
        then_redraw(follow(None, dataset, style_layout, [label, *sliders], inputs=[label])[0])
    return sliders
