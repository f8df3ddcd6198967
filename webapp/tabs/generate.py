"""Generate tab: GAN, VAE-GAN and VAE prior samples side by side, with the discriminators' D(x),
the time-lapse of the GAN's training played back, and interpolation between two seeds."""
from concurrent.futures import ThreadPoolExecutor, as_completed

import gradio as gr
import pandas as pd

from deepgen import data, inference
from deepgen import timelapse as T
from deepgen.images import grid

from .. import preload, registry, testset
from ..components import (
    KEEP, Words, action, as_seed, friendly, image_box, intro, notice, notice_box, opening)
from ..pictures import captioned, digit_grid_html

MAX_SAMPLES = 64
POOL = ThreadPoolExecutor(2, thread_name_prefix="generate")   # one worker a core of the 2 the app is sized for
# The models draw and judge in bfloat16 where the CPU computes it natively, which is what keeps 64
# samples of all three under 50 ms on 2 cores (docs/results.md has the timings and what it costs).
PRECISION = inference.native_bfloat16()
SOURCES = [("gan", "GAN: G(z)"), ("vaegan", "VAE-GAN: f(z)"), ("vae", "VAE: f(z)")]
JUDGES = [("gan", "D of the GAN"), ("vaegan", "D of the VAE-GAN")]
REAL_IMAGES = 512
REAL_COLUMN = f"mean D(x) of real test {{noun}}s ({REAL_IMAGES})"
INTRO = r"""
### Sample the generators
The GAN's discriminator $D$ and generator $G$ play a game. $D$ minimises
$$-E_x[\log D(x)] - E_z[\log(1 - D(G(z)))]$$
and $G$ (non-saturating form) minimises $-E_z[\log D(G(z))]$; the bundled $G$ also learned to draw
«digits» that a classifier on $D$'s features puts firmly in one class (CatGAN's certainty term).
Each sample comes from $z \sim N(0, I)$ drawn from the seed; under each «digit» is $D(x)$, the
discriminator's probability that it is a real «MNIST» «digit» (VAE samples are judged by the GAN's $D$;
click «a digit» to see it large).
The VAE-GAN (Larsen et al. 2016) is a VAE whose decoder is trained as a GAN generator. The bundled
one started from this GAN: its encoder first learned to invert $G$, then encoder, decoder and $D$
learned together. Compare its samples with the VAE's blurrier ones.
"""


EQUILIBRIUM = ("At the game's equilibrium the generated «digits» look as real as real ones, so $D$ cannot tell "
               "them apart and says $D(x) = 0.5$ for both: 0.5, not 1, is the goal, for samples and real "
               "test «digits» alike.")


def _check(seed, count=1):
    seed = as_seed(seed)
    try:
        count = int(count)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("The count must be a whole number.") from None
    if not 1 <= count <= MAX_SAMPLES:
        raise ValueError(f"Draw 1 to {MAX_SAMPLES} samples, not {count}.")
    return seed, count


def _real_scores(model):
    images, _ = testset.first(REAL_IMAGES, data.dataset_of(model).name)
    return float(inference.discriminator_scores(model, images, dtype=PRECISION).mean())


def _real_mean(judge):
    """The mean D(x) of `judge` on the first test images (computed once per model), or None
    where the test set is missing."""
    try:
        return round(registry.memo(judge, "real_D", _real_scores), 3)
    except testset.TestSetMissing:
        return None


def _draw(model, count, seed):
    """`count` samples of `model` from `seed`: one job of the pool."""
    return inference.generate(model, count, seed, dtype=PRECISION)


def _judge(judge, samples):
    """(samples, their D(x) by `judge` or None, their HTML grid captioned with D(x)): one job of the pool."""
    scores = inference.discriminator_scores(judge, samples, dtype=PRECISION) if judge is not None else None
    captions = [f"{v:.2f}" for v in scores.tolist()] if scores is not None else [""] * len(samples)
    return samples, scores, digit_grid_html(captioned(samples, captions), columns=8)


def _draw_and_judge(models, count, seed):
    """{slot: (model, judge or None)} → {slot: `_judge`'s answer for `count` samples from `seed`}.
    Each model's drawing is a job, and its judging another, sent to the pool as soon as the drawing
    is done: two workers kept busy by six short jobs finish sooner than three long jobs sharing two
    cores."""
    drawn = {POOL.submit(_draw, model, count, seed): slot for slot, (model, _) in models.items()}
    judged = {drawn[future]: POOL.submit(_judge, models[drawn[future]][1], future.result())
              for future in as_completed(drawn)}
    return {slot: future.result() for slot, future in judged.items()}


@friendly
def generate(seed=0, count=16, dataset=data.DEFAULT, request: gr.Request = None):
    """(GAN, VAE-GAN, VAE samples of `dataset`'s models, each an HTML grid of digits captioned with
    their D(x); a table of each row's mean D(x) beside that D's mean on real test digits). Each
    generator's samples are judged by its own discriminator, the VAE's by the GAN's."""
    session, dataset = registry.session_of(request), registry.dataset_name(dataset)
    seed, count = _check(seed, count)
    judges = {slot: registry.get(slot, session, dataset) for slot, _ in JUDGES
              if registry.available(slot, session, dataset)}
    judge_of = {slot: slot if slot in judges else next(iter(judges), None) for slot, _ in SOURCES}
    shown = _draw_and_judge({slot: (registry.get(slot, session, dataset), judges.get(judge_of[slot]))
                             for slot, _ in SOURCES if registry.available(slot, session, dataset)}, count, seed)
    if not shown:
        raise registry.ModelMissing("None of the gan, vaegan and vae checkpoints is there — train them "
                                    f"with `{registry.train_command('gan', dataset)}`, `… vaegan`, `… vae`.")
    pictures, rows = [], []
    for slot, title in SOURCES:
        if slot not in shown:
            pictures.append(None)
            continue
        _, scores, picture = shown[slot]
        pictures.append(picture)
        if scores is not None:
            rows.append({"samples": title, "judged by": dict(JUDGES)[judge_of[slot]],
                         "mean D(x) of the samples": round(float(scores.mean()), 3),
                         REAL_COLUMN.format(noun=data.get(dataset).noun): _real_mean(judges[judge_of[slot]])})
    return (*pictures, pd.DataFrame(rows))


@friendly
def interpolate_seeds(seed_a=0, seed_b=1, steps=10, dataset=data.DEFAULT, request: gr.Request = None):
    """Rows of samples along the great circle from z(seed_a) to z(seed_b): GAN, VAE-GAN, VAE."""
    seed_a, steps = _check(seed_a, steps)
    seed_b, _ = _check(seed_b)
    if steps < 2:
        raise ValueError("Use at least 2 steps.")
    out, session, dataset = [], registry.session_of(request), registry.dataset_name(dataset)
    for slot, _ in SOURCES:
        out.append(grid(inference.interpolate_seeds(registry.get(slot, session, dataset), seed_a, seed_b, steps),
                        nrow=steps) if registry.available(slot, session, dataset) else None)
    return tuple(out)


FILMED = [("gan", "GAN"), ("vaegan", "VAE-GAN")]
TIMELAPSE_INTRO = rf"""
#### Watch the GAN learn
Training filmed $G(z)$ for {T.SAMPLES} fixed codes $z$ (those of seed {T.SEED} above) at up to {T.FRAMES}
steps, densely at the start where «digits» emerge from noise, and the discriminator's mean $D(x)$ on real
training «digits» and on $G(z)$. Early on $D$ tells them apart easily; as $G$ improves, $D(G(z))$ rises
towards $D(\text{{real}})$, and at the game's equilibrium both would be 0.5.
"""
SERIES = {"D(real images)": "#2563eb", "D(G(z))": "#dc2626", "0.5: equilibrium": "#9ca3af", "this frame": "#111827"}


def _timelapse_of(slot, request, dataset=data.DEFAULT):
    """The time-lapse that came with the visitor's `slot` model of `dataset` (None where it has none)."""
    if slot not in dict(FILMED):
        raise ValueError(f"Choose one of {', '.join(dict(FILMED))}, not '{str(slot)[:40]}'.")
    return getattr(registry.get(slot, registry.session_of(request), dataset), "timelapse", None)


def _filmed(slot, request, dataset):
    try:
        return bool(_timelapse_of(slot, request, dataset))
    except registry.ModelMissing:
        return False


def no_timelapse(slot, dataset=data.DEFAULT):
    """The one line shown for a model without a time-lapse, with how to get one."""
    return (f"This {dict(FILMED)[slot]} has no time-lapse: it was trained before training recorded one. "
            f"`{registry.train_command(slot, dataset)}` records it (and the checkpoint keeps it).")


def timelapse_plot(timelapse, index):
    """Rows {step, D, series}: mean D on real images and on G(z) over the steps, the 0.5 line,
    and a vertical line at frame `index`."""
    rows = [{"step": s, "D": round(v, 4), "series": name} for name, values in
            (("D(real images)", timelapse.d_real), ("D(G(z))", timelapse.d_fake))
            for s, v in zip(timelapse.steps, values)]
    step = timelapse.steps[index]
    rows += [{"step": s, "D": 0.5, "series": "0.5: equilibrium"} for s in (timelapse.steps[0], timelapse.steps[-1])]
    rows += [{"step": step, "D": d, "series": "this frame"} for d in (0.0, 1.0)]
    return pd.DataFrame(rows)


@friendly
def timelapse_frame(slot="gan", index=0, dataset=data.DEFAULT, request: gr.Request = None):
    """(frame `index` of the time-lapse as a picture, a line with its step and D scores, the plot
    of D over the steps with that step marked); the line says so where there is no time-lapse."""
    timelapse = _timelapse_of(slot, request, dataset)
    if not timelapse:
        return None, no_timelapse(slot, dataset), pd.DataFrame(columns=["step", "D", "series"])
    try:
        index = min(max(int(index), 0), len(timelapse) - 1)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("The frame must be a whole number.") from None
    step, last = timelapse.steps[index], timelapse.steps[-1]
    line = (f"**Step {step:,}** of {last:,} (frame {index + 1} of {len(timelapse)}): mean D(real images) = "
            f"{timelapse.d_real[index]:.2f}, mean D(G(z)) = {timelapse.d_fake[index]:.2f}.")
    return timelapse.picture(index), line, timelapse_plot(timelapse, index)


def timelapse_open(slot="gan", dataset=data.DEFAULT, request: gr.Request = None):
    """When the tab opens or the model changes: the slider at the last frame and that frame; a
    model without a time-lapse (or no model) hides the player and says so in one line."""
    try:
        timelapse = _timelapse_of(slot, request, dataset)
    except registry.ModelMissing as exc:
        return gr.Column(visible=False), gr.Slider(), None, str(exc), None
    if not timelapse:
        filmed = [title for other, title in FILMED if other != slot and _filmed(other, request, dataset)]
        line = no_timelapse(slot, dataset) + "".join(f" The {title}'s training was filmed: pick it above."
                                                      for title in filmed)
        return gr.Column(visible=False), gr.Slider(), None, line, None
    last = len(timelapse) - 1
    return (gr.Column(visible=True), gr.Slider(minimum=0, maximum=max(last, 1), value=last),
            *timelapse_frame(slot, last, dataset, request))


def _typed_right(*seeds, count):
    """Whether the seeds and the count are ones this tab's callbacks take."""
    try:
        for seed in seeds:
            _check(seed, count)
    except ValueError:
        return False
    return True


def on_open(seed, count, seed_a, seed_b, steps, dataset=data.DEFAULT, request: gr.Request = None):
    """When the tab opens (or the data set changes): samples and an interpolation for the current
    seeds, and a note on what is missing. A seed or count the visitor is still typing wrong leaves
    its pictures as they are and says nothing: the Generate or Interpolate click says it, once."""
    samples, walks = (gr.skip(),) * (len(SOURCES) + 1), (gr.skip(),) * len(SOURCES)
    if _typed_right(seed, count=count):
        try:
            samples = generate(seed, count, dataset, request)
        except gr.Error:
            samples = (None,) * (len(SOURCES) + 1)
    if _typed_right(seed_a, seed_b, count=steps):
        try:
            walks = interpolate_seeds(seed_a, seed_b, steps, dataset, request)
        except gr.Error:
            walks = (None,) * len(SOURCES)
    return (*samples, *walks, notice([s for s, _ in SOURCES], session=registry.session_of(request),
                                     dataset=registry.dataset_name(dataset)))


def build(tab, dataset=None):
    """`dataset`: the app's data-set switch, which every callback here follows."""
    extra = [dataset] if dataset is not None else []
    opens = opening(tab)          # first, so that everything this tab does on opening goes out at once
    words = Words(tab, dataset)
    words.intro(INTRO)
    status = notice_box()
    with gr.Row(equal_height=True):
        seed = gr.Number(label="seed", value=0, precision=0, min_width=100)
        count = gr.Slider(1, MAX_SAMPLES, value=32, step=1, label="samples")
        go = action("Generate", primary=True)
    with gr.Row(equal_height=False):
        pictures = []
        for slot, title in SOURCES:
            with gr.Column(min_width=300):
                gr.Markdown(f"{title}, captioned with D(x)", elem_classes=["grid-title"])
                pictures.append(gr.HTML(min_height=120, elem_id=f"samples-{slot}", elem_classes=["samples"]))
    scores = gr.Dataframe(label="Mean D(x): a discriminator's probability that its generator's samples are real, "
                                "and that real test images are",
                          interactive=False)
    words.note(EQUILIBRIUM, elem_classes=["note"])
    outputs = [*pictures, scores]
    go.click(generate, [seed, count, *extra], outputs, api_name="generate", **KEEP)
    seed.submit(generate, [seed, count, *extra], outputs, api_visibility="private", **KEEP)
    count.release(generate, [seed, count, *extra], outputs, api_visibility="private", **KEEP)

    words.intro(TIMELAPSE_INTRO)
    filmed = gr.Radio([(title, slot) for slot, title in FILMED], value="gan", label="model", elem_id="timelapse-model")
    film_note = gr.Markdown(elem_id="timelapse-note")
    with gr.Column(visible=False, elem_id="timelapse") as player:
        frame = gr.Slider(0, T.FRAMES - 1, value=0, step=1, label="frame (earlier ← training → later)",
                          elem_id="timelapse-frame")
        with gr.Row(equal_height=False):
            film = image_box(label="G(z) at this step", format="png", interactive=False, elem_classes=["pixelated"],
                             height=260, min_width=220)
            curve = gr.LinePlot(x="step", y="D", color="series", color_map=SERIES, color_title="", y_lim=[0, 1],
                                x_title="training step", y_title="mean D(x)", label="D on real images and on G(z)",
                                height=260, min_width=300, elem_id="timelapse-plot")
    frame.input(timelapse_frame, [filmed, frame, *extra], [film, film_note, curve], api_name="timelapse_frame",
                trigger_mode="always_last", **KEEP)
    filmed.change(timelapse_open, [filmed, *extra], [player, frame, film, film_note, curve], api_visibility="private",
                  **KEEP)

    intro("#### Interpolation between two seeds\nSpherical interpolation between $z_A$ and $z_B$ keeps every "
          "intermediate $z$ as long as a typical Gaussian sample.")
    with gr.Row(equal_height=True):
        seed_a = gr.Number(label="seed A", value=0, precision=0, min_width=100)
        seed_b = gr.Number(label="seed B", value=1, precision=0, min_width=100)
        steps = gr.Slider(2, 16, value=10, step=1, label="steps")
        walk = action("Interpolate")
    rows = [image_box(label=title, format="png", interactive=False, elem_classes=["pixelated"], height=110)
            for _, title in SOURCES]
    walk.click(interpolate_seeds, [seed_a, seed_b, steps, *extra], rows, api_name="interpolate_seeds", **KEEP)
    # the app's switch: this tab follows it (a tab not opened yet redraws as it opens)
    switch = words.follow()
    for opened in (opens.then, *([switch[0].success] if switch is not None else [])):
        opened(on_open, [seed, count, seed_a, seed_b, steps, *extra], [*outputs, *rows, status],
               api_visibility="private")
        opened(timelapse_open, [filmed, *extra], [player, frame, film, film_note, curve], api_visibility="private")
    preload.register("generate", lambda dataset: on_open(0, 32, 0, 1, 10, dataset), each_dataset=True)
    return seed
