"""The latent space a student can touch: the posterior's formulas against independent computations,
and the Latent space tab's callbacks (the digit as a distribution, the KL of each dimension, the
reconstruction error, interpolation ends picked by thumbnails)."""
import math
import re

import gradio as gr
import numpy as np
import pytest
import torch

from deepgen import inference, losses, recipes
from deepgen.models import VAE
from webapp import components, latent_plots, registry, testset
from webapp.tabs import latent

from test_browser import browser, url  # noqa: F401, E402 - the browser test's fixtures


def f64(*rows):
    return torch.tensor(rows, dtype=torch.float64)


# --- the formulas ---------------------------------------------------------------------------

def test_kl_per_dimension_is_the_kl_of_each_normal_and_sums_to_the_slide_formula():
    mu = f64([0.0, 1.0, -2.0], [0.3, 0.0, 0.5])
    logvar = f64([0.0, -1.0, 0.7], [-3.0, 0.0, 1.2])
    per_dim = losses.kl_per_dimension(mu, logvar)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    expected = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0))
    assert torch.allclose(per_dim, expected, atol=1e-12)
    assert torch.allclose(per_dim.sum(1), losses.kl_to_standard_normal(mu, logvar), atol=1e-12)
    assert per_dim[0, 0] == 0          # Q = N(0, 1): that dimension costs nothing


def test_bernoulli_nll_per_pixel_is_minus_the_bernoulli_log_likelihood():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 4, 4, generator=g, dtype=torch.float64).round()
    logits = torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64)
    per_pixel = losses.bernoulli_nll_per_pixel(x, logits)
    expected = -torch.distributions.Bernoulli(logits=logits).log_prob(x)
    assert torch.allclose(per_pixel, expected, atol=1e-12)
    assert torch.allclose(per_pixel.flatten(1).sum(1), losses.bernoulli_nll(x, logits), atol=1e-12)


@pytest.fixture(scope="module")
def small_vae():
    torch.manual_seed(0)
    return VAE(latent_dim=4, width=8, hidden=32).eval()


@pytest.fixture(scope="module")
def digits(mnist_test_slice):
    return mnist_test_slice[0][:3]


def test_elbo_terms_match_a_monte_carlo_of_the_negative_elbo(small_vae, digits):
    n = 2000
    terms = inference.elbo_terms(small_vae, digits, samples=n, seed=1)
    torch.manual_seed(2)                 # losses.reparameterize draws from torch's own generator
    with torch.no_grad():
        mu, logvar = small_vae.encode(digits)
        mus, logvars, xs = mu.repeat(n, 1), logvar.repeat(n, 1), digits.repeat(n, 1, 1, 1)
        draws = losses.negative_elbo(xs, small_vae.decode_logits(losses.reparameterize(mus, logvars)), mus, logvars)
    draws = draws.reshape(n, len(digits))
    estimate, stderr = draws.mean(0), draws.std(0) / math.sqrt(n)
    assert torch.all((terms["negative_elbo"] - estimate).abs() < 5 * stderr + 1e-3), (terms, estimate, stderr)
    assert torch.allclose(terms["kl"], losses.kl_to_standard_normal(mu, logvar))
    assert torch.allclose(terms["negative_elbo"], terms["reconstruction"] + terms["kl"])


def test_elbo_terms_of_a_row_by_row_decoder(digits):
    model = recipes.get("vae2d").build().eval()
    terms = inference.elbo_terms(model, digits, samples=3)
    assert terms["reconstruction"].shape == (3,) and torch.all(terms["reconstruction"] > 0)


def test_posterior_sample_is_mu_plus_sigma_times_seeded_noise(small_vae, digits):
    mu, sigma = inference.posterior(small_vae, digits[:1])
    assert torch.equal(inference.posterior_sample(small_vae, digits[:1], 5),
                       inference.posterior_sample(small_vae, digits[:1], 5))
    draws = inference.posterior_sample(small_vae, digits[:1].repeat(3000, 1, 1, 1), 7)    # ε differs per row
    assert torch.allclose(draws.mean(0), mu[0], atol=5 * float(sigma.max()) / math.sqrt(3000))
    assert torch.allclose(draws.std(0), sigma[0], rtol=0.1)


def test_mean_kl_per_dimension_sums_to_the_mean_kl(small_vae, mnist_test_slice):
    images = mnist_test_slice[0][:100]
    per_dim = inference.mean_kl_per_dimension(small_vae, images, batch_size=30)
    with torch.no_grad():
        mu, logvar = small_vae.encode(images)
    assert per_dim.shape == (4,)
    assert torch.allclose(per_dim.sum(), losses.kl_to_standard_normal(mu, logvar).mean(), rtol=1e-5)
    assert torch.allclose(per_dim, inference.mean_kl_per_dimension(small_vae, images, batch_size=100), rtol=1e-5)


def test_reconstruction_error_sums_to_the_reconstruction_term_at_the_mean(small_vae, digits):
    error = inference.reconstruction_error(small_vae, digits)
    with torch.no_grad():
        mu, _ = small_vae.encode(digits)
        expected = losses.bernoulli_nll(digits, small_vae.decode_logits(mu))
    assert error.shape == digits.shape and torch.all(error >= 0)
    assert torch.allclose(error.flatten(1).sum(1), expected, rtol=1e-5)


# --- the pictures -----------------------------------------------------------------------------

def test_heat_map_runs_from_black_to_pale_yellow():
    error = np.linspace(0, 2, 28 * 28).reshape(28, 28)
    heat = latent_plots.heat_map(error, top=1.0)
    assert heat.shape == (28, 28, 3) and heat.dtype == np.uint8
    assert heat[0, 0].tolist() == [0, 0, 4] and heat[-1, -1].tolist() == [252, 255, 164]
    brightness = heat.astype(int).sum(2).flatten()
    assert np.all(np.diff(brightness[:28 * 14]) >= -2)             # brighter as the error grows


def test_posterior_chart_names_every_dimension_and_marks_the_inactive_ones():
    kl = [1.5, 0.001, 0.4]
    chart = latent_plots.posterior_chart([0, 2, 1], kl, mu=[0.5, 0.0, -1.0], sigma=[0.2, 1.0, 0.4],
                                         kl_digit=[1.2, 0.0, 0.9])
    labels = re.findall(r">(h\d+)</text>", chart)
    assert labels == ["h1", "h3", "h2"]
    assert chart.count(">off</text>") == 1
    assert "μ = −1.00, σ = 0.400" in chart and "inactive" in chart


# --- the tab's callbacks ----------------------------------------------------------------------


@pytest.fixture
def sorted_sliders(app_checkpoints):
    return latent.sort_sliders(None, *([0.0] * latent.N_SLIDERS))


def test_sliders_sorted_by_mean_kl_keep_their_code(app_checkpoints):
    values = [round(0.1 * (i % 7) - 0.3, 2) for i in range(latent.N_SLIDERS)]
    order, *updates, decoded, chart = latent.sort_sliders(None, *values)
    kl = latent._mean_kl(registry.get("vae"))
    assert sorted(order) == list(range(latent.N_SLIDERS))
    assert all(kl[a] >= kl[b] for a, b in zip(order, order[1:]))
    for j, d in enumerate(order):                 # slider j now moves dimension d, and still shows its value
        assert updates[j]["value"] == values[d]
        assert updates[j]["label"] in (f"h{d + 1}", f"h{d + 1} off")
    assert np.array_equal(decoded, latent.decode_latent(*values))
    assert np.array_equal(latent.decode_latent(*[updates[j]["value"] for j in range(len(order))], order=order),
                          decoded)
    assert chart.count("</text>") > latent.N_SLIDERS


def test_inactive_dimensions_are_labelled_off():
    kl = torch.tensor([2.0, 0.004, 0.05])
    assert [latent.slider_label(d, kl) for d in range(3)] == ["h1", "h2 off", "h3"]
    assert latent.slider_label(1, None) == "h2"


def test_a_stale_order_falls_back_to_h1_h2(app_checkpoints):
    model = registry.get("vae")
    assert latent._order(model, [0, 0, 1]) == list(range(latent.N_SLIDERS))
    assert latent._order(model, None) == list(range(latent.N_SLIDERS))


def test_describe_the_drawn_digit(app_checkpoints, sorted_sliders):
    order = sorted_sliders[0]
    image, _, _ = components.pick_test_digit(3)
    chart, shown, sample, heat, text, scatter_img, posterior, text_2d = latent.describe_digit(image, 0, order)
    x = components.as_digit(image)
    model = registry.get("vae")
    terms = inference.elbo_terms(model, x, latent.ELBO_SAMPLES)
    numbers = f"{float(terms['reconstruction'][0]):.1f} + {float(terms['kl'][0]):.1f} = " \
              f"{float(terms['negative_elbo'][0]):.1f}"
    assert numbers in text and "nats" in text
    rec = float(inference.reconstruction_error(model, x).sum())
    assert f"{rec:.1f} nats" in text
    assert shown.shape == sample.shape == (28, 28) and heat.shape == (28, 28, 3)
    assert re.findall(r">(h\d+)</text>", chart) == [f"h{d + 1}" for d in order]
    mu, sigma = inference.posterior(registry.get("vae2d"), x)
    assert posterior["mu"] == pytest.approx(mu[0].tolist(), abs=1e-3)
    assert posterior["sigma"] == pytest.approx(sigma[0].tolist(), abs=1e-3)
    assert scatter_img.shape == latent.latent_scatter().shape and (scatter_img != latent.latent_scatter()).any()
    assert "μ ± 2σ" in text_2d
    # the ellipse stays when a point of the plane is decoded
    _, with_ellipse = latent.decode_point(0.0, 0.0, posterior)
    _, without = latent.decode_point(0.0, 0.0)
    assert (with_ellipse != without).any()


def test_describe_a_test_digit_and_draw_another_sample(app_checkpoints, sorted_sliders):
    out = latent.describe_test(5, 0, sorted_sliders[0])
    first = out[2]
    again, seed = latent.another_sample(out[1], 0)
    assert seed == 1 and again.shape == (28, 28) and not np.array_equal(again, first)
    assert np.array_equal(latent.another_sample(out[1], 0)[0], again)      # the same ε for the same seed


def test_fitting_q_to_one_digit_shows_its_amortisation_gap(app_checkpoints):
    image, _, _ = components.pick_test_digit(1)
    text = latent.fit_posterior(image)
    x = components.as_digit(image)
    model = registry.get("vae")
    gap = inference.posterior_gap(model, x, latent.FIT_STEPS, latent.FIT_LR, samples=latent.FIT_SAMPLES,
                                  k=latent.FIT_K)
    shown = [float(v) for v in re.findall(r"\*\*(\d+\.\d)\*\* nats", text)]
    assert shown == [round(float(gap[k][0]), 1) for k in ("encoder", "fitted", "nll")]
    # the encoder's row is the tab's −ELBO of the digit, over more codes
    assert gap["encoder"][0] == inference.elbo_terms(model, x, latent.FIT_SAMPLES)["negative_elbo"][0]
    assert "«" not in text and "this digit alone" in text
    # the words follow the numbers: a gap where fitting gained, none where it did not
    assert "The 2.0 nats between the two" in latent_plots.gap_text({"encoder": 82.0, "fitted": 80.0, "nll": 78.5},
                                                                   50, 32, 256)
    rounded = latent_plots.gap_text({"encoder": 70.04, "fitted": 67.96, "nll": 66.76}, 30, 32, 128)
    assert "at least 3.2 nats for the encoder's Q, 1.2 for the fitted one" in rounded
    assert "The 2.0 nats between the two" in rounded          # 70.0 − 68.0, as shown, not 2.08 → 2.1
    same = latent_plots.gap_text({"encoder": 80.0, "fitted": 80.01, "nll": 78.0}, 50, 32, 256)
    assert "Fitting gains nothing here" in same and "at least 2.0 nats" in same
    assert "whole test set" not in same
    test = {"test_neg_elbo": 91.67, "test_neg_elbo_refined": 88.9, "refine_steps": 100}
    assert "averages 91.7 nats with the encoder's Q and 88.9 with Q fitted to each «digit» in 100 steps: an " \
           "amortisation gap of 2.8 nats" in latent_plots.gap_text({"encoder": 82.0, "fitted": 80.0, "nll": 78.5},
                                                                     50, 32, 256, test)


def test_describe_before_drawing_says_so(app_checkpoints):
    with pytest.raises(gr.Error, match="no digit yet"):
        latent.describe_digit(None)
    with pytest.raises(gr.Error, match="first"):
        latent.another_sample(None)
    with pytest.raises(gr.Error, match="first"):
        latent.fit_posterior(None)


def test_thumbnails_pick_the_interpolation_ends(app_checkpoints):
    thumbs = latent.thumbnails()
    indices = latent.thumbnail_indices()
    assert len(thumbs) == len(indices) == 10 * latent.THUMBS_PER_CLASS
    for (pic, caption), index in zip(thumbs, indices):
        x, label, _ = components.pick_test_digit(index)
        assert np.array_equal(pic, x) and caption == f"{label} · #{index}"
    assert [c.split(" · ")[0] for _, c in thumbs[::latent.THUMBS_PER_CLASS]] == [str(d) for d in range(10)]

    click = gr.SelectData(None, {"index": 13, "value": None})
    a, b, which, end_a, end_b, pixels, codes, walk_2d, scatter_img, marks = latent.pick_end(click, "A", 0, 1, 6)
    assert (a, b, which) == (indices[13], 1, "B")
    assert np.array_equal(end_a, thumbs[13][0])
    assert pixels.shape == codes.shape == walk_2d.shape == (32, 6 * 30 + 2)
    a, b, which, *_ = latent.pick_end(gr.SelectData(None, {"index": 2, "value": None}), which, a, b, 6)
    assert (a, b, which) == (indices[13], indices[2], "A")
    with pytest.raises(gr.Error, match="thumbnails"):
        latent.pick_end(gr.SelectData(None, {"index": 999, "value": None}), "A", 0, 1, 6)


def test_the_interpolation_path_and_the_ellipse_share_the_scatter(app_checkpoints):
    model = registry.get("vae2d")
    *_, walk_2d, with_path, marks = latent.interpolate_ends(3, 4, 5)
    ends = inference.latent_mean(model, torch.cat([testset.digit(i)[0] for i in (3, 4)]))
    assert np.allclose(marks["path"], ends.numpy(), atol=1e-3) and marks["steps"] == 5
    assert (with_path != latent.latent_scatter()).any()
    image, _, _ = components.pick_test_digit(7)
    *_, both, marks, _ = latent.describe_digit(image, 0, None, marks)
    assert set(marks) == {"path", "steps", "mu", "sigma"}
    assert (both != with_path).any()
    grid_img, reopened, start, note = latent.on_open(marks)
    assert np.array_equal(reopened, both)                    # the tab opens with the marks it had
    _, clicked = latent.decode_point(0.5, 0.5, marks)
    assert (clicked != both).any() and (clicked != latent.decode_point(0.5, 0.5)[1]).any()


def test_the_scatter_shows_the_grid_region(app_checkpoints):
    _, frame = registry.memo(registry.get("vae2d"), "scatter", latent._scatter)
    img = latent.latent_scatter()
    q = float(inference.gaussian_quantiles(2)[1])
    x0, y0 = (int(round(v)) for v in frame.to_pixel(-q, q))
    x1, y1 = (int(round(v)) for v in frame.to_pixel(q, -q))
    for x, y in ((x0, (y0 + y1) // 2), (x1, (y0 + y1) // 2)):       # the dashed sides of the square
        column = img[y - 6:y + 6, x - 1:x + 2]
        assert (np.abs(column.astype(int) - [90, 90, 90]).sum(-1) < 60).any(), (x, y)


def test_words_drawn_into_the_scatter_have_glyphs_in_its_font():
    """PIL's default font draws "×", "μ" or "−" as a box: the names written into the plane's
    pictures keep to characters it has."""
    import inspect

    from deepgen import data
    from webapp.pictures import missing_glyphs
    assert missing_glyphs("15×15 grid") == "×"                              # the check sees a box
    ellipse_name = inspect.signature(latent_plots.ellipse).parameters["name"].default
    words = [latent.GRID_NAME, ellipse_name, "A", "B", *(n for d in data.DATASETS for n in data.class_names(d))]
    assert not [w for w in words if missing_glyphs(w)]


def test_hover_decodes_a_point_of_the_plane(app_checkpoints):
    import base64
    import io

    from PIL import Image

    url = latent.hover_decode([0.3, -0.7])
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(decoded, latent.decode_point(0.3, -0.7)[0])
    for bad in ([50, 0], ["x", 0], None, [float("nan"), 0]):
        assert latent.hover_decode(bad) is None
    frame = latent.plane_frame()
    assert frame["size"] == 440 and frame["lo"] == -frame["hi"]


# --- in the browser -----------------------------------------------------------------------------

@pytest.mark.browser
def test_hover_decodes_live_and_thumbnails_pick_the_ends(browser, url):  # noqa: F811
    from test_browser import app_page, block

    with app_page(browser, url) as page:
        page.get_by_role("tab", name="Latent space").first.click()
        scatter = page.locator("#latent-scatter img").first
        scatter.wait_for(timeout=60_000)
        page.wait_for_timeout(500)              # the probe's frame arrives with the tab's other outputs
        scatter.scroll_into_view_if_needed()
        box = scatter.bounding_box()
        probe = page.locator(".probe img[src^='data:image/png']")
        for dx in (0, 15, 30):                  # a pointer moving over the plane
            page.mouse.move(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2)
            page.wait_for_timeout(50)
        probe.wait_for(timeout=10_000)
        assert "h = (" in page.locator(".probe span").inner_text()
        assert page.locator("img.latent-probe-tip").is_visible()
        page.mouse.move(1, 1)                   # off the plane: the copy at the pointer goes
        page.wait_for_timeout(100)
        assert not page.locator("img.latent-probe-tip").is_visible()

        thumbs = block(page, "Test digits: click one to make it an end").locator("img")
        thumbs.nth(12).wait_for(timeout=30_000)
        thumbs.nth(12).click()
        block(page, "end A").locator("img").first.wait_for(timeout=10_000)
        block(page, "2-D VAE: f((1−t)·μ₀ + t·μ₁), the path A → B on the scatter").locator("img").first.wait_for(
            timeout=10_000)
        assert page.get_by_role("radio", name="B").is_checked()
        assert not page.console_errors, page.console_errors


# --- the CVAE's sliders -------------------------------------------------------------------------

def test_decode_each_label_is_the_style_row_of_an_encoded_digit(app_checkpoints):
    cvae = registry.get("cvae")
    x, y, _ = testset.digit(4)
    h = inference.latent_mean(cvae, x, [y])[0]
    assert torch.allclose(inference.decode_each_label(cvae, h), inference.style_row(cvae, x, y))


def test_style_sweep_moves_one_dimension_per_row(app_checkpoints):
    cvae = registry.get("cvae")
    h = torch.linspace(-1, 1, cvae.latent_dim)
    values = [-2.0, 0.5, 2.0]
    sweep = inference.style_sweep(cvae, h, 3, values)
    assert sweep.shape == (cvae.latent_dim * 3, 1, 28, 28)
    for i in range(cvae.latent_dim):
        for j, v in enumerate(values):
            code = h.clone()
            code[i] = v
            with torch.no_grad():
                expected = cvae.decode(code[None], torch.tensor([3]))
            assert torch.allclose(sweep[i * 3 + j], expected[0], atol=1e-6)


def test_cvae_sliders_callbacks(app_checkpoints):
    from webapp import cvae_sliders as cs

    cvae = registry.get("cvae")
    label, *updates = cs.style_from_test("mnist", 4)
    _, y, _ = testset.digit(4)
    assert label == str(y) and len(updates) == cs.MAX_SLIDERS
    assert [u["visible"] for u in updates] == [i < cvae.latent_dim for i in range(cs.MAX_SLIDERS)]
    values = [u["value"] for u in updates]
    decoded, row = cs.decode_style("mnist", "7", *values)
    sweep = cs.sweep_style("mnist", "7", *values)
    h = torch.tensor(values[:cvae.latent_dim])
    assert np.array_equal(decoded, components.picture(inference.decode_each_label(cvae, h)[7:8]))
    assert re.findall(r"<figcaption>([^<]*)</figcaption>", row) == [str(d) for d in range(10)]
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", sweep)
    assert len(captions) == cvae.latent_dim * len(cs.SWEEP) and captions[0] == "h1 = −2"
    assert len(cs.style_prior("mnist", 3)) == cs.MAX_SLIDERS
    label, *shown = cs.style_layout("mnist", "ten")
    assert label["choices"] == [str(d) for d in range(10)] and label["value"] == "0"
    assert [u["visible"] for u in shown] == [i < cvae.latent_dim for i in range(cs.MAX_SLIDERS)]
    assert all(u["value"] == 0.0 for u in cs.style_zero("mnist"))
    with pytest.raises(gr.Error, match="label"):
        cs.decode_style("mnist", "ten", *values)
    with pytest.raises(gr.Error, match="outside"):
        cs.sweep_style("mnist", "7", 9.0, *values[1:])


def test_cvae_sliders_mount_in_a_tab(app_checkpoints):
    from webapp import cvae_sliders as cs

    with gr.Blocks() as demo:
        with gr.Tab("Style transfer") as tab:
            sliders = cs.build(tab)
    assert len(sliders) == cs.MAX_SLIDERS
    assert any(getattr(d, "api_name", None) == "cvae_style" for d in demo.fns.values())
