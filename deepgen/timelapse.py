"""Watch a GAN learn: the samples of fixed codes z and the discriminator's mean D(x) on real and
on generated digits, filmed at steps spread over a training run, densely at the start, where
digits emerge from noise. A run keeps its time-lapse in its resumable state
(`training.Run.state_dict`), and `deepgen.save` / `deepgen.load` carry it beside the weights as
`timelapse.safetensors` (uint8 frames, float scores): read without unpickling, and checked."""
import math

import torch

from .images import grid, to_uint8

FILE = "timelapse.safetensors"
FRAMES = 32            # steps filmed in a run, step 0 (the untrained generator) included
SAMPLES = 16           # digits in a frame: the first codes of seed SEED, as the Generate tab draws them
JUDGED = 64            # real training digits, and generated ones, that D scores at each frame
SEED = 0
MAX_BYTES = 2_000_000  # the largest file `from_bytes` reads
MAX_FRAMES = 256
MAX_SAMPLES = 64
MAX_SIDE = 64
DTYPES = {"steps": torch.int64, "frames": torch.uint8, "d_real": torch.float32, "d_fake": torch.float32}


class TimeLapseError(ValueError):
    """A time-lapse that cannot be read; the message says why."""


def schedule(total_steps, frames=FRAMES, first=10):
    """The steps a run of `total_steps` films: step 0, half of the others evenly spaced to the
    end, and half spaced geometrically from step `first` to the first of those (the first few
    hundred steps change the most); evenly spaced steps in a run too short for that, every step
    in a run shorter than `frames`. At most `frames` steps."""
    if total_steps < frames:
        return list(range(total_steps + 1))
    even = (frames - 1) // 2
    geometric = frames - 1 - even
    interval = total_steps / even
    if interval < 10 * first:
        return sorted({round(total_steps * k / (frames - 1)) for k in range(frames)})
    steps = {0} | {round(interval * k) for k in range(1, even + 1)}
    steps |= {round(first * (interval / first) ** (k / geometric)) for k in range(geometric)}
    return sorted(steps)


class TimeLapse:
    """Frames (SAMPLES × H × W uint8 each), the step of each, and D's mean score on real digits
    (`d_real`) and on generated ones (`d_fake`) at that step. `due(step)` says whether the
    schedule films `step`; a time-lapse read from a file has no schedule."""

    def __init__(self, steps_to_film=()):
        self.schedule = frozenset(steps_to_film)
        self.steps, self.frames, self.d_real, self.d_fake = [], [], [], []

    def __len__(self):
        return len(self.steps)

    def due(self, step):
        return step in self.schedule and (not self.steps or step > self.steps[-1])

    @torch.no_grad()
    def film(self, step, model, real):
        """Add the frame of `step`: G(z) of the first SAMPLES of JUDGED fixed codes, and the
        mean D(x) on `real` and on G(z) of all JUDGED codes. `model` (a GAN or VAE-GAN, with
        `sample` and `judge`) should be in eval mode, so that filming changes nothing."""
        fake = model.sample(JUDGED, generator=torch.Generator().manual_seed(SEED))
        self.steps.append(int(step))
        self.frames.append(torch.from_numpy(to_uint8(fake[:SAMPLES, 0])))
        self.d_real.append(model.judge(real).float().mean().item())   # float32 values: stored exactly
        self.d_fake.append(model.judge(fake).float().mean().item())

    def picture(self, index, nrow=4):
        """Frame `index` as one H×W uint8 grid of its digits."""
        return grid(self.frames[index][:, None].float() / 255, nrow=nrow)

    def state_dict(self):
        frames = torch.stack(self.frames) if self.frames else torch.zeros(0, 0, 0, 0, dtype=torch.uint8)
        return {"steps": torch.tensor(self.steps, dtype=torch.int64), "frames": frames,
                "d_real": torch.tensor(self.d_real, dtype=torch.float32),
                "d_fake": torch.tensor(self.d_fake, dtype=torch.float32)}

    def load_state_dict(self, state):
        """Take the frames of `state` (checked: TimeLapseError names what is wrong)."""
        _check(state)
        self.steps = state["steps"].tolist()
        self.frames = [f.clone() for f in state["frames"]]
        self.d_real, self.d_fake = state["d_real"].tolist(), state["d_fake"].tolist()

    def to_bytes(self):
        from safetensors.torch import save
        return save(self.state_dict(), metadata={"format": "deepgen-timelapse"})

    def save(self, path):
        with open(path, "wb") as file:
            file.write(self.to_bytes())


def from_bytes(data):
    """The TimeLapse in the bytes of a `timelapse.safetensors` file (TimeLapseError if they are
    not one: too large, not safetensors, or tensors other than a time-lapse's)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    if len(data) > MAX_BYTES:
        raise TimeLapseError(f"the time-lapse is over the limit of {MAX_BYTES:,} bytes")
    try:
        state = load(bytes(data))
    except (SafetensorError, ValueError, TypeError, RuntimeError) as exc:
        raise TimeLapseError(f"the time-lapse is not a readable safetensors file: {exc}") from None
    timelapse = TimeLapse()
    timelapse.load_state_dict(state)
    return timelapse


def _check(state):
    if not isinstance(state, dict) or set(state) != set(DTYPES):
        names = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise TimeLapseError(f"a time-lapse holds {', '.join(DTYPES)}, not {names}")
    wrong = [k for k, dtype in DTYPES.items() if not isinstance(state[k], torch.Tensor) or state[k].dtype != dtype]
    if wrong:
        raise TimeLapseError(f"the time-lapse's {', '.join(wrong)} have the wrong type")
    steps, frames = state["steps"], state["frames"]
    count = len(steps) if steps.dim() == 1 else -1
    if not 0 <= count <= MAX_FRAMES or any(state[k].shape != (count,) for k in ("d_real", "d_fake")):
        raise TimeLapseError(f"a time-lapse has one step and two scores per frame, at most {MAX_FRAMES}")
    if frames.dim() != 4 or len(frames) != count or (count and not (
            1 <= frames.shape[1] <= MAX_SAMPLES and all(1 <= s <= MAX_SIDE for s in frames.shape[2:]))):
        raise TimeLapseError(f"the time-lapse's frames are {list(frames.shape)}: not {count} frames of at most "
                             f"{MAX_SAMPLES} digits of at most {MAX_SIDE}×{MAX_SIDE} pixels")
    if count and (steps[0] < 0 or (steps[1:] <= steps[:-1]).any()):
        raise TimeLapseError("the time-lapse's steps are not increasing")
    scores = torch.cat([state["d_real"], state["d_fake"]])
    if not all(math.isfinite(v) and 0 <= v <= 1 for v in scores.tolist()):
        raise TimeLapseError("the time-lapse's scores are not probabilities")
