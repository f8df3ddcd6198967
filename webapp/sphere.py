"""A 3-D view of unit embeddings on the sphere, drawn in the browser (no CDN, works offline).

`viewer()` is a `gr.HTML` whose value is the dict `view()` makes: points on the unit sphere,
their labels (and the names of the classes) and test-set indices, marked points (A, B) and a
ringed set (the neighbours of a picked digit). The page rotates (drag), zooms (wheel, buttons) and
shows a digit's class, index and thumbnail on hover; a click fires the viewer's `pick` event with
the test-set index. Thumbnails come once per page and data set from one sprite sheet of the
plotted test images (`sprite`).
"""
import threading

import gradio as gr
import numpy as np

from deepgen import data
from deepgen.images import to_uint8

from . import testset
from .pictures import PALETTE, png_data_url

COLUMNS, CELL = 50, 28          # sprite sheet: thumbnails of test digits 0, 1, … row by row
COLOURS = ["#%02x%02x%02x" % c for c in PALETTE]

_sprites = {}                   # (number of images, data set) -> data URL
_lock = threading.Lock()


def sprite_sheet(n, dataset=data.DEFAULT):
    """The first n test images of `dataset` as one PNG data URL, COLUMNS thumbnails of CELL²
    pixels a row."""
    dataset = data.get(dataset).name
    with _lock:
        if (n, dataset) not in _sprites:
            images = to_uint8(testset.first(n, dataset)[0][:, 0])
            rows = -(-len(images) // COLUMNS)
            sheet = np.zeros((rows * CELL, COLUMNS * CELL), np.uint8)
            for i, image in enumerate(images):
                r, c = divmod(i, COLUMNS)
                sheet[r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL] = image
            _sprites[n, dataset] = png_data_url(sheet, compress_level=6)
        return _sprites[n, dataset]


def view(points, labels, indices, marks=(), ring=(), picked=None, sprite_size=0, names=None,
         dataset=data.DEFAULT):
    """The viewer's value: points N×3 (unit length), their labels and test-set indices, marks
    [(name, xyz)], the ringed test-set indices and the picked one; the name of each class
    (default: the digits) and the data set whose test images the thumbnails show."""
    return {
        "names": [str(n) for n in (names if names is not None else range(10))],
        "dataset": data.get(dataset).name,
        "points": np.round(np.asarray(points, dtype=np.float64), 4).tolist(),
        "labels": [int(v) for v in labels],
        "index": [int(v) for v in indices],
        "marks": [{"name": name, "xyz": np.round(np.asarray(xyz, dtype=np.float64), 4).tolist()}
                  for name, xyz in marks],
        "ring": [int(v) for v in ring],
        "picked": None if picked is None else int(picked),
        "sprite": int(sprite_size),
    }


TEMPLATE = """
<div class="sphere-view">
  <canvas aria-label="3-D view of the test embeddings on the unit sphere"></canvas>
  <div class="legend">""" + "".join(
    f'<span><i style="background:{c}"></i><span>{d}</span></span>' for d, c in enumerate(COLOURS)) + """</div>
  <div class="zoom">
    <button type="button" data-zoom="1.25" title="zoom in">+</button>
    <button type="button" data-zoom="0.8" title="zoom out">−</button>
    <button type="button" data-zoom="0" title="reset the view">⟲</button>
  </div>
  <div class="tip" hidden><canvas width="84" height="84"></canvas><span></span></div>
  <p class="help">Drag to rotate · wheel or +/− to zoom · hover for the digit · click a point for its
  nearest neighbours</p>
</div>
"""

CSS = """
.sphere-view { position: relative; width: 100%; user-select: none; }
.sphere-view > canvas { width: 100%; height: 460px; display: block; cursor: grab; touch-action: none;
                        border-radius: 8px; background: var(--block-background-fill); }
.sphere-view .legend { position: absolute; top: 8px; left: 10px; display: flex; flex-wrap: wrap; gap: 8px;
                       font-size: 14px; color: var(--body-text-color); pointer-events: none; }
.sphere-view .legend i { display: inline-block; width: 11px; height: 11px; border-radius: 50%;
                         margin-right: 3px; vertical-align: -1px; }
.sphere-view .zoom { position: absolute; top: 6px; right: 8px; display: flex; gap: 4px; }
.sphere-view .zoom button { width: 30px; height: 30px; font-size: 17px; border-radius: 6px;
                            border: 1px solid var(--border-color-primary);
                            background: var(--background-fill-primary); color: var(--body-text-color); }
.sphere-view .tip { position: absolute; pointer-events: none; padding: 4px; border-radius: 6px;
                    background: var(--background-fill-primary); color: var(--body-text-color);
                    border: 1px solid var(--border-color-primary); font-size: 14px; text-align: center;
                    box-shadow: 0 2px 8px rgba(0, 0, 0, 0.25); }
.sphere-view .tip canvas { display: block; width: 84px; height: 84px; image-rendering: pixelated;
                           margin: 0 auto 2px; }
.sphere-view .help { margin: 4px 0 0; font-size: 13px; color: var(--body-text-color-subdued); }
"""

JS = """
const COLOURS = %s, COLUMNS = %d, CELL = %d;
const canvas = element.querySelector('.sphere-view > canvas');
const tip = element.querySelector('.tip'), tipCanvas = tip.querySelector('canvas');
const tipText = tip.querySelector('span');
let data = null, sprite = null, spriteFor = '', shown = [];
let yaw = 0.5, pitch = 0.3, zoom = 1, drag = null, hover = -1;

function rotate(p) {
  const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  const x = cy * p[0] + sy * p[2], z0 = -sy * p[0] + cy * p[2];
  return [x, cp * p[1] - sp * z0, sp * p[1] + cp * z0];
}

function draw() {
  const ratio = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
  if (!w || !h) return;
  canvas.width = w * ratio; canvas.height = h * ratio;
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  const text = getComputedStyle(element).color || '#888';
  const R = 0.4 * Math.min(w, h) * zoom, cx = w / 2, cy = h / 2 + 10;
  const screen = p => { const q = rotate(p); return [cx + R * q[0], cy - R * q[1], q[2]]; };
  g.globalAlpha = 0.35; g.strokeStyle = text; g.lineWidth = 1;
  g.beginPath(); g.arc(cx, cy, R, 0, 2 * Math.PI); g.stroke();
  for (const circle of [t => [Math.cos(t), 0, Math.sin(t)], t => [Math.cos(t), Math.sin(t), 0]]) {
    g.beginPath();
    for (let i = 0; i <= 72; i++) {
      const s = screen(circle(i / 72 * 2 * Math.PI));
      g.setLineDash(s[2] < 0 ? [3, 4] : []);
      i ? g.lineTo(s[0], s[1]) : g.moveTo(s[0], s[1]);
    }
    g.stroke();
  }
  g.setLineDash([]);
  shown = [];
  if (!data || !data.points) { g.globalAlpha = 1; return; }
  data.points.forEach((p, i) => shown.push([...screen(p), i]));
  shown.sort((a, b) => a[2] - b[2]);
  const ring = new Set(data.ring || []);
  for (const [x, y, z, i] of shown) {
    g.globalAlpha = z < 0 ? 0.25 : 0.9;
    g.fillStyle = COLOURS[data.labels[i] %% 10];
    g.beginPath(); g.arc(x, y, i === hover ? 5 : 2.6, 0, 2 * Math.PI); g.fill();
  }
  g.globalAlpha = 1; g.lineWidth = 2; g.strokeStyle = text;
  for (const [x, y, z, i] of shown) {
    const index = data.index[i];
    if (!ring.has(index) && index !== data.picked) continue;
    g.beginPath(); g.arc(x, y, index === data.picked ? 9 : 6, 0, 2 * Math.PI); g.stroke();
  }
  g.font = 'bold 15px sans-serif';
  for (const mark of data.marks || []) {
    const [x, y] = screen(mark.xyz);
    g.fillStyle = '#ffffff'; g.strokeStyle = '#000000'; g.lineWidth = 2;
    g.beginPath(); g.arc(x, y, 11, 0, 2 * Math.PI); g.fill(); g.stroke();
    g.fillStyle = '#000000'; g.textAlign = 'center'; g.textBaseline = 'middle';
    g.fillText(mark.name, x, y + 1);
  }
}

function nearestOnScreen(event) {
  const box = canvas.getBoundingClientRect(), mx = event.clientX - box.left, my = event.clientY - box.top;
  let best = -1, bestD = 64;
  for (let k = shown.length - 1; k >= 0; k--) {      // front to back
    const [x, y, z, i] = shown[k], d = (x - mx) ** 2 + (y - my) ** 2;
    if (d < bestD - (z < 0 ? 0 : 16)) { best = i; bestD = d; }
  }
  return [best, mx, my];
}

function showTip(i, mx, my) {
  if (i < 0) { tip.hidden = true; return; }
  const index = data.index[i];
  const names = data.names || [];
  tipText.textContent = names.length && names[data.labels[i]] !== String(data.labels[i])
    ? `${names[data.labels[i]]} · test #${index}` : `digit ${data.labels[i]} · test #${index}`;
  const g = tipCanvas.getContext('2d');
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, 84, 84);
  if (sprite && sprite.complete && index < data.sprite && spriteFor === `${data.dataset}:${data.sprite}`)
    g.drawImage(sprite, (index %% COLUMNS) * CELL, Math.floor(index / COLUMNS) * CELL, CELL, CELL,
                0, 0, 84, 84);
  tip.hidden = false;
  const left = Math.min(mx + 14, canvas.clientWidth - tip.offsetWidth - 4);
  tip.style.left = `${Math.max(0, left)}px`;
  tip.style.top = `${Math.max(0, my - tip.offsetHeight - 10)}px`;
}

function load() {
  data = props.value && typeof props.value === 'object' ? props.value : null;
  hover = -1; tip.hidden = true;
  if (data && data.names)
    element.querySelectorAll('.legend > span > span').forEach((s, d) => { s.textContent = data.names[d] ?? d; });
  const wanted = data && data.sprite ? `${data.dataset}:${data.sprite}` : '';
  if (wanted && wanted !== spriteFor && server.sprite) {
    spriteFor = wanted; sprite = null;
    server.sprite(data.sprite, data.dataset).then(url => {
      if (!url || spriteFor !== wanted) return;
      sprite = new Image(); sprite.src = url;
    }).catch(() => {});
  }
  draw();
}

canvas.addEventListener('pointerdown', e => {
  drag = {x: e.clientX, y: e.clientY, yaw, pitch, moved: false};
  canvas.setPointerCapture(e.pointerId); canvas.style.cursor = 'grabbing';
});
canvas.addEventListener('pointermove', e => {
  if (drag) {
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    yaw = drag.yaw + dx * 0.01;
    pitch = Math.max(-1.5, Math.min(1.5, drag.pitch + dy * 0.01));
    tip.hidden = true; draw(); return;
  }
  if (!data) return;
  const [i, mx, my] = nearestOnScreen(e);
  if (i !== hover) { hover = i; draw(); }
  showTip(i, mx, my);
});
canvas.addEventListener('pointerup', e => {
  const click = drag && !drag.moved;
  drag = null; canvas.style.cursor = 'grab';
  if (!click || !data) return;
  const [i] = nearestOnScreen(e);
  if (i >= 0) trigger('pick', {index: data.index[i]});
});
canvas.addEventListener('pointerleave', () => { if (!drag) { hover = -1; tip.hidden = true; draw(); } });
canvas.addEventListener('wheel', e => {
  e.preventDefault();
  zoom = Math.max(0.5, Math.min(8, zoom * Math.exp(-e.deltaY * 0.001)));
  draw();
}, {passive: false});
element.querySelectorAll('.zoom button').forEach(button => button.addEventListener('click', () => {
  const factor = parseFloat(button.dataset.zoom);
  if (factor) zoom = Math.max(0.5, Math.min(8, zoom * factor)); else { zoom = 1; yaw = 0.5; pitch = 0.3; }
  draw();
}));
new ResizeObserver(draw).observe(canvas);
watch('value', load);
load();
""" % (COLOURS, COLUMNS, CELL)


def viewer(n, **kwargs):
    """The 3-D viewer of (at most) the first `n` test digits; the page fetches their thumbnails
    once."""
    def sprite(size=None, dataset=None, *_):
        try:
            return sprite_sheet(n, dataset if dataset in data.DATASETS else data.DEFAULT)
        except testset.TestSetMissing:
            return None

    return gr.HTML(None, html_template=TEMPLATE, css_template=CSS, js_on_load=JS,
                   server_functions=[sprite], elem_classes=["sphere"], **kwargs)
