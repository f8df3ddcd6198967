"""What the Latent space tab draws about one digit's code: its posterior N(μ, σ²) dimension by
dimension beside each dimension's KL (an inline SVG that follows the page's light or dark theme,
with the exact numbers on hover), the reconstruction error as a heat map, and the ELBO's two
terms as a formula filled with the digit's numbers."""
import html

import numpy as np

INACTIVE_KL = 0.01          # nats: a dimension whose mean KL stays below this carries nothing about X
BLUE, ORANGE = "#3b82c4", "#f28e2b"
HEAT = np.array([(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66),
                 (245, 125, 21), (250, 193, 39), (252, 255, 164)], dtype=np.float64)
"""Anchors of the heat map's colour scale (matplotlib's inferno): black (0) to pale yellow (top)."""


def inactive(kl_mean, threshold=INACTIVE_KL):
    """Which dimensions are switched off: mean KL below `threshold` nats (a bool per dimension)."""
    return [float(v) < threshold for v in kl_mean]


def heat_map(error, top=1.0):
    """Per-pixel error (28×28, nats) → an RGB uint8 picture, 0 black, `top` nats or more pale yellow."""
    t = np.clip(np.asarray(error, dtype=np.float64) / top, 0, 1) * (len(HEAT) - 1)
    low = np.minimum(t.astype(int), len(HEAT) - 2)
    frac = (t - low)[..., None]
    return np.round(HEAT[low] * (1 - frac) + HEAT[low + 1] * frac).astype(np.uint8)


def number(v, digits=2):
    """A number as text, with a true minus sign."""
    return f"{float(v):.{digits}f}".replace("-", "−")


def posterior_chart(order, kl_mean, mu=None, sigma=None, kl_digit=None, limit=3.5):
    """An SVG chart of the dimensions in `order`: on top (when a digit is given) the bar μ_i with
    the band μ_i ± σ_i and the prior's ±1 as dashed lines; below, each dimension's KL_i averaged
    over test digits (grey) and, for the digit, its own KL_i (orange). Inactive dimensions
    (`inactive`) are labelled "off". Hovering a column shows its numbers."""
    n = len(order)
    col, left, right = 26, 44, 8
    width = left + n * col + right
    top_h = 190 if mu is not None else 0
    kl_top = top_h + 26
    kl_h = 110
    height = kl_top + kl_h + 34
    has_mean = kl_mean is not None              # without the test set, only the digit's own KL
    kl_mean = kl_mean if has_mean else [0.0] * (max(order) + 1)
    off = inactive(kl_mean) if has_mean else [False] * len(kl_mean)
    kl_max = max([1.0] + [float(kl_mean[d]) for d in order] +
                 ([float(kl_digit[d]) for d in order] if kl_digit is not None else []))
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" class="posterior-chart" '
             f'style="width:100%;height:auto;max-width:{width * 1.4:.0f}px;font:12px sans-serif;'
             f'color:var(--body-text-color, #333)" aria-label="posterior and KL of each latent dimension">']

    def y_mu(v):
        return 14 + (limit - max(-limit, min(limit, v))) / (2 * limit) * (top_h - 28)

    def y_kl(v):
        return kl_top + kl_h - min(v, kl_max) / kl_max * kl_h

    if mu is not None:
        for v in (-3, -2, -1, 0, 1, 2, 3):
            y = y_mu(v)
            dash = ' stroke-dasharray="4 3"' if abs(v) == 1 else ""
            opacity = 0.55 if v in (-1, 0, 1) else 0.15
            parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="currentColor" stroke-opacity="{opacity}"{dash}/>'
                         f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor">'
                         f'{str(v).replace("-", "−")}</text>')
        parts.append(f'<text x="{left}" y="10" fill="currentColor">μᵢ (bar) and μᵢ ± σᵢ (band) of Q(H|X); '
                     'dashed: the prior\'s ±1</text>')
    for v in np.linspace(0, kl_max, 3):
        y = y_kl(v)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" '
                     f'stroke-opacity="0.15"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="currentColor">{v:.1f}</text>')
    legend = "KLᵢ in nats: " + ", ".join(([("mean over test digits (grey)")] if has_mean else []) +
                                         (["this digit (orange)"] if kl_digit is not None else []))
    parts.append(f'<text x="{left}" y="{kl_top - 8}" fill="currentColor">{legend}</text>')
    for j, d in enumerate(order):
        x = left + j * col
        tip = [f"h{d + 1}"] + ([f"mean KL over test digits {float(kl_mean[d]):.3f} nats"] if has_mean else [])
        parts.append('<g opacity="0.5">' if off[d] else "<g>")
        if mu is not None:
            m, s = float(mu[d]), float(sigma[d])
            tip[1:1] = [f"μ = {number(m)}, σ = {s:.3f}"]
            y0, y1 = y_mu(m + s), y_mu(m - s)
            parts.append(f'<rect x="{x + 3}" y="{y0:.1f}" width="{col - 6}" height="{max(1.0, y1 - y0):.1f}" '
                         f'fill="{BLUE}" fill-opacity="0.28"/>')
            ya, yb = sorted((y_mu(0), y_mu(m)))
            parts.append(f'<rect x="{x + 8}" y="{ya:.1f}" width="{col - 16}" height="{max(1.0, yb - ya):.1f}" '
                         f'fill="{BLUE}"/>')
        kl_y = y_kl(float(kl_mean[d]))
        parts.append(f'<rect x="{x + 3}" y="{kl_y:.1f}" width="{col - 6}" height="{kl_top + kl_h - kl_y:.1f}" '
                     f'fill="currentColor" fill-opacity="0.3"/>')
        if kl_digit is not None:
            k = float(kl_digit[d])
            tip.append(f"this digit's KL {k:.3f} nats")
            ky = y_kl(k)
            parts.append(f'<rect x="{x + 9}" y="{ky:.1f}" width="{col - 18}" height="{kl_top + kl_h - ky:.1f}" '
                         f'fill="{ORANGE}"/>')
        if off[d]:
            tip.append("inactive: Q(hᵢ|X) ≈ N(0, 1) for every digit")
            parts.append(f'<text x="{x + col / 2}" y="{kl_top + kl_h - 4}" text-anchor="middle" '
                         f'fill="currentColor" font-size="10">off</text>')
        parts.append(f'<text x="{x + col / 2}" y="{kl_top + kl_h + 16}" text-anchor="middle" '
                     f'fill="currentColor" font-size="11">h{d + 1}</text>')
        body_top = 0 if mu is not None else kl_top
        parts.append(f'<rect x="{x}" y="{body_top}" width="{col}" height="{kl_top + kl_h + 20 - body_top}" '
                     f'fill="transparent"><title>{html.escape(chr(10).join(tip))}</title></rect></g>')
    parts.append("</svg>")
    return "".join(parts)


def elbo_text(terms, kl_parts, samples, rec_at_mean=None):
    """The ELBO split filled with one digit's numbers (Markdown with LaTeX): `terms` has the
    reconstruction, KL and −ELBO in nats; `kl_parts` (tr Σ, μᵀμ, k, log det Σ) fill the KL's
    closed form."""
    rec, kl, total = (float(terms[k]) for k in ("reconstruction", "kl", "negative_elbo"))
    tr, mm, k, logdet = kl_parts
    lines = [
        r"$$\begin{aligned}-\mathrm{ELBO} &= \underbrace{-E_{H \sim Q}[\log P(X|H)]}_{\text{reconstruction}}"
        r" + \underbrace{KL[Q(H|X)\,\|\,N(0, I)]}_{\text{KL}} \\"
        f" &= {rec:.1f} + {kl:.1f} = {total:.1f}" r"\ \text{nats}\end{aligned}$$",
        r"$$\begin{aligned}KL &= \tfrac12\left(\mathrm{tr}\,\Sigma + \mu^T\mu - k - \log\det\Sigma\right) \\"
        f" &= \\tfrac12\\left({tr:.1f} + {mm:.1f} - {k} - ({logdet:.1f})\\right) = {kl:.1f}"
        r"\ \text{nats}\end{aligned}$$",
        f"The reconstruction term is the mean of −log P(X|H) over {samples} samples H = μ + σ·ε; "
        f"the KL term is exact. −ELBO is an upper bound on −log P(X).",
    ]
    if rec_at_mean is not None:
        lines.append(f"**Reconstruction error** at H = μ(X): Σₚ −log P(xₚ | μ) = **{float(rec_at_mean):.1f} nats** "
                     "(the heat map shows each pixel's share).")
    return "\n\n".join(lines)


def gap_text(gap, steps, samples, k, metrics=None):
    """What fitting Q(H|X) to one «digit» alone shows (Markdown with LaTeX, words in «»): `gap` has
    its −ELBO with the encoder's Q ("encoder"), with the fitted Q ("fitted") and −log P(X) ("nll"),
    as `inference.posterior_gap` gives them; the model's `metrics` add the test set's means where
    `python -m train.evaluate --refine-steps` wrote them."""
    enc, fit, nll = (round(float(gap[k_]), 1) for k_ in ("encoder", "fitted", "nll"))   # the differences add up
    lines = [
        f"**Q fitted to this «digit» alone.** The encoder computes $Q(H|X)$ in one pass, with the same weights "
        f"for every «digit». Here μ and log σ² start from the encoder's and take {steps} gradient steps on this "
        f"«digit»'s ELBO, the decoder held fixed (each −ELBO below is the mean over the same {samples} codes H ∼ Q):",
        f"- −ELBO with the encoder's Q: **{enc:.1f}** nats\n"
        f"- −ELBO with the fitted Q: **{fit:.1f}** nats\n"
        f"- −log P(X), importance-sampled from the fitted Q (k = {k}): **{nll:.1f}** nats",
        r"Since $\log P(X) - KL[Q(H|X)\,\|\,P(H|X)] = \mathrm{ELBO}$, the distance from −ELBO down to −log P(X) "
        f"is how far Q is from the true posterior $P(H|X)$: at least {max(enc - nll, 0):.1f} nats for the "
        f"encoder's Q, {max(fit - nll, 0):.1f} for the fitted one.",
    ]
    if enc - fit >= 0.05:
        lines.append(f"The {enc - fit:.1f} nats between the two are the encoder's *amortisation gap*: what one "
                     f"network for all «digits» loses against a fit to each. The rest is left because P(H|X) is "
                     f"no Gaussian with a diagonal Σ (and {steps} steps do not fit Q exactly).")
    else:
        lines.append("Fitting gains nothing here: the encoder's Q is as good as a Gaussian fitted to this «digit» "
                     "alone. The rest is left because P(H|X) is no Gaussian with a diagonal Σ.")
    test = metrics or {}
    if all(isinstance(test.get(key), (int, float)) for key in ("test_neg_elbo", "test_neg_elbo_refined",
                                                                  "refine_steps")):
        enc_all, fit_all = round(test["test_neg_elbo"], 1), round(test["test_neg_elbo_refined"], 1)
        lines.append(f"Over the whole test set this VAE's −ELBO averages {enc_all:.1f} nats with the encoder's Q and "
                     f"{fit_all:.1f} with Q fitted to each «digit» in {test['refine_steps']} steps: an amortisation "
                     f"gap of {enc_all - fit_all:.1f} nats.")
    return "\n\n".join(lines)


def ellipse(img, frame, mu, sigma, name="your digit", colour=(0, 0, 0)):
    """A copy of a scatter picture (PIL, drawn in `frame`) with a posterior marked: the ellipse
    μ ± 2σ (axis-aligned: Σ is diagonal), μ ± σ dotted inside it, and μ named."""
    from PIL import ImageDraw

    from .pictures import outlined_text

    img = img.copy()
    draw = ImageDraw.Draw(img)
    (m1, m2), (s1, s2) = [float(v) for v in mu], [float(v) for v in sigma]
    for k, width in ((2, 3), (1, 1)):
        x0, y0 = frame.to_pixel(m1 - k * s1, m2 + k * s2)
        x1, y1 = frame.to_pixel(m1 + k * s1, m2 - k * s2)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x0, x1 = min(x0, cx - 4), max(x1, cx + 4)       # still visible when σ is tiny
        y0, y1 = min(y0, cy - 4), max(y1, cy + 4)
        draw.ellipse([x0, y0, x1, y1], outline=colour, width=width)
    cx, cy = frame.to_pixel(m1, m2)
    draw.line([cx - 3, cy, cx + 3, cy], fill=colour, width=2)
    draw.line([cx, cy - 3, cx, cy + 3], fill=colour, width=2)
    outlined_text(img, (cx + 8, cy + 6), name, colour, 14)
    return img


def region(img, frame, lo, hi, name, colour=(90, 90, 90)):
    """A scatter picture (PIL, drawn in `frame`; changed in place) with the square [lo, hi]² dashed
    and named in its top-left corner: where the manifold grid's codes lie."""
    from PIL import ImageDraw

    from .pictures import outlined_text

    draw = ImageDraw.Draw(img)
    (x0, y0), (x1, y1) = frame.to_pixel(lo, hi), frame.to_pixel(hi, lo)
    for t in np.arange(0, 1, 0.04):
        u = min(t + 0.02, 1)
        for (ax, ay), (bx, by) in (((x0, y0), (x1, y0)), ((x0, y1), (x1, y1)), ((x0, y0), (x0, y1)),
                                   ((x1, y0), (x1, y1))):
            draw.line([ax + t * (bx - ax), ay + t * (by - ay), ax + u * (bx - ax), ay + u * (by - ay)],
                      fill=colour, width=2)
    outlined_text(img, (x0 + 4, y0 + 2), name, colour, 12)
    return img


def path(img, frame, start, end, steps, colour=(0, 0, 0)):
    """A copy of a scatter picture with the straight path from `start` to `end` (data coordinates),
    a dot at each of its `steps` codes and the ends named A and B."""
    from PIL import ImageDraw

    from .pictures import outlined_text

    img = img.copy()
    draw = ImageDraw.Draw(img)
    a, b = frame.to_pixel(*map(float, start)), frame.to_pixel(*map(float, end))
    draw.line([a, b], fill=colour, width=2)
    for t in np.linspace(0, 1, int(steps)):
        x, y = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill="white", outline=colour, width=2)
    for (x, y), name in ((a, "A"), (b, "B")):
        outlined_text(img, (x + 6, y - 18), name, colour, 15)
    return img


def frame_value(frame):
    """What the hover probe needs to turn a pixel of the scatter picture into a code."""
    return {"lo": frame.lo, "hi": frame.hi, "size": frame.size, "pad": frame.pad}


PROBE_TEMPLATE = """
<div class="probe">
  <img alt="the digit decoded under the pointer">
  <span>Move the pointer over the scatter: f(h) is decoded as it moves.</span>
</div>
"""

PROBE_CSS = """
.probe { display: flex; align-items: center; gap: 10px; padding: 6px; border-radius: 8px;
         border: 1px solid var(--border-color-primary); background: var(--block-background-fill); }
.probe img { width: 84px; height: 84px; image-rendering: pixelated; background: #000; border-radius: 4px;
             flex: none; }
.probe img:not([src]) { visibility: hidden; }
.probe span { font-size: 14px; color: var(--body-text-color); }
"""

PROBE_JS = """
const target = %s;
const tip = document.createElement('img');       // follows the pointer; on <body>, so no ancestor clips it
tip.alt = '';
tip.className = 'latent-probe-tip';
tip.style.cssText = 'position:fixed;z-index:1000;width:84px;height:84px;image-rendering:pixelated;' +
  'pointer-events:none;border:2px solid #888;border-radius:4px;background:#000;display:none';
document.body.appendChild(tip);
let busy = false, wanted = null, inside = false;

function toCode(event) {
  const frame = props.value, picture = event.target.closest && event.target.closest(`#${target} img`);
  if (!frame || !frame.size || !picture || !picture.naturalWidth) return null;
  const box = picture.getBoundingClientRect(), w = picture.naturalWidth, h = picture.naturalHeight;
  const s = Math.min(1, box.width / w, box.height / h);             // object-fit: scale-down, centred
  const px = (event.clientX - box.left - (box.width - w * s) / 2) / s;
  const py = (event.clientY - box.top - (box.height - h * s) / 2) / s;
  if (px < frame.pad || px > frame.size - frame.pad || py < frame.pad || py > frame.size - frame.pad) return null;
  const scale = (frame.size - 2 * frame.pad) / (frame.hi - frame.lo);
  const code = [frame.lo + (px - frame.pad) / scale, frame.lo + (frame.size - frame.pad - py) / scale];
  return frame.dataset ? [...code, frame.dataset] : code;     // the decoder of the data set shown
}

async function decodeLatest() {          // one request at a time; the newest position wins
  if (busy || !wanted) return;
  busy = true;
  const code = wanted;
  wanted = null;
  try {
    const url = await server.hover_decode(code);
    if (url) {
      element.querySelector('.probe img').src = url; tip.src = url;
      if (inside) tip.style.display = 'block';
      const [z1, z2] = code.slice(0, 2).map(v => v.toFixed(2).replace('-', '−'));
      element.querySelector('.probe span').textContent = `h = (${z1}, ${z2}) → f(h)`;
    }
  } catch (error) { /* the next move asks again */ }
  busy = false;
  decodeLatest();
}

document.addEventListener('pointermove', event => {
  const code = toCode(event);
  inside = !!code;
  if (!code) { tip.style.display = 'none'; return; }
  tip.style.left = `${event.clientX + 18}px`;
  tip.style.top = `${event.clientY + 18}px`;
  if (tip.src) tip.style.display = 'block';
  wanted = code;
  decodeLatest();
});
"""


def hover_probe(hover_decode, target, **kwargs):
    """A box that shows the digit decoded under the pointer while it moves over the image
    component with elem_id `target` (and a copy beside the pointer). Its value is
    `frame_value(frame)` of that picture; `hover_decode([h₁, h₂])` gives a PNG data URL or None."""
    import gradio as gr

    return gr.HTML(None, html_template=PROBE_TEMPLATE, css_template=PROBE_CSS, js_on_load=PROBE_JS % repr(target),
                   server_functions=[hover_decode], **kwargs)
