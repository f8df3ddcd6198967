"""Theme and CSS (given to `launch()` in Gradio 6)."""
import gradio as gr

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", radius_size="md")

CSS = """
.pixelated img { image-rendering: pixelated; width: 100% !important; height: 100% !important;
                 object-fit: contain; }
.scaled img { width: 100% !important; height: 100% !important; object-fit: contain; }
.plot .image-frame { padding-top: 30px; box-sizing: border-box; }
/* A digit's label above it, not over it: in a narrow column a label such as "Source item: 28×28
   input" takes two lines, and Gradio's floating label then covered the top of the picture. */
.pixelated { display: flex !important; flex-direction: column; }
.pixelated > label[data-testid="block-label"] { position: static !important; flex: none; align-self: flex-start;
                                                margin-bottom: 2px; }
.pixelated > :is(.image-container, .empty) { flex: 1 1 0 !important; min-height: 0 !important;
                                             height: auto !important; align-self: stretch; }
.pixelated > .image-container > button, .pixelated .image-frame { height: 100% !important; }
.pixelated .image-container .top-panel { position: absolute; top: -30px; right: 0; }   /* download */
.intro { margin-bottom: 0.25rem; }
.intro .katex-display { margin: 0.4em 0; }
.katex-display { overflow-x: auto; overflow-y: hidden; }   /* a formula wider than the column scrolls */
.notice:empty { display: none; }
.notice p { color: #b45309; margin: 0.2em 0; }
.latent-sliders .block { padding: 6px 8px !important; }
.latent-sliders .min_value, .latent-sliders .max_value { display: none !important; }
.latent-sliders .head { flex-wrap: nowrap !important; gap: 2px; }
.latent-sliders input[type=number] { width: 3.4em !important; font-size: 0.8em; padding: 2px 3px !important; }
.latent-sliders input[type=range] { width: 100%; min-width: 0; }
.action { align-self: center; }
footer { display: none !important; }

/* Grids of many digits as HTML (pictures.digit_grid_html): inline images, captions as text. */
.digit-grid { display: grid; grid-template-columns: repeat(var(--columns), minmax(0, 1fr)); gap: 4px; }
.digit-grid figure { margin: 0; display: flex; flex-direction: column; align-items: stretch; }
.digit-grid img { width: 100%; aspect-ratio: 1 / 1; image-rendering: pixelated; border-radius: 2px; }
.digit-grid figcaption { text-align: center; font-size: 0.85rem; line-height: 1.2;
  color: var(--body-text-color); font-variant-numeric: tabular-nums; }
@media (max-width: 500px) { .digit-grid { grid-template-columns: repeat(6, minmax(0, 1fr)); } }
.labelled-grid .digit-grid { margin-top: 2.2rem; }   /* below the block's label (components.digit_grid) */
/* a wider first column: the source digit and its index */
.source-first .digit-grid { grid-template-columns: minmax(0, 1.6fr) repeat(10, minmax(0, 1fr)) !important; }
#code-bars .code-bars { display: block; width: 100%; max-width: 560px; height: auto; margin-top: 2.2rem; }
/* Galleries of digits (components.digit_gallery): cells share the width however narrow it is, each
   28x28 digit scaled up with sharp pixels and its caption as text under it, not over it. */
.digits .fixed-height { min-height: 0 !important; max-height: none !important; }
.digits > label { position: static !important; margin: 0 0 2px !important; }
.digits .grid-wrap { overflow-y: auto !important; }
.digits .grid-container { grid-template-columns: repeat(var(--grid-cols), minmax(0, 1fr)) !important;
                          grid-template-rows: none !important; grid-auto-rows: auto !important;
                          gap: 6px 4px !important; }
.digits .thumbnail-item { aspect-ratio: auto !important; height: auto !important; display: flex !important;
                          flex-direction: column; background: transparent !important; border: none !important;
                          box-shadow: none !important; overflow: visible !important; container-type: inline-size; }
.digits .thumbnail-item img { aspect-ratio: 1 / 1; height: auto !important; border-radius: 2px !important; }
.digits img { image-rendering: pixelated; }
.digits .caption-label { position: static !important; max-width: none !important; opacity: 1 !important;
                         border: none !important; background: none !important; padding: 2px 0 0 !important;
                         text-align: center !important; line-height: 1.2; text-overflow: clip !important;
                         font-size: clamp(0.6rem, 28cqi, 0.9rem) !important;   /* fits a cell's width */
                         font-variant-numeric: tabular-nums; color: var(--body-text-color) !important; }
.digits .caption { font-size: 1rem; color: var(--body-text-color); }

/* Gradio's plots give the chart the whole height of their block, so the label above pushes the
   legend and the x-axis title out of sight. Make room for the label below the chart. */
.block:has(> .vega-embed) { box-sizing: content-box !important; padding-bottom: 44px !important; }

/* A phone: less padding; the interpolation's test digits ten a row rather than fifteen, so that a
   finger can pick one; the sphere's neighbours four a row, so that their captions fit. */
@media (max-width: 640px) {
  .gradio-container { padding-left: 6px !important; padding-right: 6px !important; }
  .katex-display .katex { font-size: 11.5px !important; }   /* Gradio sets 16px */
  .digits.pickable .grid-container { grid-template-columns: repeat(10, minmax(0, 1fr)) !important; }
  .digits.neighbours .grid-container { grid-template-columns: repeat(4, minmax(0, 1fr)) !important; }
  .digits.neighbours .caption-label { white-space: normal !important; font-size: 0.75rem !important; }
  /* the models table keeps readable columns (Gradio sizes them as shares of the narrow width, in
     inline styles) and scrolls sideways */
  .models-table table, .models-table .virtual-body { width: 810px !important; }
  .models-table :is(th, td, .body-cell) { width: var(--w) !important; min-width: var(--w) !important;
                                          max-width: var(--w) !important; flex: 0 0 var(--w) !important; }
  .models-table :is(th, td, .body-cell):nth-child(1) { --w: 100px; }
  .models-table :is(th, td, .body-cell):nth-child(2) { --w: 130px; }
  .models-table :is(th, td, .body-cell):nth-child(3) { --w: 80px; }
  .models-table :is(th, td, .body-cell):nth-child(4) { --w: 90px; }
  .models-table :is(th, td, .body-cell):nth-child(5) { --w: 290px; }
  .models-table :is(th, td, .body-cell):nth-child(6) { --w: 120px; }
}

/* Dark mode: pictures drawn on white (scatter plots, bar charts) turn dark instead of glaring;
   the hue turn keeps each digit's colour. MNIST digits are white on black already. */
.dark .plot img, .dark .scaled img { filter: invert(0.92) hue-rotate(180deg); }
"""

# Gradio's sketchpad starts on its "image" tool (and returns to it after Clear), so a first stroke
# on an empty canvas draws nothing. Whenever a digit pad is empty with no tool active, pick the
# brush: its first toolbar button (the label is translated, the order is not).
JS = """
() => {
  const pickBrush = () => {
    for (const pad of document.querySelectorAll('.digit-pad')) {
      const bar = pad.querySelector('.toolbar-wrap');
      if (!bar || bar.querySelector('button.highlight') || !pad.querySelector('.empty.wrap')) continue;
      bar.querySelector('button')?.click();
    }
  };
  new MutationObserver(pickBrush).observe(document.body, {childList: true, subtree: true});
  pickBrush();
}
"""
