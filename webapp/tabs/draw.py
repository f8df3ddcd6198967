"""Draw tab: a digit → the autoencoder, VAE and VAE-GAN reconstructions, the classifier's
probabilities and the VAE's latent code."""
import gradio as gr

from deepgen import inference

from .. import preload, registry
from ..components import (
    DigitInput, as_digit, digit_output, friendly, image_box, intro, notice, notice_box, picture)
from ..pictures import bars

INTRO = r"""
### Draw a digit and watch three models rebuild it
An **autoencoder** compresses the picture into a code $h = g(x)$ and decodes it back, $\hat x = f(h)$,
trained to make the reconstruction error small:
$$E = \|x - f(g(x))\|$$
The **VAE** encodes a distribution $Q(H|X) = N(\mu(X), \Sigma(X))$ instead of one point (shown: the
decoded mean $f(\mu(X))$), and the **VAE-GAN** decodes with a GAN generator, which keeps edges sharp.
Your drawing is first made MNIST-like: cropped to the ink, scaled to fit 20×20, centred by its
centre of mass in 28×28. Draw with the brush; every stroke updates the results.
"""

RECONSTRUCTIONS = [("ae", "Autoencoder f(g(x))"), ("vae", "VAE f(μ(x))"), ("vaegan", "VAE-GAN f(μ(x))")]


@friendly
def reconstruct(image, request: gr.Request = None):
    """Digit image → (AE, VAE, VAE-GAN reconstructions, class probabilities, VAE latent code, note)."""
    session = registry.session_of(request)
    x = as_digit(image)
    missing, pictures = [], []
    for slot, _ in RECONSTRUCTIONS:
        try:
            pictures.append(picture(inference.reconstruct(registry.get(slot, session), x)))
        except registry.ModelMissing as exc:
            pictures.append(None)
            missing.append(str(exc))
    probs = None
    try:
        p = inference.classify(registry.get("classifier", session), x)[0]
        probs = {str(d): float(p[d]) for d in range(10)}
    except registry.ModelMissing as exc:
        missing.append(str(exc))
    code = None
    try:
        code = bars(inference.latent_mean(registry.get("vae", session), x)[0])
    except registry.ModelMissing:
        pass
    note = "\n".join(f"- {m}" for m in missing)
    return (*pictures, probs, code, note)


SLOTS = ["ae", "vae", "vaegan", "classifier"]


def on_open(request: gr.Request = None):
    """When the tab opens: a note on what is missing."""
    return notice(SLOTS, session=registry.session_of(request))


def build(tab):
    intro(INTRO)
    status = notice_box()
    tab.select(on_open, None, status, api_visibility="private")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            source = DigitInput("draw", label="Your digit", api=True)
        with gr.Column(scale=5):
            with gr.Row():
                images = [digit_output(title, height=150, min_width=120) for _, title in RECONSTRUCTIONS]
            with gr.Row():
                probs = gr.Label(label="Classifier: P(digit)", scale=2)
                with gr.Column(scale=3):
                    code = image_box(label="VAE code μ(x) (one bar per dimension)", format="png",
                                    interactive=False, height=130, buttons=[], elem_classes=["scaled"])
                    note = gr.Markdown(elem_classes=["note"])
    source.then(reconstruct, source.digit, [*images, probs, code, note], api_name="reconstruct",
                show_progress="hidden")
    preload.register("draw", lambda: reconstruct(preload.sample_digit()))
    return source
