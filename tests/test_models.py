"""Shapes and value ranges of every model class, and the one interface they share."""
import pytest
import torch

from deepgen import recipes
from deepgen.metric_losses import LOSSES
from deepgen.models import CVAE, GAN, VAE, VAEGAN, Autoencoder, Classifier, SiameseNet
from deepgen.models.base import Unsupported

B = 4
IMAGE = (B, 1, 28, 28)


@pytest.fixture
def x():
    return torch.rand(*IMAGE, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def y():
    return torch.tensor([0, 3, 3, 9])  # a repeated class gives pair and triplet losses something to compare


def in_unit_range(t):
    return bool((t >= 0).all() and (t <= 1).all())


def test_every_kind_is_registered():
    classes = recipes.model_classes()
    assert set(classes.values()) == {Autoencoder, VAE, CVAE, GAN, VAEGAN, SiameseNet, Classifier}
    assert all(cls.kind == kind for kind, cls in classes.items())


SMALL = {"ae": {"latent_dim": 3}, "vae": {"latent_dim": 3}, "vae2d": {}, "cvae": {"latent_dim": 3},
         "gan": {"latent_dim": 3, "width": 8}, "gan-plain": {"latent_dim": 3, "width": 8},
         "vaegan": {"latent_dim": 3, "width": 8}}


@pytest.mark.parametrize("name", list(recipes.RECIPES))
def test_one_interface_answers_or_refuses_clearly(name, x, y):
    """encode → (μ, log σ² or None), decode → [0, 1], sample(n) → n images; what a model lacks
    raises `Unsupported` naming the model."""
    model = recipes.get(name).build(**SMALL.get(name, {})).eval()
    with torch.no_grad():
        if model.latent_dim is None:
            for call in (lambda: model.encode(x), lambda: model.decode(torch.zeros(1, 2)), lambda: model.sample(2)):
                with pytest.raises(Unsupported, match=type(model).__name__):
                    call()
            return
        h = torch.randn(B, model.latent_dim)
        assert model.decode(h, y).shape == IMAGE and in_unit_range(model.decode(h, y))
        if name == "ae":
            with pytest.raises(Unsupported, match="cannot sample"):
                model.sample(5)
        else:
            samples = model.sample(5, generator=torch.Generator().manual_seed(0))
            assert samples.shape == (5, 1, 28, 28) and in_unit_range(samples)
        try:
            mu, logvar = model.encode(x, y)
        except Unsupported as exc:
            assert model.kind == "gan" and "has no encoder" in str(exc)
            return
        assert mu.shape == (B, model.latent_dim)
        assert logvar is None if name == "ae" else logvar.shape == mu.shape


def test_conditional_vae_asks_for_the_label(x):
    with pytest.raises(ValueError, match="label"):
        CVAE(latent_dim=3).encode(x)


@pytest.mark.parametrize("kw", [{}, {"width": 8, "feature_dim": 16, "num_classes": 5}])
def test_classifier_logits(x, kw):
    model = Classifier(**kw).eval()
    assert model(x).shape == (B, kw.get("num_classes", 10))


@pytest.mark.parametrize("latent", [2, 16])
def test_autoencoder(x, latent):
    model = Autoencoder(latent_dim=latent).eval()
    h, logvar = model.encode(x)
    assert h.shape == (B, latent) and logvar is None
    assert model(x).shape == IMAGE
    images = model.decode(10 * torch.randn(B, latent))
    assert images.shape == IMAGE and in_unit_range(images)


@pytest.mark.parametrize("latent,deep", [(2, True), (32, False)])
def test_vae(x, latent, deep):
    model = VAE(latent_dim=latent, deep=deep).eval()
    logits, mu, logvar = model(x)
    assert logits.shape == IMAGE and mu.shape == logvar.shape == (B, latent)
    assert model.decode_logits(mu).shape == IMAGE
    samples = model.sample(6, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (6, 1, 28, 28) and in_unit_range(samples)


def test_vae_encoder_of_its_own_width_and_depth(x):
    """The encoder may be wider and deeper than the decoder: `encoder_deep` adds a 3×3 convolution
    at 14×14 and at 7×7; the body that transfer learning reuses ends in `encoder_hidden` features."""
    plain, deep = (VAE(width=8, hidden=16, encoder_width=12, encoder_hidden=40, encoder_deep=d).eval()
                   for d in (False, True))
    kernels = [[m.kernel_size for m in model.encoder if isinstance(m, torch.nn.Conv2d)] for model in (plain, deep)]
    assert kernels == [[(4, 4), (4, 4)], [(4, 4), (3, 3), (4, 4), (3, 3)]]
    assert deep.encoder[2].in_channels == 12 and deep.encoder[6].out_channels == 24
    assert deep.decoder[0].out_features == 16                   # the decoder keeps its own sizes
    mu, logvar = deep.encode(x)
    assert mu.shape == logvar.shape == (B, 32)
    assert deep.feature_body()(x).shape == (B, 40)


def test_row_vae_scores_each_row_given_only_the_rows_above(x):
    model = VAE(latent_dim=2, deep=True, context_rows=2, context_reach=1).eval()
    h = torch.randn(B, 2, generator=torch.Generator().manual_seed(1))
    changed = x.clone()
    changed[:, :, 10] = 1 - changed[:, :, 10]
    with torch.no_grad():
        diff = (model.decode_logits(h, x) - model.decode_logits(h, changed)).abs().amax(dim=(0, 1, 3))
    assert diff.nonzero().flatten().tolist() == [11, 12]   # the two rows below row 10, nothing else
    logits, _, _ = model(x)
    assert logits.shape == IMAGE
    with pytest.raises(ValueError, match="row by row"):
        model.decode_logits(h)


def test_row_dropout_hides_the_rows_above_only_in_training(x):
    model = VAE(latent_dim=2, context_rows=1, context_reach=1, context_dropout=1.0)
    h = torch.randn(B, 2, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        model.train()
        assert torch.equal(model.decode_logits(h, x), model.decode_logits(h, torch.zeros_like(x)))
        model.eval()
        assert not torch.allclose(model.decode_logits(h, x), model.decode_logits(h, torch.zeros_like(x)))


def test_row_vae_draws_the_means_its_loss_scores(x):
    """decode(h) feeds each row's means to the next row: teacher-forced on its own drawing, the
    logits give back that drawing."""
    model = VAE(latent_dim=2, deep=True, context_rows=1, context_reach=1).eval()
    h = torch.randn(5, 2, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        drawn = model.decode(h)
        assert drawn.shape == (5, 1, 28, 28) and in_unit_range(drawn)
        assert torch.allclose(torch.sigmoid(model.decode_logits(h, drawn)), drawn, atol=1e-6)
        assert torch.equal(model.sample(3, generator=torch.Generator().manual_seed(0)),
                           model.sample(3, generator=torch.Generator().manual_seed(0)))


def test_row_cvae_draws_each_label_row_by_row(x):
    """The conditional VAE's row-by-row decoder: a row's logits see only the rows above it, and
    decode(h, y) feeds each row's means to the next, so teacher-forced on its drawing the logits
    give that drawing back; the label still changes the drawing."""
    model = CVAE(latent_dim=3, context_rows=1, context_reach=1).eval()
    h = torch.randn(len(x), 3, generator=torch.Generator().manual_seed(4))
    y = torch.arange(len(x)) % 10
    changed = x.clone()
    changed[:, :, 10] = 1 - changed[:, :, 10]
    with torch.no_grad():
        diff = (model.decode_logits(h, x, y) - model.decode_logits(h, changed, y)).abs().amax(dim=(0, 1, 3))
        assert diff.nonzero().flatten().tolist() == [11]
        drawn = model.decode(h, y)
        assert drawn.shape == x.shape and in_unit_range(drawn)
        assert torch.allclose(torch.sigmoid(model.decode_logits(h, drawn, y)), drawn, atol=1e-6)
        assert not torch.allclose(drawn, model.decode(h, (y + 1) % 10))
    with pytest.raises(ValueError, match="row by row"):
        model.decode_logits(h, y=y)


def test_vae_sample_is_reproducible_with_a_generator():
    model = VAE(latent_dim=4).eval()
    a = model.sample(3, generator=torch.Generator().manual_seed(5))
    b = model.sample(3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_cvae(x, y):
    model = CVAE(latent_dim=8).eval()
    logits, mu, logvar = model(x, y)
    assert logits.shape == IMAGE and mu.shape == logvar.shape == (B, 8)
    samples = model.sample(10, generator=torch.Generator().manual_seed(0), labels=torch.arange(10))
    assert samples.shape == (10, 1, 28, 28) and in_unit_range(samples)
    assert torch.equal(samples, model.sample(10, generator=torch.Generator().manual_seed(0)))  # 0–9 by default


@pytest.mark.parametrize("label", range(10))
def test_cvae_decodes_any_label(label):
    model = CVAE(latent_dim=8).eval()
    h = torch.randn(3, 8)
    images = model.decode(h, torch.full((3,), label))
    assert images.shape == (3, 1, 28, 28) and in_unit_range(images)


def test_cvae_label_changes_the_decoding():
    model = CVAE(latent_dim=8).eval()
    h = torch.randn(1, 8)
    assert not torch.allclose(model.decode(h, torch.tensor([1])), model.decode(h, torch.tensor([2])))


def test_gan(x):
    model = GAN(latent_dim=16).eval()
    images = model(torch.randn(B, 16))
    assert images.shape == IMAGE and in_unit_range(images)
    assert model.discriminator(x).shape == (B,)
    samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 28, 28) and in_unit_range(samples)


def test_vaegan(x):
    model = VAEGAN(latent_dim=12).eval()
    rec, mu, logvar = model(x)
    assert rec.shape == IMAGE and in_unit_range(rec)
    assert mu.shape == logvar.shape == (B, 12)
    assert model.discriminator(x).shape == (B,)
    assert model.discriminator.features(x).shape[0] == B
    samples = model.sample(5)
    assert samples.shape == (5, 1, 28, 28) and in_unit_range(samples)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_siamese_embeddings(x, y, loss):
    model = SiameseNet(loss=loss, embedding_dim=24).eval()
    raw = model(x)
    assert raw.shape == (B, 24)
    unit = model.embed(x)
    assert torch.allclose(unit.norm(dim=1), torch.ones(B), atol=1e-5)
    assert torch.allclose(unit, raw / raw.norm(dim=1, keepdim=True), atol=1e-6)
    assert torch.isfinite(model.loss(raw, y))


def test_folding_batch_norms_keeps_the_function_and_the_slide_formula():
    import torch.nn as nn

    from deepgen.models.base import fold_batch_norms
    torch.manual_seed(0)
    layers = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                           nn.Linear(4 * 28 * 28, 8), nn.BatchNorm1d(8))
    layers.train()(torch.rand(64, 1, 28, 28))               # running statistics that are not 0 and 1
    with torch.no_grad():
        layers[1].weight.uniform_(0.5, 2)
        layers[1].bias.uniform_(-1, 1)
    layers.eval()
    folded = fold_batch_norms(layers)
    assert [type(m).__name__ for m in folded] == ["Conv2d", "ReLU", "Flatten", "Linear"]
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(folded(x), layers(x), atol=1e-5)
    conv, bn = layers[0], layers[1]
    sigma = (bn.running_var + bn.eps).sqrt()                 # W' = γW/σ, b' = γ(b − μ)/σ + β, by hand
    assert torch.allclose(folded[0].weight, conv.weight * (bn.weight / sigma)[:, None, None, None], atol=1e-6)
    assert torch.allclose(folded[0].bias, bn.weight * (conv.bias - bn.running_mean) / sigma + bn.bias, atol=1e-6)
    assert layers[1] is bn and not layers.training                            # the original is untouched


def test_bulk_embedding_equals_embedding_and_is_plain_in_training(x):
    net = SiameseNet("arcface").eval()
    net.backbone.train()(torch.rand(32, 1, 28, 28))           # batch-norm statistics to fold
    net.eval()
    with torch.no_grad():
        assert torch.allclose(net.bulk_embedder()(x), net.embed(x), atol=1e-5)
    assert net.train().bulk_embedder() == net.embed
