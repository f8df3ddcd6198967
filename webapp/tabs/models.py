"""Models tab: what serves each slot (with metrics); load a checkpoint, a Hub repo or an uploaded
zip, or train a model in the browser (live loss plot and preview, Stop button); download the
result as a zip or push it to the Hub.

Everything a visitor loads or trains is theirs alone (`registry.put(..., session)`): the bundled
models stay as they are for everyone, and nothing here writes into the checkpoint folder. The
table, loading, training and saving all work on the data set the app's switch shows; a model
trained here learns from that data set's training images."""
import shlex
import time
from contextlib import nullcontext

import gradio as gr
import pandas as pd

from deepgen import data as D
from deepgen import recipes, training
from deepgen.hub import PushError, push

from .. import public, registry
from ..components import USER_ERRORS, action, as_dataset, friendly, image_box, intro, opening, when_switched

MAX_EPOCHS, MAX_IMAGES, MAX_PLOT_ROWS = 50, 60000, 3000
INTRO = r"""
### The models of the lecture, trained on MNIST or Fashion-MNIST
Every tab uses the models listed here, for the data set chosen at the top of the page. Load another
checkpoint (a folder or a Hugging Face Hub repo id) into a slot, or train one right here on that data
set: pick the model, the epochs and how many training images to use (a few hundred give a demo in
seconds). Each Siamese network is named by its loss, e.g.
`siamese-arcface`, whose margin $m$ and scale $s$ you may change:
$$L_{ArcFace} = -\frac{1}{N}\sum_{i=1}^{N} \ln \frac{e^{s\cos(\theta_{y_i} + m)}}{e^{s\cos(\theta_{y_i} + m)} + \sum_{j \ne y_i} e^{s\cos\theta_j}}$$
What you load or train is yours alone: every tab uses it instead of the bundled model (other visitors
keep seeing the bundled ones) until you go back to the bundled models or leave. Download it as a zip
to keep it, upload the zip later, or push it to the Hub.
"""
TABLE_COLUMNS = ["slot", "model", "status", "parameters", "metrics", "source"]


# the metrics a reader looks for, in this order and these words; bookkeeping is left out
METRIC_NAMES = {
    "test_accuracy": "test accuracy", "recall_at_1": "recall@1", "verification_accuracy": "verification accuracy",
    "map_at_r": "MAP@R", "roc_auc": "ROC AUC", "threshold": "threshold", "label_accuracy": "label accuracy of samples",
    "fid": "FID", "classifier_score": "classifier score", "ambiguous_share": "ambiguous samples",
    "test_neg_elbo": "−ELBO (nats)", "test_neg_elbo_refined": "−ELBO, Q fitted to each digit (nats)",
    "test_nll_iwae": "−log P(x), IWAE (nats)", "test_bce": "−log P(x|h) (nats)",
    "test_mse": "squared error", "transfer_frozen_accuracy": "frozen encoder + 10 labels a class",
    "transfer_scratch_accuracy": "same labels, from scratch"}
BOOKKEEPING = {"eval_seconds", "iwae_k", "n_pairs", "fid_floor", "transfer_labels_per_class", "calibration_a",
               "calibration_b", "refine_steps"}


def _metrics_text(metrics):
    """`metrics` as one readable line: the known ones named and ordered, any others as `key = value`."""
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    if not isinstance(metrics, dict):
        return ""
    shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and k not in BOOKKEEPING}
    known = [f"{name} = {fmt(shown.pop(k))}" for k, name in METRIC_NAMES.items() if k in shown]
    return "; ".join(known + [f"{k} = {fmt(v)}" for k, v in sorted(shown.items(), key=lambda kv: str(kv[0]))])


def models_table(dataset=D.DEFAULT, request: gr.Request = None):
    """One row per slot of `dataset`: what serves it for this visitor (their own model or the
    bundled one), its size and its metrics (loads the bundled checkpoints)."""
    session, dataset = registry.session_of(request), as_dataset(dataset)
    rows = []
    for slot, (kind, description) in registry.SLOTS.items():
        try:
            own = registry.own(slot, session, dataset)
            m = own or registry.bundled(slot, dataset)
            rows.append([slot, description, "yours" if own is not None else "bundled",
                         f"{sum(p.numel() for p in m.parameters()):,}",
                         _metrics_text(getattr(m, "metrics", {})), str(getattr(m, "source", ""))[:200]])
        except registry.ModelMissing:
            rows.append([slot, description, "missing", "", "", f"train: {registry.train_command(slot, dataset)}"])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _where(slot, dataset):
    return f"slot **{slot}**" if dataset == D.DEFAULT else f"slot **{slot}** of {D.get(dataset).title}"


@friendly
def load_model(slot, source, dataset=D.DEFAULT, request: gr.Request = None):
    """Load a checkpoint folder or Hub repo id (public mode: a Hub repo id only) into the
    visitor's `slot` of `dataset` → (message, table). A checkpoint trained on another data set is
    refused. On failure what was there stays and the error is shown."""
    dataset = as_dataset(dataset)
    model = registry.load_into(slot, source, registry.session_of(request), dataset)
    return (f"**Loaded**  `{source.strip()}` ({model.kind}) into {_where(slot, dataset)}, for you alone.",
            models_table(dataset, request))


@friendly
def upload_model(slot, path, dataset=D.DEFAULT, request: gr.Request = None):
    """Load an uploaded checkpoint zip into the visitor's `slot` of `dataset` → (message, table)."""
    dataset = as_dataset(dataset)
    model = registry.load_upload(slot, path, registry.session_of(request), dataset)
    return (f"**Loaded** the uploaded zip ({model.kind}) into {_where(slot, dataset)}, for you alone.",
            models_table(dataset, request))


@friendly
def back_to_bundled(dataset=D.DEFAULT, request: gr.Request = None):
    """Drop the visitor's own models (of every data set) → (message, table)."""
    dropped = registry.forget(registry.session_of(request))
    return (f"**Back to the bundled models** ({dropped} of yours dropped)." if dropped else
            "You are using the bundled models."), models_table(dataset, request)


def _command(name, epochs, limit, latent_dim, margin, scale, dataset=D.DEFAULT):
    args = [name, *([] if dataset == D.DEFAULT else ["--dataset", dataset]), "--epochs", str(epochs),
            "--limit", str(limit)]
    for flag, value in (("--latent-dim", latent_dim), ("--margin", margin), ("--scale", scale)):
        if value is not None:
            args += [flag, f"{value:g}"]
    return "python -m train " + " ".join(shlex.quote(a) for a in args)


def _is_siamese(name):
    return name in recipes.SIAMESE


def latent_default(name):
    """The latent size recipe `name` builds its model with (None: the model has no latent code)."""
    if name not in recipes.RECIPES:
        return None
    return recipes.get(name).resolved_model_args().get("latent_dim")


def loss_defaults(name):
    """(margin, scale) the Siamese recipe `name` trains with (None where its loss has no such
    parameter, or for other recipes)."""
    if not _is_siamese(name):
        return None, None
    args = recipes.get(name).resolved_model_args()
    return args.get("margin"), args.get("scale")


def _settings(name, epochs, latent_dim, margin, scale, limit):
    if name not in recipes.RECIPES:
        raise ValueError(f"Unknown model '{name}'; choose one of {', '.join(recipes.RECIPES)}.")
    epochs, limit = int(epochs or 0), int(limit or 0)
    if not 1 <= epochs <= MAX_EPOCHS:
        raise ValueError(f"Train for 1 to {MAX_EPOCHS} epochs.")
    if not 64 <= limit <= MAX_IMAGES:
        raise ValueError(f"Use 64 to {MAX_IMAGES} training images.")
    if public.enabled():
        public.check_budget(epochs, limit)
    latent_dim = int(latent_dim) if latent_dim else None
    if latent_dim is not None:
        if latent_default(name) is None:
            raise ValueError(f"{name} has no latent code: leave its latent size empty.")
        if not 2 <= latent_dim <= 256:
            raise ValueError("The latent size must be 2 to 256 (or empty for the model's default).")
        fixed = recipes.get(name).requires.get("latent_dim")
        if fixed is not None and latent_dim != fixed:
            raise ValueError(f"{name} has a {fixed}-D latent space: leave its latent size empty or {fixed}.")
    if not _is_siamese(name):
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


def train_model(name, epochs, latent_dim, margin, scale, limit, dataset=D.DEFAULT, progress=gr.Progress(),
                request: gr.Request = None):
    """Generator: train recipe `name` on the training images of `dataset` and stream (status, loss
    curve DataFrame, preview picture). The finished model becomes the visitor's own in its slot of
    that data set. Closing the generator (Stop) ends training. In public mode a visitor has one
    run at a time, within the budget."""
    session = registry.session_of(request)
    try:
        dataset = as_dataset(dataset)
        epochs, latent_dim, margin, scale, limit = _settings(name, epochs, latent_dim, margin, scale, limit)
        with public.one_run(session) if public.enabled() else nullcontext():
            yield from _train(name, epochs, latent_dim, margin, scale, limit, progress, session, dataset)
    except USER_ERRORS as exc:
        raise gr.Error(str(exc), title="Cannot train") from None
    except FloatingPointError as exc:
        raise gr.Error(f"Training diverged: {exc}. Try fewer epochs or other settings.") from None


_progress = {}   # session -> (recipe, step, steps) of the visitor's running training


def stopped(request: gr.Request = None):
    """The status line after Stop: where the visitor's run stopped."""
    name, step, steps = _progress.pop(registry.session_of(request), (None, 0, 0))
    if name is None:
        return "Stopped before the first step."
    return f"**Stopped** `{name}` at step {step} of {steps}; nothing was kept."


def fields_for(name):
    """Show the latent size only where the recipe has a code, margin and scale only for a Siamese
    network; fill in the recipe's values."""
    latent, (margin, scale) = latent_default(name), loss_defaults(name)
    siamese = _is_siamese(name)
    return (registry.slot_for(name), gr.update(value=latent, visible=latent is not None),
            gr.update(value=margin, visible=siamese and margin is not None),
            gr.update(value=scale, visible=siamese and scale is not None))


def _start_from(name, dataset=D.DEFAULT):
    """The bundled checkpoint a recipe starts from on `dataset` (the VAE-GAN: the GAN's), if it
    is there."""
    start = recipes.get(name).init_from
    folder = recipes.bundled_path(start, dataset, root=registry.checkpoint_dir()) if start else None
    return str(folder) if folder is not None and (folder / "config.json").is_file() else None


def _train(name, epochs, latent_dim, margin, scale, limit, progress, session, dataset=D.DEFAULT):
    """Run the training on `dataset` and stream its updates; the model goes to the visitor's session."""
    command = _command(name, epochs, limit, latent_dim, margin, scale, dataset)
    yield f"**Training**: loading {D.get(dataset).title} and building `{name}` …", gr.skip(), None
    model_args = {k: v for k, v in (("latent_dim", latent_dim), ("margin", margin), ("scale", scale))
                  if v is not None}
    config = training.resolve(name, dataset=dataset, epochs=epochs, limit=limit, init=_start_from(name, dataset),
                              **model_args)
    run = training.Run(config)
    rows, preview, last_yield, ev = [], None, 0.0, None
    for ev in run.events(log_every=5):
        _progress[session] = (name, ev.step, ev.steps)
        rows += [{"batch": ev.step, "term": k, "loss": float(v)} for k, v in ev.losses.items()]
        preview = ev.preview if ev.preview is not None else preview
        progress((ev.step, ev.steps), desc=f"epoch {ev.epoch}/{ev.epochs}")
        if ev.epoch_end or time.monotonic() - last_yield > 0.3:
            last_yield = time.monotonic()
            losses = ", ".join(f"{k} = {v:.4g}" for k, v in ev.losses.items())
            yield (f"**Training** `{name}`: epoch {ev.epoch}/{ev.epochs}, step {ev.step}/{ev.steps}, {losses} "
                   f"({ev.seconds:.0f} s)"), _curve(rows), preview
    model = run.model.cpu().eval()
    model.metrics = {**{f"train_{k}": round(float(v), 5) for k, v in ev.losses.items()},
                     "train_images": limit, "epochs": epochs, **run.metrics}
    model.config = {"kind": model.kind, "command": command, "training": config.to_dict(),
                    "description": recipes.get(name, dataset).description}
    model.source = f"trained here: {command}"
    registry.put(name, model, session, dataset)
    _progress.pop(session, None)
    on = "" if dataset == D.DEFAULT else f" on {D.get(dataset).title}"
    yield (f"**Done** in {ev.seconds:.0f} s: every tab now uses this `{name}`{on}, for you alone. Download it "
           f"below to keep it (`{command}`)."), _curve(rows), preview


@friendly
def save_model(slot, dataset=D.DEFAULT, request: gr.Request = None):
    """The model the visitor sees in `slot` of `dataset` as a checkpoint zip to download → (zip
    path, message). Nothing is written to the checkpoint folder."""
    path = registry.export(slot, registry.session_of(request), as_dataset(dataset))
    return str(path), f"**Ready**: `{path.name}` below. `deepgen.load(\"{path.name}\")` or the upload above reads it back."


NO_SIGN_IN = ("Pushing needs your own Hugging Face sign-in, which this server does not offer: download "
              "the zip and push it from your own machine (`hf upload owner/name checkpoint-folder`).")


@friendly
def push_model(slot, repo_id, token, dataset=D.DEFAULT, oauth_token: gr.OAuthToken | None = None,
               request: gr.Request = None):
    """Push the model the visitor sees in `slot` of `dataset` to the Hub repo `repo_id`: with their
    own sign-in in public mode, with the token typed in otherwise; never with the host's token."""
    if public.enabled():
        token = getattr(oauth_token, "token", None)
        if not token:
            raise gr.Error("Sign in with Hugging Face (the button above) to push to your own account."
                           if public.on_space() else NO_SIGN_IN, title="Not pushed")
    model = registry.get(slot, registry.session_of(request), as_dataset(dataset))
    try:
        url = push(model, repo_id, token=(token or "").strip())   # an empty token is refused there
    except PushError as exc:
        raise gr.Error(str(exc), title="Not pushed") from None
    return f"**Pushed** `{slot}` to {url}"


def build(demo, dataset=None, tab=None):
    """The tab; in public mode the source box takes Hub ids only and pushing signs in with the Hub.
    `dataset`: the app's data-set switch, which the table, loading, training and saving follow
    (the table is redrawn when the switch moves and when the tab opens)."""
    intro(INTRO)
    slots = list(registry.SLOTS)
    extra = [dataset] if dataset is not None else []
    table = gr.Dataframe(value=None, headers=TABLE_COLUMNS,
                         label="The models you see (for the chosen data set) and their test-set metrics",
                         interactive=False, wrap=True, max_height=460, elem_classes="models-table",
                         column_widths=["13%", "17%", "7%", "9%", "39%", "15%"])
    demo.load(models_table, extra, table, api_name="models")
    if tab is not None:
        opening(tab)              # first, so that the tab's part and its table go out at once
    if dataset is not None:
        when_switched(tab, dataset).success(models_table, dataset, table, api_visibility="private",
                                            show_progress="hidden")
    if tab is not None:
        opening(tab).then(models_table, extra, table, api_visibility="private", show_progress="hidden")
    bundled = action("Back to the bundled models")

    with gr.Accordion("Load a checkpoint", open=False):
        with gr.Row(equal_height=True):
            load_slot = gr.Dropdown(slots, value="vae", label="slot", scale=1)
            source = gr.Textbox(label="Hub repo id" if public.enabled() else "checkpoint folder or Hub repo id",
                                placeholder="owner/name" if public.enabled() else "checkpoints/vae or owner/name",
                                scale=3)
            load = action("Load", primary=True)
        with gr.Row(equal_height=True):
            zip_file = gr.File(label="or upload a checkpoint zip (from Download)", file_types=[".zip"],
                               type="filepath", height=90, scale=3)
            load_zip = action("Load the zip")
        load_status = gr.Markdown()
    load.click(load_model, [load_slot, source, *extra], [load_status, table], api_name="load_model")
    load_zip.click(upload_model, [load_slot, zip_file, *extra], [load_status, table], api_name="upload_model")
    bundled.click(back_to_bundled, extra, [load_status, table], api_name="back_to_bundled")

    gr.Markdown("### Train a model")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            name = gr.Dropdown([(f"{k} — {r.description}", k) for k, r in recipes.RECIPES.items()],
                               value="vae", label="model")
            with gr.Row():
                epochs = gr.Slider(1, MAX_EPOCHS, value=1, step=1, label="epochs")
                limit = gr.Slider(64, min(MAX_IMAGES, public.TRAIN_BUDGET) if public.enabled() else MAX_IMAGES,
                                  value=1024, step=64, label="training images",
                                  info=f"images × epochs ≤ {public.TRAIN_BUDGET:,} here" if public.enabled() else None)
            latent = gr.Number(label="latent size (0: none / default)", value=latent_default("vae"), precision=0,
                               minimum=0, maximum=256)
            with gr.Row():
                margin = gr.Number(label="Siamese loss: margin m", value=None, visible=False)
                scale = gr.Number(label="Siamese loss: scale s", value=None, visible=False)
            with gr.Row():
                start = gr.Button("Train", variant="primary")
                stop = gr.Button("Stop", variant="stop")
        with gr.Column(scale=3):
            train_status = gr.Markdown("Ready.")
            curve = gr.LinePlot(x="batch", y="loss", color="term", color_title="", label="training losses (running mean)",
                                height=300, x_title="optimisation step", y_title="loss")
            preview = image_box(label="preview (end of each epoch)", format="png", interactive=False,
                               elem_classes=["pixelated"], height=220)
    # Training calls at once: one run, the next queued behind it, on one's own machine; in public
    # mode a few more enter, so that those past `public.TRAINING_RUNS` are refused at once.
    listeners = public.TRAINING_RUNS + 4 if public.enabled() else 1
    run = start.click(train_model, [name, epochs, latent, margin, scale, limit, *extra],
                      [train_status, curve, preview], api_name="train", concurrency_limit=listeners,
                      concurrency_id="training", show_progress_on=[train_status])
    run.then(models_table, extra, table, api_visibility="private")
    stop.click(stopped, None, train_status, cancels=[run], api_visibility="private")

    with gr.Accordion("Download or push a model", open=False):
        with gr.Row(equal_height=True):
            save_slot = gr.Dropdown(slots, value="vae", label="slot")
            save = action("Download as a zip")
            saved = gr.File(label="checkpoint zip", interactive=False, height=90)
        if public.enabled() and public.on_space():
            gr.LoginButton()
        with gr.Row(equal_height=True):
            repo = gr.Textbox(label="Hub repo id", placeholder="owner/deepgen-vae")
            token = gr.Textbox(label="Hub token (write)", type="password", visible=not public.enabled())
            upload = action("Push to the Hub")
        save_status = gr.Markdown(NO_SIGN_IN if public.enabled() and not public.on_space() else "")
    name.input(fields_for, name, [save_slot, latent, margin, scale], api_visibility="private")
    save.click(save_model, [save_slot, *extra], [saved, save_status], api_name="save_model")
    upload.click(push_model, [save_slot, repo, token, *extra], save_status, api_name="push_model")
    return table
