"""Evaluate a checkpoint on the test set of its data set: one function per family of models
(each recipe names its own), each returning the dict that goes into the checkpoint's metrics.json."""
import torch
import torch.nn.functional as F

from . import data as D
from . import losses as L
from . import metrics as M
from .inference import calibrate
from .models.base import Unsupported


def batched(fn, x, batch_size=1000):
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


class Judge:
    """The bundled classifier of a data set, used to score generated images (FID features,
    classifier score); it judges only images of the data set it was trained on (`dataset`)."""

    def __init__(self, classifier):
        self.classifier = classifier.eval()
        self.dataset = D.dataset_of(classifier).name

    def features(self, images):
        return batched(self.classifier.features, images)

    def probs(self, images):
        return batched(lambda b: F.softmax(self.classifier(b), 1), images)

    def fid(self, images, reference):
        return M.frechet_feature_distance(self.features(images), self.features(reference))

    def sample_scores(self, images, test_images):
        probs = self.probs(images)
        return {"fid": self.fid(images, test_images), "classifier_score": M.classifier_score(probs),
                "ambiguous_share": M.ambiguous_share(probs)}


def evaluate_classifier(model, test, **_):
    x, y = test
    pred = batched(model, x).argmax(1)
    return {"test_accuracy": float((pred == y).double().mean())}


def evaluate_ae(model, test, **_):
    x, _ = test
    logits = batched(model, x)
    return {"test_bce": float(L.bernoulli_nll(x, logits).mean()),
            "test_mse": float(L.autoencoder_error(x, torch.sigmoid(logits)).mean())}


def _vae_bounds(x, y, encode, decode_logits, k, refine_steps=0, batch_size=500):
    """Mean −ELBO (one sample) and IWAE −log p(x) (k samples), and with `refine_steps` the −ELBO
    with Q fitted to each image (`_refined_bound`); `decode_logits(h, x, y)` scores the images x
    given codes h (and labels y, which the plain VAE ignores)."""
    torch.manual_seed(0)
    neg_elbo, nll = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            mu, logvar = encode(xb, yb)
            logits = decode_logits(L.reparameterize(mu, logvar), xb, yb)
            neg_elbo.append(L.negative_elbo(xb, logits, mu, logvar))
            nll.append(M.iwae_nll(xb, lambda h, xs: decode_logits(h, xs, yb.repeat(k)), mu, logvar, k))
    out = {"test_neg_elbo": float(torch.cat(neg_elbo).mean()), "test_nll_iwae": float(torch.cat(nll).mean()),
           "iwae_k": k}
    if refine_steps:
        out.update(_refined_bound(x, y, encode, decode_logits, refine_steps))
    return out


def _refined_bound(x, y, encode, decode_logits, steps, batch_size=500):
    """Mean −ELBO (one sample) with each image's Q(H|X) fitted to it alone by `steps` gradient
    steps from the encoder's (`metrics.refined_posterior`): a tighter bound than the encoder's,
    whose difference is the encoder's amortisation gap."""
    torch.manual_seed(0)
    neg_elbo = []
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        with torch.no_grad():
            mu, logvar = encode(xb, yb)
        mu, logvar = M.refined_posterior(lambda h: L.bernoulli_nll(xb, decode_logits(h, xb, yb)), mu, logvar, steps)
        with torch.no_grad():
            logits = decode_logits(L.reparameterize(mu, logvar), xb, yb)
            neg_elbo.append(L.negative_elbo(xb, logits, mu, logvar))
    return {"test_neg_elbo_refined": float(torch.cat(neg_elbo).mean()), "refine_steps": steps}


def evaluate_vae(model, test, judge=None, n_samples=10000, iwae_k=64, fid_floor=None, refine_steps=0, **_):
    x, y = test
    out = _vae_bounds(x, y, model.encode, model.decode_logits, iwae_k, refine_steps)
    if judge is not None:
        with torch.no_grad():
            samples = model.sample(n_samples, generator=torch.Generator().manual_seed(0))
        out.update(judge.sample_scores(samples, x), fid_floor=fid_floor)
    return out


def evaluate_cvae(model, test, judge=None, iwae_k=64, per_label=1000, fid_floor=None, refine_steps=0, **_):
    """The VAE's bounds; prior samples, `per_label` of each label, scored as every generator's are,
    and by the share the classifier names as the label they were drawn for."""
    x, y = test
    out = _vae_bounds(x, y, model.encode, model.decode_logits, iwae_k, refine_steps)
    if judge is not None:
        labels = torch.arange(10).repeat_interleave(per_label)
        with torch.no_grad():
            samples = model.sample(len(labels), generator=torch.Generator().manual_seed(0), labels=labels)
        out["label_accuracy"] = float((judge.probs(samples).argmax(1) == labels).double().mean())
        out.update(judge.sample_scores(samples, x), fid_floor=fid_floor)
    return out


def evaluate_generator(model, test, judge=None, n_samples=10000, fid_floor=None, **_):
    """GAN and VAE-GAN: prior samples scored by the classifier; VAE-GAN also its reconstructions of
    the test set (squared error, the share the classifier names right) and the mean KL of its
    codes to the prior."""
    x, y = test
    if judge is None:
        raise ValueError("scoring generated digits needs the classifier checkpoint")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        samples = torch.cat([model.sample(min(1000, n_samples - i), generator=g) for i in range(0, n_samples, 1000)])
    out = {**judge.sample_scores(samples, x), "fid_floor": fid_floor}
    try:
        mu, logvar = batched(lambda b: torch.cat(model.encode(b), 1), x).chunk(2, 1)
    except Unsupported:   # a GAN has no encoder
        return out
    rec = batched(model.decode, mu)
    out.update(test_mse=float(L.autoencoder_error(x, rec).mean()),
               reconstruction_accuracy=float((judge.probs(rec).argmax(1) == y).double().mean()),
               test_kl=float(L.kl_to_standard_normal(mu, logvar).mean()))
    return out


def evaluate_siamese(model, test, train=None, n_pairs=10000, **_):
    """Retrieval on the test set; verification on fixed test pairs with a threshold chosen on
    training pairs; a logistic calibration P(same | distance) fitted on the training pairs."""
    x, y = test
    emb = batched(model.embed, x)
    out = {"recall_at_1": M.recall_at_1(emb, y), "map_at_r": M.map_at_r(emb, y)}
    calib = calibrate(model, *train, n_pairs=n_pairs, seed=1)
    pa, pb = M.make_pairs(y, n_pairs, seed=0)
    d = (emb[pa] - emb[pb]).norm(dim=1)
    same = y[pa] == y[pb]
    out.update(verification_accuracy=M.verification_accuracy(d, same, calib["threshold"]),
               roc_auc=M.roc_auc(-d, same), n_pairs=n_pairs, **calib)
    return out


def fid_floor(judge, n=10000, data_dir=None):
    """The FID between n training images and the test set of the judge's data set: what real
    images score."""
    xt, _ = D.tensors(judge.dataset, train=True, data_dir=data_dir)
    x, _ = D.tensors(judge.dataset, train=False, data_dir=data_dir)
    return judge.fid(xt[:n], x)


def evaluate(model, evaluator, judge=None, data_dir=None, limit=None, dataset=None, **kw):
    """`evaluator`'s metrics of one loaded model (its recipe names the evaluator) on the test set
    of `dataset`, by default the one the model was trained on; `judge` must be a classifier of
    that data set. `limit` uses only the first test images (fast checks)."""
    dataset = D.get(dataset).name if dataset else D.dataset_of(model).name
    if judge is not None and judge.dataset != dataset:
        raise ValueError(f"the classifier that scores the samples was trained on {D.get(judge.dataset).title}, "
                         f"the model on {D.get(dataset).title}: give a classifier of {D.get(dataset).title}")
    test = D.tensors(dataset, train=False, data_dir=data_dir)
    if limit:
        test = (test[0][:limit], test[1][:limit])
    kw["train"] = D.tensors(dataset, train=True, data_dir=data_dir)
    with torch.no_grad():
        return evaluator(model, test, judge=judge, **kw)
