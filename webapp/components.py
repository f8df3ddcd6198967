"""Widgets and helpers shared by the tabs: friendly errors, digit inputs, intro text.

Every callback that shows data takes the visitor's data set (the value of the app's data-set
switch, a name from `deepgen.data.DATASETS`); nothing here keeps it between calls."""
import functools
import hashlib
import logging
import math
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
from gradio.data_classes import ImageData
import numpy as np
from PIL import Image, UnidentifiedImageError

from deepgen import CheckpointError, DataMissing
from deepgen import data as D
from deepgen.preprocess import NOT_AN_IMAGE, InputError, from_image, from_photo

from . import testset, uploads
from .pictures import digit_grid_html, digit_image, png_bytes, png_data_url
from .rebuilt import override
from .registry import ModelMissing
from .sketch import check_payload as check_sketch, from_sketch, guard_blobs

log = logging.getLogger("deepgen.app")
USER_ERRORS = (InputError, ValueError, ModelMissing, CheckpointError, DataMissing, testset.TestSetMissing)
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
MAX_SEED = 2**63 - 1        # torch.Generator.manual_seed takes no more
# Listener options for an action that can fail: Gradio 6 covers every output of a failed event with
# an "Error" badge unless the event's progress is hidden; hidden, the outputs keep what they showed
# and the message appears as a toast.
KEEP = {"show_progress": "hidden"}


def friendly(fn):
    """Turn the errors a user can cause into a short gr.Error, logged in one line; anything else
    is logged with its traceback and reported in one line. The app and every other session keep
    working either way."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except USER_ERRORS as exc:
            raise user_error(fn.__name__, exc) from None
        except Exception as exc:  # noqa: BLE001 - a callback must never take the app down
            log.exception("callback %s failed", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(exc).__name__}: {exc}).",
                           print_exception=False) from None
    return wrapper


def user_error(where, exc):
    """A user's mistake as a gr.Error, logged in one line, without Gradio printing a traceback."""
    log.info("%s refused: %s", where, " ".join(str(exc).split())[:300])
    return gr.Error(str(exc), title="Cannot do that", print_exception=False)


def intro(text):
    """The explanation and formula that open a tab."""
    return gr.Markdown(text, latex_delimiters=LATEX, elem_classes=["intro"])


def class_word(dataset=D.DEFAULT, plural=False):
    """What one class of `dataset` is called: "digit" for MNIST, "class" otherwise (or "digits",
    "classes")."""
    if as_dataset(dataset) == D.DEFAULT:
        return "digits" if plural else "digit"
    return "classes" if plural else "class"


WORDS = {"«a digit»": lambda ds: ("an " if ds.noun[0] in "aeiou" else "a ") + ds.noun,
         "«digit»": lambda ds: ds.noun, "«digits»": lambda ds: ds.noun + "s",
         "«class»": lambda ds: class_word(ds.name),
         "«MNIST»": lambda ds: ds.title, "«style»": lambda ds: ds.style}


def in_words(text, dataset=D.DEFAULT):
    """`text` in the words of `dataset`: «digit» and «digits» become its noun ("item"), «a digit» the
    noun with its article ("an item"), «class» the word for its classes ("digit", "class"), «MNIST»
    its title and «style» what a style holds."""
    ds = D.get(as_dataset(dataset))
    for token, word in WORDS.items():
        text = text.replace(token, word(ds))
    return text


class Words:
    """A tab's explanations, whose words follow the app's data-set switch (`in_words`): make each
    with `intro` or `note`, then call `follow` once, which changes them in the same event as the
    rest of the tab's part that follows the switch (every event more delays the page's others)."""

    def __init__(self, tab, dataset):
        self.tab, self.dataset, self.texts, self.boxes = tab, dataset, [], []

    def intro(self, text):
        return self._add(intro(in_words(text)), text)

    def note(self, text, **kwargs):
        return self._add(gr.Markdown(in_words(text), latex_delimiters=LATEX, **kwargs), text)

    def _add(self, box, text):
        self.texts.append(text)
        self.boxes.append(box)
        return box

    def follow(self, fn=None, outputs=(), inputs=()):
        """`follow` for `fn`'s `outputs` (if any) and these explanations together; its (switch,
        open) events, or None without a data-set switch."""
        if self.dataset is None:
            return None
        texts, outputs = list(self.texts), list(outputs)

        def both(dataset, *args, request=None):
            values = fn(dataset, *args, request=request) if fn is not None else ()
            values = (values if len(outputs) > 1 else (values,)) if outputs else ()
            words = (*values, *(in_words(t, dataset) for t in texts))
            return words if len(words) > 1 else words[0]
        return follow(self.tab, self.dataset, both, [*outputs, *self.boxes], inputs=inputs)


def picture(x):
    """1×1×28×28 tensor → 28×28 uint8 for a gr.Image."""
    return digit_image(x)


def as_dataset(value):
    """The data-set switch's value (None or "": MNIST) → a name in `deepgen.data.DATASETS`;
    InputError naming the choices otherwise."""
    try:
        return D.get(value or D.DEFAULT).name
    except ValueError as exc:
        raise InputError(str(exc)[0].upper() + str(exc)[1:] + ".") from None


def class_names(dataset=D.DEFAULT):
    """The name of each class of `dataset` by label ("0"–"9" for MNIST)."""
    return list(D.class_names(as_dataset(dataset)))


def as_label(value, dataset=D.DEFAULT):
    """A true label as the label box holds it ("7", 7, a class name such as "Trouser", or empty)
    → int 0–9 or None."""
    if value is None or str(value).strip() == "":
        return None
    names = class_names(dataset)
    if str(value).strip() in names:
        return names.index(str(value).strip())
    number = _whole(value)
    if number is None or not 0 <= number < len(names):
        if names == [str(d) for d in range(len(names))]:
            raise InputError(f"A label is a digit 0–{len(names) - 1}, not '{_shown(value)}'.")
        raise InputError(f"A label is a class ({', '.join(names)}) or its number 0–{len(names) - 1}, "
                         f"not '{_shown(value)}'.")
    return number


def as_seed(value, default=0):
    """A seed as a number box or an API call gives it (7, 7.0, "7"; None: `default`) → an int
    from 0 to 2^63−1, which is what torch.Generator.manual_seed takes; InputError otherwise."""
    if value is None or str(value).strip() == "":
        return default
    number = _whole(value)
    if number is None or not 0 <= number <= MAX_SEED:
        raise InputError(f"A seed is a whole number from 0 to 2^63−1, not '{_shown(value)}'.")
    return number


def _whole(value):
    """An int from an int, a whole finite float or a string of either; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number.is_integer() else None


def _shown(value, limit=40):
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def how_to_give(dataset=D.DEFAULT):
    """What a tab asks for: "draw one, upload one or pick a test digit" and the like."""
    ds = D.get(as_dataset(dataset))
    if ds.input == "draw":
        return f"draw one, upload one or pick a test {ds.noun}"
    return f"upload a photo or pick a test {ds.noun}"


def as_digit(image, dataset=D.DEFAULT):
    """A value of a digit image component (PIL, array, path) → 1×1×28×28 made like `dataset`'s
    images (an MNIST digit from a drawing or picture; a Fashion-MNIST item from a photo);
    InputError if none."""
    ds = D.get(as_dataset(dataset))
    if image is None:
        raise InputError(f"There is no {ds.noun} yet: {how_to_give(ds.name)}.")
    return from_image(image) if ds.input == "draw" else from_photo(image)[None]


def guarded(component):
    """Bound what an image or sketchpad component accepts, before Gradio decodes anything, and
    give short messages for pictures too large or unreadable (a text file, a broken PNG).

    A `gr.Image(type="pil", image_mode=None)` gets its payload opened by `uploads.open_payload`
    (not yet decoded, a large JPEG set to decode reduced); other image components and the
    sketchpad check their payloads' headers against the decoding budget, `data:` URLs included
    (see `webapp.uploads`), then decode as Gradio does.

    (The wrapped `preprocess` also reaches the copies Gradio builds of the component: see
    `webapp.rebuilt`.)"""
    original = component.preprocess
    is_sketch = isinstance(component, gr.ImageEditor)
    lazy = not is_sketch and component.type == "pil" and component.image_mode is None

    def preprocess(payload):
        try:
            if is_sketch:
                check_sketch(payload, component.blob_storage)
            elif lazy:
                return uploads.open_payload(payload)
            else:
                uploads.check_payload(payload)
            return original(payload)
        except InputError as exc:
            raise user_error(f"{type(component).__name__} input", exc) from None
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
            raise user_error(f"{type(component).__name__} input", InputError(NOT_AN_IMAGE)) from exc

    override(component, "preprocess", preprocess)
    if is_sketch:
        guard_blobs(component)
    return component


def image_box(inline=False, **kwargs):
    """gr.Image with the short message for unreadable files, whose pictures leave as PNG files
    written once (see `png_file`), or with `inline` in the answer itself as a PNG data URL: no
    file for Gradio to copy and serve nor for the browser or an API client to fetch. Only an
    output that no event reads back may be inline (Gradio reads an image input from a file)."""
    box = guarded(gr.Image(**kwargs))
    original = box.postprocess

    def postprocess(value):
        if isinstance(value, np.ndarray) and inline:
            return ImageData(url=png_data_url(value), orig_name="picture.png", mime_type="image/png")
        return original(png_file(value) if isinstance(value, np.ndarray) else value)

    override(box, "postprocess", postprocess)
    return box


def digit_grid(label, columns, elem_classes=(), **kwargs):
    """An output grid of captioned digits sent inline as one HTML string (`pictures.digit_grid_html`):
    no file per digit for the browser or an API client to fetch. Its callback returns the
    (28×28 uint8, caption) pairs that a `digit_gallery` takes."""
    box = gr.HTML(label=label, show_label=True, container=True, min_height=60,
                  elem_classes=["samples", "labelled-grid", *elem_classes], **kwargs)
    original = box.postprocess

    def postprocess(value):
        if isinstance(value, (list, tuple)):
            value = digit_grid_html(value, columns)
        return original(value)
    override(box, "postprocess", postprocess)
    return box


def digit_gallery(label, columns, elem_classes=(), **kwargs):
    """An output gallery of digits, each with its caption as text under it (see
    `pictures.captioned`); the 28×28 pictures leave as PNG files written once (see `png_file`) and
    the page scales them to the width with sharp pixels (CSS class `digits`)."""
    box = gr.Gallery(label=label, columns=columns, format="png", interactive=False, object_fit="contain",
                     allow_preview=True, elem_classes=["digits", *elem_classes],
                     buttons=["download", "fullscreen"], **kwargs)
    original = box.postprocess

    def postprocess(value):
        if value is not None:
            value = [(png_file(img) if isinstance(img, np.ndarray) else img, caption) for img, caption in value]
        return original(value)

    override(box, "postprocess", postprocess)
    return box


PNG_DIR = Path(tempfile.gettempdir()) / "deepgen-app"
KEEP_PNGS = 4000
PNG_MAX_AGE = 3600          # seconds; `prune_pngs` also runs from the app's periodic sweep


def png_file(array):
    """A picture (uint8 array) as a PNG file named by its content, written atomically once.

    Gradio writes an array output to its cache by rewriting the file named after its hash every
    time the same picture is returned, so a browser still fetching the previous copy can read a
    truncated file (a broken image). A file path, in contrast, Gradio copies once, atomically."""
    data = png_bytes(array)
    path = PNG_DIR / f"{hashlib.sha1(data).hexdigest()}.png"
    if not path.exists():
        PNG_DIR.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        staging.write_bytes(data)
        os.replace(staging, path)
        if random.random() < 0.01:
            _prune(PNG_DIR)
    return str(path)


def _prune(folder, max_age=PNG_MAX_AGE):
    """Keep the newest KEEP_PNGS files, none older than `max_age` seconds (Gradio has its own
    copies of what it serves)."""
    try:
        files = sorted(((f.stat().st_mtime, f) for f in folder.glob("*.png")), key=lambda t: t[0])
        too_old = time.time() - max_age
        for i, (mtime, old) in enumerate(files):
            if i < len(files) - KEEP_PNGS or mtime < too_old:
                old.unlink(missing_ok=True)
    except OSError:
        pass


def prune_pngs():
    _prune(PNG_DIR)


def sketchpad(label="Draw a digit", brush=22):
    """The drawing canvas: 280×280, a thick black brush, ink in the alpha channel of the composite."""
    return guarded(gr.Sketchpad(
        label=label, canvas_size=(280, 280), layers=False, transforms=(), type="numpy", image_mode="RGBA",
        brush=gr.Brush(default_size=brush, colors=["#000000"], color_mode="fixed"), format="png",
        elem_classes=["digit-pad"]))


def action(text, primary=False):
    """A button that sits beside inputs in a row without stretching to their height."""
    return gr.Button(text, variant="primary" if primary else "secondary", scale=0, min_width=140,
                     elem_classes=["action"])


def digit_output(label, height=140, inline=False, **kw):
    """A 28×28 digit shown large with sharp pixels (`inline`: see `image_box`)."""
    return image_box(inline=inline, label=label, type="pil", image_mode=None, format="png", interactive=False,
                     height=height, elem_classes=["pixelated"], buttons=["download"], **kw)


# --- the three ways in: draw, upload, pick ----------------------------------------------------

@friendly
def prepare_sketch(sketch, dataset=D.DEFAULT):
    """Sketchpad value → (28×28 MNIST-style digit, no true label). Drawing is for data sets of
    drawn images (MNIST); the others take a photo or a test image."""
    ds = D.get(as_dataset(dataset))
    if ds.input != "draw":
        raise InputError(f"{ds.title} has no drawings: {how_to_give(ds.name)}.")
    return picture(from_sketch(sketch)), None


def sketch_changed(sketch, dataset=D.DEFAULT):
    """`prepare_sketch` for the canvas's change event, which also fires (with no picture) when the
    canvas is cleared: then the chain stops quietly; a drawn-then-erased canvas still says so."""
    if sketch is None or (isinstance(sketch, dict) and sketch.get("composite") is None):
        raise gr.Error("The canvas is empty.", visible=False, print_exception=False)
    return prepare_sketch(sketch, dataset)


@friendly
def prepare_upload(image, dataset=D.DEFAULT):
    """Uploaded picture → (28×28 image made like `dataset`'s, no true label): an MNIST-style digit,
    or a product photo made Fashion-MNIST-like (`deepgen.preprocess.from_photo`)."""
    ds = D.get(as_dataset(dataset))
    return picture(from_image(image) if ds.input == "draw" else from_photo(image)), None


@friendly
def pick_test_digit(index, dataset=D.DEFAULT):
    """Test-set index (or "random") → (28×28 image, the name of its class, its index)."""
    dataset = as_dataset(dataset)
    x, label, index = testset.digit(index, dataset)
    return picture(x), class_names(dataset)[label], index


def pick_random(dataset=D.DEFAULT):
    return pick_test_digit("random", dataset)


def input_texts(dataset, label="Digit", pad_label="Draw a digit"):
    """The labels of a DigitInput's parts for `dataset` (MNIST keeps the digit wording)."""
    ds = D.get(as_dataset(dataset))
    if ds.input == "draw":
        upload, shown = f"Upload a picture of a {ds.noun}", label
    else:
        upload = f"Upload a photo of a {ds.noun} ({', '.join(ds.classes[:3])}, …)"
        shown = label.replace("digit", ds.noun).replace("Digit", ds.noun.capitalize())
    return {"pad": pad_label, "upload": upload, "index": f"{ds.title} test {ds.noun} (0–9999)",
            "shown": f"{shown}: 28×28 input", "info": f"test {ds.noun}s only"}


def slider_value(v, name, limit):
    """A latent slider's value `v` as a float; ValueError naming slider `name` unless it is a number
    in [−limit, limit] (the API takes any value, the page only the slider's)."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {v!r}.") from None
    if not math.isfinite(v) or abs(v) > limit + 1e-9:
        raise ValueError(f"{name} = {v:g} is outside the sliders' range [−{limit:g}, {limit:g}].")
    return v


def pick_if_empty(shown, index, dataset=D.DEFAULT):
    """`pick_test_digit(index)` where no image is shown yet; otherwise nothing changes."""
    if shown is not None:
        raise _quiet()
    return pick_test_digit(index, dataset)


class DigitInput:
    """Draw, upload or pick a test image of the visitor's data set. `digit` shows the 28×28 input
    the models see and `label` holds the class name of a picked test image (None otherwise).

    With the app's data-set switch (`dataset`, a component), the pickers read that set's test
    set, uploads are made like its images, and a switch shows test image `start` of the new set
    (drawing is offered only for data sets of drawings: MNIST)."""

    def __init__(self, name, label="Digit", api=False, pad_label="Draw a digit", dataset=None, start=0, tab=None,
                 landing=False):
        """`tab`: the app's tab this input sits in (`landing`: the tab the page opens on), which
        `follow` needs to bring the input up to date with the switch."""
        self.name, self.start, self.texts = name, start, (label, pad_label)
        visibility = "public" if api else "private"
        texts = input_texts(D.DEFAULT, label, pad_label)
        extra = [dataset] if dataset is not None else []
        with gr.Tabs(selected="draw") as self.tabs:
            with gr.Tab("Draw", id="draw") as self.draw_tab:
                self.sketch = sketchpad(pad_label)
            with gr.Tab("Upload", id="upload"):
                self.upload = image_box(label=texts["upload"], type="pil", image_mode=None,
                                        sources=["upload", "clipboard"], format="png", height=280)
            with gr.Tab("Test set", id="test") as test_tab:
                self.index = gr.Number(label=texts["index"], value=0, precision=0)
                with gr.Row():
                    self.show = gr.Button("Show this one", size="md")
                    self.random = gr.Button("Random", size="md", variant="secondary")
        with gr.Row(equal_height=True):
            self.digit = digit_output(texts["shown"], height=120, scale=3, min_width=120)
            # wide enough for the longest class name on one line ("T-shirt/top", "Ankle boot")
            self.label = gr.Textbox(label="true label", info=texts["info"], interactive=False,
                                    scale=2, min_width=130, placeholder="–")
        out = [self.digit, self.label]
        self.events = [
            self.sketch.change(sketch_changed, [self.sketch, *extra], out, trigger_mode="always_last",
                               show_progress="hidden", api_name=f"{name}_sketch", api_visibility=visibility),
            self.upload.upload(prepare_upload, [self.upload, *extra], out, api_name=f"{name}_upload",
                               api_visibility=visibility, **KEEP),
            self.show.click(pick_test_digit, [self.index, *extra], [*out, self.index], api_name=f"{name}_pick",
                            api_visibility=visibility, **KEEP),
            self.random.click(pick_random, extra, [*out, self.index], api_visibility="private", **KEEP),
            # opening the picker shows its test image at once, unless an image is already there
            test_tab.select(pick_if_empty, [self.digit, self.index, *extra], [*out, self.index],
                            api_visibility="private", **KEEP),
        ]
        if dataset is not None:
            self.events += follow(tab, dataset, self.switch, [self.draw_tab, self.tabs, self.upload, self.index, *out],
                                  landing=landing)
        self.cleared = self.sketch.clear(lambda: (None, None), None, out, api_visibility="private")

    def switch(self, dataset, request=None):
        """The input for a newly chosen data set: drawing offered only for drawn data sets (for
        the others the Draw tab is disabled and the test-set picker shown), labels in its words,
        and its test image `start` picked (the tab's models then run on it)."""
        dataset = as_dataset(dataset)
        draws = D.get(dataset).input == "draw"
        texts = input_texts(dataset, *self.texts)
        try:
            image, label, _ = pick_test_digit(self.start, dataset)
        except gr.Error:                      # the test set is missing: the tab's notice says so
            image, label = None, None
        # (a Tab's visibility cannot change once the page is drawn; its being enabled can)
        return (gr.update(interactive=draws, label="Draw" if draws else "Draw (digits only)"),
                gr.update(selected="draw" if draws else "test"),
                gr.update(label=texts["upload"], value=None), gr.update(label=texts["index"], value=self.start),
                gr.update(label=texts["shown"], value=image),
                gr.update(value=label, info=texts["info"]))

    def then(self, fn, inputs, outputs, api_name=None, after_clear=False, **kw):
        """Run fn after every way of setting the digit; the first listener carries `api_name`.
        Clearing the pad blanks `outputs`, or with `after_clear` runs fn on the empty input.

        Chained to the input's own events, fn reads its other inputs once the page has applied
        everything the event changed; a `.change` listener on `digit` could read them before
        that: after a switch, a stale class name that the server's checkbox no longer offers."""
        for i, event in enumerate(self.events):
            public = i == 0 and api_name is not None
            event.success(fn, inputs, outputs, api_name=api_name if public else None,
                          api_visibility="public" if public else "private", **kw)
        if after_clear:
            self.cleared.then(fn, inputs, outputs, api_visibility="private", **kw)
            return
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        blank = (lambda: None) if len(outputs) == 1 else (lambda: (None,) * len(outputs))
        self.sketch.clear(blank, None, outputs, api_visibility="private")


FOLLOW = "follow"        # the concurrency id of `follow`'s quick events
HIDDEN = {"api_visibility": "private", **KEEP}   # listeners of the page's own, off the API
QUICK = {**HIDDEN, "concurrency_id": FOLLOW, "concurrency_limit": None}   # and outside the model-work limit


def _quiet():
    """The error that ends an event without a word, so that nothing chained to it runs."""
    return gr.Error("Nothing to do.", visible=False, print_exception=False)


def opening(tab):
    """The event to hang a tab's work on when it opens, in place of `tab.select` (make it before
    any other): the page runs the listeners of one trigger one after another, each waiting for
    the one before, while those chained to one event go out together. `follow` chains the tab's
    parts to it. A part that catches up with the switch as the tab opens and the tab's own work
    may then run side by side: both work on the chosen data set, and the part's own chains
    redraw what it changed."""
    if not hasattr(tab, "opening"):
        tab.opening = tab.select(None, None, None, **HIDDEN)
    return tab.opening


def follow(tab, dataset, fn, outputs, inputs=(), landing=False):
    """Keep part of a tab in step with the app's data-set switch: `fn(dataset, *inputs,
    request=...)` gives `outputs` for a newly chosen data set.

    Gradio puts a tab's components into the page only when the tab is first opened, and drops
    the updates sent to them before. So a switch updates the part at once where the page holds
    it (the `landing` tab, or a tab opened before), and otherwise opening the tab brings it up to
    date; per visitor, States remember which data set the part shows and whether the page holds
    it. Returns the two events (switch, open) for `.success` chains, which run only when the part
    changed. Without a `tab`, every switch updates the part.

    Every part's switch runs in one event, made by `follow_switch` once all parts are known: the
    page runs one trigger's listeners one after another, each waiting for the one before to come
    back, so with a listener per part a tab made late changed seconds after a click. `fn` should
    be quick (words, a test image): these events run outside the app's limit on model work
    (concurrency id `FOLLOW`); chain model work to the events."""
    part = Part(fn, list(outputs), list(inputs), on_page=landing or tab is None)
    if not hasattr(dataset, "parts"):
        dataset.parts = []
    dataset.parts.append(part)
    events = [part.switches.change(None, None, None, **HIDDEN)]
    if tab is not None:
        def opened(request: gr.Request, dataset, showing, opens, *args):
            return (*part.update(as_dataset(dataset), showing, opens, args, request), True)
        opening(tab).then(opened, [dataset, part.shown, part.opens, *part.inputs],
                          [*part.outputs, part.shown, part.opens, part.on_page], **QUICK)
        events.append(part.opens.change(None, None, None, **HIDDEN))
    return events


class Part:
    """A part of a tab that follows the switch (see `follow`). Its States: the data set it shows,
    whether the page holds it, and how many switches and openings have changed it, whose changes
    are the events that the part's model work is chained to."""

    def __init__(self, fn, outputs, inputs, on_page):
        self.fn, self.outputs, self.inputs, self.on_page = fn, outputs, inputs, gr.State(on_page)
        # `follow_switch` puts the counts outside the tabs: in a tab the page had not drawn yet, a
        # State fired its change at the first switch although the server left it as it was
        self.shown, self.switches, self.opens = gr.State(D.DEFAULT), gr.State(0, render=False), gr.State(0, render=False)

    def unchanged(self):
        return (gr.skip(),) * (len(self.outputs) + 2)

    def update(self, dataset, showing, count, args, request):
        """The part's outputs for `dataset`, then the data set and `count` + 1; all skipped where
        the part shows it already (or fails: it says why, and the rest of the page goes on)."""
        if dataset == showing:
            return self.unchanged()
        try:
            values = () if self.fn is None else friendly(self.fn)(dataset, *args, request=request)
        except gr.Error as exc:
            if exc.visible:
                gr.Warning(exc.message)
            return self.unchanged()
        return (*(values if len(self.outputs) != 1 else (values,)), dataset, count + 1)


def follow_switch(dataset):
    """The switch's one event: it switches every part that `follow` registered on `dataset`."""
    parts = getattr(dataset, "parts", [])
    for p in parts:
        p.switches.render()
        p.opens.render()
    inputs = [dataset] + [c for p in parts for c in (p.on_page, p.shown, p.switches, *p.inputs)]
    outputs = [c for p in parts for c in (*p.outputs, p.shown, p.switches)]

    def switch_parts(request: gr.Request, dataset, *values):
        dataset, values, out = as_dataset(dataset), list(values), []
        for p in parts:
            n = 3 + len(p.inputs)
            (page_holds_it, showing, switches, *args), values = values[:n], values[n:]
            out += p.update(dataset, showing, switches, args, request) if page_holds_it else p.unchanged()
        return tuple(out)
    return dataset.change(switch_parts, inputs, outputs, **QUICK)


def when_switched(tab, dataset, landing=False):
    """The event to chain a tab's own redrawing to after a switch: it goes on only where the page
    holds the tab's components (a tab not opened yet redraws as it opens; see `follow`)."""
    return follow(tab, dataset, None, [], landing=landing)[0]


def notice(slots, needs_testset=False, session=None, dataset=D.DEFAULT):
    """Markdown naming what a tab lacks on `dataset` (a missing checkpoint, the test set), or ''."""
    from . import registry
    lines = []
    for slot in slots:
        try:
            registry.get(slot, session, dataset)
        except ModelMissing as exc:
            lines.append(f"**Missing:** {exc}")
    if needs_testset:
        try:
            testset.tensors(dataset)
        except testset.TestSetMissing as exc:
            lines.append(f"**Missing:** {exc}")
    return "\n\n".join(lines)


def notice_box():
    return gr.Markdown(elem_classes=["notice"])
