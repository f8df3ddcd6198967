"""Models tab: what is loaded (with metrics), load a checkpoint or Hub repo into a slot, train a
model in the browser (live loss plot and preview, Stop button), save or push the result."""
import shlex
import time

import gradio as gr
import pandas as pd

import deepgen
from deepgen import data, inference, training
from deepgen.hub import PushError, push
from deepgen.metric_losses import LOSSES

from .. import registry
from ..components import USER_ERRORS, action, friendly, image_box, intro

MAX_EPOCHS, MAX_IMAGES, MAX_PLOT_ROWS, CALIBRATION_IMAGES = 50, 60000, 3000, 5000
INTRO = r"""
### The models of the lecture, trained on MNIST
Every tab uses the models listed here. Load another checkpoint (a folder or a Hugging Face Hub repo id)
into a slot, or train one right here: pick the model, the epochs and how many training images to use
(a few hundred give a demo in seconds). Siamese networks are trained with the loss you choose, e.g.
ArcFace, with margin $m$ and scale $s$:
$$L_{ArcFace} = -\frac{1}{N}\sum_{i=1}^{N} \ln \frac{e^{s\cos(\theta_{y_i} + m)}}{e^{s\cos(\theta_{y_i} + m)} + \sum_{j \ne y_i} e^{s\cos\theta_j}}$$
The finished model replaces the one in its slot for every tab; save it to `checkpoints/` or push it to the Hub.
"""
TABLE_COLUMNS = ["slot", "model", "status", "parameters", "metrics", "source"]


def _metrics_text(metrics):
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    return ", ".join(f"{k} = {fmt(v)}" for k, v in sorted((metrics or {}).items())
                     if isinstance(v, (int, float, str)))


def models_table():
    """One row per slot: what serves it, its size and its metrics (loads the bundled checkpoints)."""
    rows = []
    for slot, (kind, description) in registry.SLOTS.items():
        try:
            m = registry.get(slot)
            rows.append([slot, description, "loaded", f"{sum(p.numel() for p in m.parameters()):,}",
                         _metrics_text(getattr(m, "metrics", {})), getattr(m, "source", "")])
        except registry.ModelMissing:
            rows.append([slot, description, "missing", "", "", f"train: {registry.train_command(slot)}"])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


@friendly
def load_model(slot, source):
    """Load a checkpoint folder or Hub repo id into `slot` → (message, table). On failure the
    current model stays and the error is shown."""
    model = registry.load_into(slot, source)
    return f"**Loaded**  `{source.strip()}` ({model.kind}) into slot **{slot}**.", models_table()


def _command(name, epochs, limit, latent_dim, loss, margin, scale):
    args = [name, "--epochs", str(epochs), "--limit", str(limit)]
    if latent_dim:
        args += ["--latent-dim", str(latent_dim)]
    if name == "siamese":
        args += ["--loss", loss] + (["--margin", f"{margin:g}"] if margin is not None else []) + (
            ["--scale", f"{scale:g}"] if scale is not None else [])
    return "python -m train " + " ".join(shlex.quote(a) for a in args)


def latent_default(name):
    """The latent size `name` is built with by default (None: the model has no latent code)."""
    if name not in training.MODELS or name in ("classifier", "siamese"):
        return None
    model = training.build_model(name)
    return getattr(model, "z_dim", None) or getattr(model, "latent_dim", None)


def loss_defaults(loss):
    """(margin, scale) the Siamese loss uses by default (None where it has no such parameter)."""
    _, margin, scale = LOSSES.get(loss, (None, None, None))
    return margin, scale


def _settings(name, epochs, latent_dim, loss, margin, scale, limit):
    if name not in training.MODELS:
        raise ValueError(f"Unknown model '{name}'; choose one of {', '.join(training.MODELS)}.")
    if name == "siamese" and loss not in LOSSES:
        raise ValueError(f"Unknown Siamese loss '{loss}'; choose one of {', '.join(LOSSES)}.")
    epochs, limit = int(epochs or 0), int(limit or 0)
    if not 1 <= epochs <= MAX_EPOCHS:
        raise ValueError(f"Train for 1 to {MAX_EPOCHS} epochs.")
    if not 64 <= limit <= MAX_IMAGES:
        raise ValueError(f"Use 64 to {MAX_IMAGES} training images.")
    latent_dim = int(latent_dim) if latent_dim else None
    if latent_dim is not None and not 2 <= latent_dim <= 256:
        raise ValueError("The latent size must be 2 to 256 (or empty for the model's default).")
    if name == "vae2d" and latent_dim not in (None, 2):
        raise ValueError("vae2d is the 2-D VAE: leave its latent size empty or 2.")
    if name != "siamese":
        return epochs, latent_dim, None, None, limit
    margin = None if margin is None else float(margin)
    scale = float(scale) if scale else None            # 0 or empty: the loss's default
    if margin is not None and not 0 <= margin <= 100:
        raise ValueError("The margin must lie in [0, 100] (or be empty for the loss's default).")
    if scale is not None and not 0 < scale <= 100:
        raise ValueError("The scale must lie in (0, 100] (or be empty for the loss's default).")
    return epochs, latent_dim, margin, scale, limit


def _curve(rows):
    """Rows {batch, term, loss} → the DataFrame the LinePlot draws (thinned to MAX_PLOT_ROWS)."""
    df = pd.DataFrame(rows or [], columns=["batch", "term", "loss"]).astype(
        {"batch": "int64", "term": "str", "loss": "float64"})
    stride = max(1, -(-len(df) // MAX_PLOT_ROWS))
    return df if stride == 1 else df[df["batch"].isin(df["batch"].unique()[::stride])]


def train_model(name, epochs, latent_dim, loss, margin, scale, limit, progress=gr.Progress()):
    """Generator: train `name` and stream (status, loss curve DataFrame, preview picture).
    The finished model replaces the one in its slot. Closing the generator (Stop) ends training."""
    try:
        epochs, latent_dim, margin, scale, limit = _settings(name, epochs, latent_dim, loss, margin, scale, limit)
        slot = registry.slot_for(name, loss)
        command = _command(name, epochs, limit, latent_dim, loss, margin, scale)
        events = training.train(name, epochs=epochs, limit=limit, latent_dim=latent_dim, loss=loss,
                                margin=margin, scale=scale, log_every=5)
        rows, preview, last_yield, model, ev = [], None, 0.0, None, None
        yield f"**Training**: loading MNIST and building `{slot}` …", gr.skip(), None
        for ev in events:
            rows += [{"batch": ev.step, "term": k, "loss": float(v)} for k, v in ev.losses.items()]
            preview = ev.preview if ev.preview is not None else preview
            progress((ev.step, ev.steps), desc=f"epoch {ev.epoch}/{ev.epochs}")
            if ev.done:
                model = ev.model
            if ev.epoch_end or time.monotonic() - last_yield > 0.3:
                last_yield = time.monotonic()
                losses = ", ".join(f"{k} = {v:.4g}" for k, v in ev.losses.items())
                yield (f"**Training** `{slot}`: epoch {ev.epoch}/{ev.epochs}, step {ev.step}/{ev.steps}, {losses} "
                       f"({ev.seconds:.0f} s)"), _curve(rows), preview
        model = model.cpu().eval()
        model.metrics = {**{f"train_{k}": round(float(v), 5) for k, v in ev.losses.items()},
                         "train_images": limit, "epochs": epochs}
        if name == "siamese":
            yield "**Calibrating** the verdict's threshold on training pairs …", _curve(rows), preview
            images, labels = data.mnist(train=True).tensors
            model.metrics.update(inference.calibrate(model, images[:CALIBRATION_IMAGES],
                                                     labels[:CALIBRATION_IMAGES]))
        model.config = {"kind": model.kind, "command": command}
        model.source = f"trained here: {command}"
        registry.put(slot, model)
        yield (f"**Done** in {ev.seconds:.0f} s: every tab now uses this `{slot}`. Save it below to keep it "
               f"(`{command}`)."), _curve(rows), preview
    except USER_ERRORS as exc:
        raise gr.Error(str(exc), title="Cannot train") from None
    except FloatingPointError as exc:
        raise gr.Error(f"Training diverged: {exc}. Try fewer epochs or other settings.") from None


@friendly
def save_model(slot):
    """Save the model in `slot` to `$DEEPGEN_CHECKPOINTS/<slot>` (the bundled checkpoint folder)."""
    model = registry.get(slot)
    folder = registry.checkpoint_dir() / slot
    command = (getattr(model, "config", None) or {}).get("command")
    deepgen.save(model, folder, command=command, metrics=getattr(model, "metrics", None))
    return f"**Saved** `{slot}` to `{folder}`."


@friendly
def push_model(slot, repo_id, token):
    """Push the model in `slot` to the Hub repo `repo_id` with a write token."""
    model = registry.get(slot)
    try:
        url = push(model, repo_id, token=(token or "").strip() or None)
    except PushError as exc:
        raise gr.Error(str(exc), title="Not pushed") from None
    return f"**Pushed** `{slot}` to {url}"


def build(demo):
    intro(INTRO)
    slots = list(registry.SLOTS)
    table = gr.Dataframe(value=None, headers=TABLE_COLUMNS, label="Loaded models and their test-set metrics",
                         interactive=False, wrap=True, max_height=460,
                         column_widths=["13%", "17%", "7%", "9%", "39%", "15%"])
    demo.load(models_table, None, table, api_name="models")

    with gr.Accordion("Load a checkpoint", open=False):
        with gr.Row(equal_height=True):
            load_slot = gr.Dropdown(slots, value="vae", label="slot", scale=1)
            source = gr.Textbox(label="checkpoint folder or Hub repo id", placeholder="checkpoints/vae or owner/name",
                                scale=3)
            load = action("Load", primary=True)
        load_status = gr.Markdown()
    load.click(load_model, [load_slot, source], [load_status, table], api_name="load_model")

    gr.Markdown("### Train a model")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            name = gr.Dropdown([(f"{k} — {v.split(';')[0]}", k) for k, v in training.MODELS.items()],
                               value="vae", label="model")
            with gr.Row():
                epochs = gr.Slider(1, MAX_EPOCHS, value=1, step=1, label="epochs")
                limit = gr.Slider(64, MAX_IMAGES, value=1024, step=64, label="training images")
            latent = gr.Number(label="latent size (0: none / default)", value=latent_default("vae"), precision=0,
                               minimum=0, maximum=256)
            with gr.Row():
                loss = gr.Dropdown(list(LOSSES), value="arcface", label="Siamese loss")
                margin = gr.Number(label="margin m", value=loss_defaults("arcface")[0])
                scale = gr.Number(label="scale s", value=loss_defaults("arcface")[1])
            with gr.Row():
                start = gr.Button("Train", variant="primary")
                stop = gr.Button("Stop", variant="stop")
        with gr.Column(scale=3):
            train_status = gr.Markdown("Ready.")
            curve = gr.LinePlot(x="batch", y="loss", color="term", label="training losses (running mean)",
                                height=300, x_title="optimisation step", y_title="loss")
            preview = image_box(label="preview (end of each epoch)", format="png", interactive=False,
                               elem_classes=["pixelated"], height=220)
    run = start.click(train_model, [name, epochs, latent, loss, margin, scale, limit],
                      [train_status, curve, preview], api_name="train", concurrency_limit=1,
                      concurrency_id="training", show_progress_on=[train_status])
    run.then(models_table, None, table, api_visibility="private")
    stop.click(None, None, None, cancels=[run])

    with gr.Accordion("Save or push a model", open=False):
        with gr.Row(equal_height=True):
            save_slot = gr.Dropdown(slots, value="vae", label="slot")
            save = action("Save to checkpoints/<slot>")
        with gr.Row(equal_height=True):
            repo = gr.Textbox(label="Hub repo id", placeholder="owner/deepgen-vae")
            token = gr.Textbox(label="Hub token (write)", type="password")
            upload = action("Push to the Hub")
        save_status = gr.Markdown()
    name.input(lambda n, l: (registry.slot_for(n, l), latent_default(n)), [name, loss], [save_slot, latent],
               api_visibility="private")
    loss.input(lambda n, l: (registry.slot_for(n, l), *loss_defaults(l)), [name, loss], [save_slot, margin, scale],
               api_visibility="private")
    save.click(save_model, save_slot, save_status, api_name="save_model")
    upload.click(push_model, [save_slot, repo, token], save_status, api_name="push_model")
    return table
