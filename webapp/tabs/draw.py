"""Draw tab: a digit (or, for data sets of photos, an uploaded or test image) → the autoencoder,
VAE and VAE-GAN reconstructions, the classifier's probabilities and the VAE's latent code."""
import gradio as gr

from deepgen import data as D
from deepgen import inference

from .. import preload, registry
from ..components import (
    DigitInput, as_dataset, as_digit, class_names, digit_output, follow, friendly, intro, notice,
    notice_box, opening, picture)
from ..pictures import code_bars

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
PHOTO_NOTE = ("**{title}:** drawing is for digits. Upload a photo or pick a test {noun}: a photo is made grey, "
              "inverted where its background is light, trimmed to the object, its longer side fitted to 28 "
              "pixels and centred, as {title}'s {noun}s were made.")

RECONSTRUCTIONS = [("ae", "Autoencoder f(g(x))"), ("vae", "VAE f(μ(x))"), ("vaegan", "VAE-GAN f(μ(x))")]


@friendly
def reconstruct(image, dataset=D.DEFAULT, request: gr.Request = None):
    """Image of `dataset` → (AE, VAE, VAE-GAN reconstructions, class probabilities by class name,
    VAE latent code, note)."""
    session, dataset = registry.session_of(request), as_dataset(dataset)
    x = as_digit(image, dataset)
    missing, pictures = [], []
    for slot, _ in RECONSTRUCTIONS:
        try:
            pictures.append(picture(inference.reconstruct(registry.get(slot, session, dataset), x)))
        except registry.ModelMissing as exc:
            pictures.append(None)
            missing.append(str(exc))
    probs = None
    try:
        p = inference.classify(registry.get("classifier", session, dataset), x)[0]
        probs = {name: float(p[d]) for d, name in enumerate(class_names(dataset))}
    except registry.ModelMissing as exc:
        missing.append(str(exc))
    code = None
    try:
        code = code_bars(inference.latent_mean(registry.get("vae", session, dataset), x)[0])
    except registry.ModelMissing:
        pass
    note = "\n".join(f"- {m}" for m in missing)
    return (*pictures, probs, code, note)


SLOTS = ["ae", "vae", "vaegan", "classifier"]


def on_open(dataset=D.DEFAULT, request: gr.Request = None):
    """When the tab opens: a note on what is missing (and, for photo data sets, how to give one)."""
    dataset = as_dataset(dataset)
    lines = [notice(SLOTS, session=registry.session_of(request), dataset=dataset)]
    ds = D.get(dataset)
    if ds.input != "draw":
        lines.insert(0, PHOTO_NOTE.format(title=ds.title, noun=ds.noun))
    return "\n\n".join(line for line in lines if line)


def switched(dataset, request: gr.Request = None):
    """The Draw tab's words for a newly chosen data set: (classifier label, notice)."""
    dataset = as_dataset(dataset)
    return gr.update(label=f"Classifier: P({D.get(dataset).noun})"), on_open(dataset, request)


def build(tab, dataset=None):
    """`dataset`: the app's data-set switch, which every callback here follows."""
    intro(INTRO)
    status = notice_box()
    extra = [dataset] if dataset is not None else []
    opening(tab).then(on_open, extra, status, api_visibility="private")   # first: see `opening`
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            source = DigitInput("draw", label="Your digit", api=True, dataset=dataset, tab=tab, landing=True)
        with gr.Column(scale=5):
            with gr.Row():
                images = [digit_output(title, height=150, min_width=120, inline=True) for _, title in RECONSTRUCTIONS]
            with gr.Row():
                probs = gr.Label(label="Classifier: P(digit)", scale=2)
                with gr.Column(scale=3):
                    code = gr.HTML(label="VAE code μ(x), a bar per dimension",
                                   show_label=True, container=True, min_height=60, elem_id="code-bars")
                    note = gr.Markdown(elem_classes=["note"])
    if dataset is not None:
        follow(tab, dataset, switched, [probs, status], landing=True)
    source.then(reconstruct, [source.digit, *extra], [*images, probs, code, note], api_name="reconstruct",
                show_progress="hidden")
    preload.register("draw", lambda dataset: reconstruct(preload.sample_digit(), dataset), each_dataset=True)
    return source
