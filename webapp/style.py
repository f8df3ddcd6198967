"""Theme and CSS (given to `launch()` in Gradio 6)."""
import gradio as gr

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", radius_size="md")

CSS = """
.pixelated img { image-rendering: pixelated; width: 100% !important; height: 100% !important;
                 object-fit: contain; }
.scaled img { width: 100% !important; height: 100% !important; object-fit: contain; }
.pixelated .image-frame, .plot .image-frame { padding-top: 30px; box-sizing: border-box; }
.intro { margin-bottom: 0.25rem; }
.intro .katex-display { margin: 0.4em 0; overflow-x: auto; overflow-y: hidden; }
.notice:empty { display: none; }
.notice p { color: #b45309; margin: 0.2em 0; }
.latent-sliders .block { padding: 6px 8px !important; }
.latent-sliders .min_value, .latent-sliders .max_value { display: none !important; }
.latent-sliders .head { flex-wrap: nowrap !important; gap: 2px; }
.latent-sliders input[type=number] { width: 3.4em !important; font-size: 0.8em; padding: 2px 3px !important; }
.latent-sliders input[type=range] { width: 100%; min-width: 0; }
.action { align-self: center; }
footer { display: none !important; }
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
