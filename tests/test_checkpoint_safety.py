"""Checkpoints under attack (issue 13): concurrent and killed saves, hostile configs, weights,
metrics and zips from strangers, and Hub access that must never use the host's token."""
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save_file

import deepgen
from deepgen import checkpoint
from deepgen.checkpoint import CheckpointError
from deepgen.hub import PushError, push
from deepgen.models import GAN, VAE, Autoencoder

ROOT = Path(__file__).resolve().parents[1]


def marked(mark, **size):
    """A small autoencoder whose decoder's last bias is `mark` everywhere (a whole number, so
    float16 keeps it exactly): a loaded model tells which save wrote it."""
    model = Autoencoder(**({"latent_dim": 4, "width": 4, "hidden": 16} | size)).eval()
    with torch.no_grad():
        model.decoder[-1].bias.fill_(mark)
    return model


def mark_of(model):
    return int(model.decoder[-1].bias[0])


def dot_entries(folder):
    """Temporary folders, old folders and lock files beside the checkpoints."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- concurrent saves ---

def test_eight_threads_saving_one_destination(tmp_path):
    dest, marks = tmp_path / "ae", list(range(1, 9))
    models = [marked(m) for m in marks]
    done, seen, unexpected = threading.Event(), set(), []

    def reader():  # loads while the saves run: a model of one of the saves, or a clean error
        while not done.is_set():
            try:
                seen.add(mark_of(deepgen.load(dest)))
            except CheckpointError:
                pass
            except Exception as exc:  # noqa: BLE001 - the test reports any other failure
                unexpected.append(exc)

    for _ in range(4):
        barrier, results = threading.Barrier(len(models)), []

        def save(model):
            barrier.wait()
            try:
                results.append(deepgen.save(model, dest, metrics={"mark": mark_of(model)}))
            except Exception as exc:  # noqa: BLE001
                results.append(exc)

        threads = [threading.Thread(target=save, args=(m,)) for m in models]
        watcher = threading.Thread(target=reader)
        for t in [*threads, watcher]:
            t.start()
        for t in threads:
            t.join()
        done.set()
        watcher.join()
        done.clear()
        assert results == [dest] * len(models)
        loaded = deepgen.load(dest)
        assert mark_of(loaded) in marks and loaded.metrics == {"mark": mark_of(loaded)}
        assert dot_entries(tmp_path) == []
    assert not unexpected
    assert seen <= set(marks)


CHILD = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import torch
    from deepgen import checkpoint
    from deepgen.models import Autoencoder, VAE

    mode, dest = sys.argv[1], Path(sys.argv[2])

    def pause():
        Path(sys.argv[3]).write_text("paused")
        time.sleep(300)

    if mode == "rounds":  # save many times, racing other processes
        for mark in range(int(sys.argv[3]), int(sys.argv[3]) + 6):
            model = Autoencoder(latent_dim=4, width=4, hidden=16).eval()
            with torch.no_grad():
                model.decoder[-1].bias.fill_(mark)
            checkpoint.save(model, dest)
        sys.exit(0)

    rename = os.rename
    def pausing_rename(src, dst):
        rename(src, dst)
        if (mode == "between_renames" and ".old-" in Path(dst).name
                or mode == "after_swap" and Path(dst) == dest):
            pause()
    os.rename = pausing_rename
    if mode == "writing":  # the weights are written, the card is next
        def pausing_card(*args, **kwargs):
            pause()
        checkpoint.model_card = pausing_card
    torch.manual_seed(1)
    model = VAE(hidden=1024).eval()  # about 8 million parameters: a save takes a while
    with torch.no_grad():
        model.decoder[-1].bias.fill_(2.0)
    checkpoint.save(model, dest)
""")


def start_child(tmp_path, *args):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], env=env, cwd=tmp_path)


def test_processes_saving_one_destination(tmp_path):
    dest = tmp_path / "ae"
    children = [start_child(tmp_path, "rounds", dest, 10 * i) for i in range(1, 4)]
    assert [c.wait(timeout=240) for c in children] == [0, 0, 0]
    assert mark_of(deepgen.load(dest)) in {m for i in range(1, 4) for m in range(10 * i, 10 * i + 6)}
    assert dot_entries(tmp_path) == []


@pytest.mark.parametrize("point, then, expected", [
    ("writing", "recover", 1.0),          # the new folder was half written: the old one stays
    ("between_renames", "recover", 1.0),  # NAME was moved aside: it comes back
    ("between_renames", "save", 3.0),     # the next save recovers first, then saves
    ("after_swap", "recover", 2.0),       # the new folder took NAME: the save is done
])
def test_save_killed_midway(tmp_path, point, then, expected):
    dest, paused = tmp_path / "checkpoints" / "vae", tmp_path / "paused"
    old = VAE(hidden=1024).eval()
    with torch.no_grad():
        old.decoder[-1].bias.fill_(1.0)
    deepgen.save(old, dest)
    (dest / "previews").mkdir()
    (dest / "previews" / "epoch_001.png").write_bytes(b"png")

    child = start_child(tmp_path, point, dest, paused)
    deadline = time.time() + 120
    while not paused.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert paused.exists(), "the child never reached the point where it is killed"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert any(".saving-" in n or ".old-" in n for n in dot_entries(dest.parent))

    if point == "between_renames":  # NAME is gone: loading it fails cleanly, and writes nothing
        before = dot_entries(dest.parent)
        with pytest.raises(CheckpointError):
            deepgen.load(dest)
        assert dot_entries(dest.parent) == before and not dest.exists()
    if then == "recover":
        done = checkpoint.recover(dest.parent)
        assert done == {dest: "restored" if point == "between_renames" else "kept"}
    else:
        new = VAE(hidden=1024).eval()
        with torch.no_grad():
            new.decoder[-1].bias.fill_(3.0)
        deepgen.save(new, dest)
    loaded = deepgen.load(dest)
    assert torch.all(loaded.decoder[-1].bias == expected)
    assert (dest / "previews" / "epoch_001.png").read_bytes() == b"png"
    assert dot_entries(dest.parent) == []


def make_leftover(dest, name, model, previews=False):
    folder = dest.with_name(name)
    deepgen.save(model, folder)
    if previews:
        (folder / "previews").mkdir()
    return folder


def test_recover_handles_the_leftovers_of_older_saves(tmp_path):
    # the save before locking named its folders by process id only
    dest = tmp_path / "vae"
    make_leftover(dest, ".vae.old-4242", marked(1))
    make_leftover(dest, ".vae.saving-4242", marked(2), previews=True)
    assert checkpoint.recover(tmp_path) == {dest: "restored"}
    assert mark_of(deepgen.load(dest)) == 1 and (dest / "previews").is_dir()
    assert dot_entries(tmp_path) == []


def test_recover_replaces_an_incomplete_folder_and_removes_garbage(tmp_path):
    incomplete, garbage = tmp_path / "a", tmp_path / "b"
    deepgen.save(marked(5), incomplete)
    (incomplete / "config.json").unlink()
    make_leftover(incomplete, ".a.old-1-2-abcd", marked(6))
    deepgen.save(marked(7), garbage)
    (garbage.with_name(".b.saving-9")).mkdir()
    (garbage.with_name(".b.saving-9") / "model.safetensors").write_bytes(b"half")
    assert checkpoint.recover(tmp_path) == {incomplete: "restored", garbage: "kept"}
    assert mark_of(deepgen.load(incomplete)) == 6 and mark_of(deepgen.load(garbage)) == 7
    assert dot_entries(tmp_path) == []


def test_a_failing_rename_rolls_back_with_a_clear_message(tmp_path, monkeypatch):
    dest = tmp_path / "ae"
    deepgen.save(marked(1), dest)
    rename = os.rename

    def failing(src, dst):
        if Path(dst) == dest and ".saving-" in Path(src).name:
            raise OSError(28, "No space left on device")
        rename(src, dst)
    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(CheckpointError, match="could not save .* the checkpoint that was there is unchanged"):
        deepgen.save(marked(2), dest)
    monkeypatch.undo()
    assert mark_of(deepgen.load(dest)) == 1
    assert dot_entries(tmp_path) == []


# --- hostile configs ---

def test_hostile_33_byte_config_is_refused_without_building(tmp_path, monkeypatch):
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "config.json").write_text('{"kind": "vae", "hidden": 80000}\n')
    assert (folder / "config.json").stat().st_size == 33
    save_file({"x": torch.zeros(1)}, str(folder / "model.safetensors"))  # a tiny weights file
    built = []
    reset = torch.nn.Linear.reset_parameters
    monkeypatch.setattr(torch.nn.Linear, "reset_parameters",
                        lambda self: (built.append(self.weight.device.type), reset(self)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    for _ in range(5):
        with pytest.raises(CheckpointError, match=r"parameters, over the limit of 30,000,000"):
            deepgen.load(folder)
    assert time.perf_counter() - start < 2.0
    assert set(built) == {"meta"}  # the model was only ever built without memory
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 100_000  # KiB
    (folder / "model.safetensors").unlink()  # refused before the weights are even opened
    with pytest.raises(CheckpointError, match="over the limit"):
        deepgen.load(folder)


@pytest.mark.parametrize("config, problem", [
    ({"kind": "vae", "hidden": "256"}, "whole number"),
    ({"kind": "vae", "hidden": 256.0}, "whole number"),
    ({"kind": "vae", "hidden": True}, "whole number"),
    ({"kind": "vae", "hidden": -1}, "whole number"),
    ({"kind": "vae", "hidden": 10 ** 30}, "whole number"),
    ({"kind": "vae", "latent_dim": [32]}, "whole number"),
    ({"kind": "vae", "deep": "yes"}, "true/false"),
    ({"kind": "vae", "context_dropout": 1e300}, "number within"),
    ({"kind": "siamese", "margin": {"a": 1}}, "number within"),
    ({"kind": "siamese", "margin": 10 ** 400}, "number within"),
    ({"kind": "siamese", "loss": "x" * 1000}, "short string"),
    ({"kind": "vae", "note": {"nested": True}}, "must be a number, a string"),
    ({"kind": "vae", "weights_dtype": "int8"}, "weights_dtype"),
    ({"kind": "vae", "training": [1, 2]}, "training"),
    ({"kind": "vae", "width": 2000}, "over the limit"),
])
def test_config_values_are_checked(tmp_path, config, problem):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=problem) as err:
        deepgen.load(folder)
    assert str(folder / "config.json") in str(err.value)


def test_nan_in_a_config_is_refused(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "config.json").write_text('{"kind": "siamese", "margin": NaN}')
    with pytest.raises(CheckpointError, match="margin"):
        deepgen.load(folder)


@pytest.mark.parametrize("content", ["[" * 100_000, " " * 2_000_000, "\xff\xfe"])
def test_huge_deep_or_binary_configs_are_refused(tmp_path, content):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "config.json").write_bytes(content.encode("latin-1"))
    with pytest.raises(CheckpointError, match="config.json"):
        deepgen.load(folder)


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_a_pipe_in_place_of_a_file_does_not_hang(good, name):
    (good / name).unlink()
    os.mkfifo(good / name)
    with pytest.raises(CheckpointError, match="not a regular file"):
        deepgen.load(good)


def test_a_gan_saved_with_z_dim_loads(tmp_path):
    model = GAN(latent_dim=8, width=8).eval()
    folder = deepgen.save(model, tmp_path / "gan")
    config = json.loads((folder / "config.json").read_text())
    config["z_dim"] = config.pop("latent_dim")
    (folder / "config.json").write_text(json.dumps(config))
    loaded = deepgen.load(folder)
    assert loaded.latent_dim == 8 and loaded.config["latent_dim"] == 8


# --- hostile weights ---

@pytest.fixture
def good(tmp_path):
    return deepgen.save(marked(1), tmp_path / "good")


def header_only(path, header, data=b""):
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)


def test_header_shapes_that_disagree_are_refused_before_allocation(good):
    weights = good / "model.safetensors"
    huge = [100_000, 100_000]  # 40 GB of float32, claimed by a 150-byte file
    header_only(weights, {"decoder.0.weight": {"dtype": "F32", "shape": huge, "data_offsets": [0, 4 * 10 ** 10]}})
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as err:
        deepgen.load(good)
    message = str(err.value)
    assert time.perf_counter() - start < 1.0
    assert str(weights) in message and "decoder.0.weight is [100000, 100000]" in message
    assert "missing tensors" in message


@pytest.mark.parametrize("header, problem", [
    ({"decoder.0.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 8]}}, "malformed"),
    ({"decoder.0.weight": {"dtype": "F99", "shape": [2], "data_offsets": [0, 8]}}, "malformed"),
    ({"decoder.0.weight": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, "malformed"),
    ({"decoder.0.weight": {"dtype": "F32", "shape": "22", "data_offsets": [0, 8]}}, "malformed"),
    ({"decoder.0.weight": ["F32"]}, "malformed"),
    (["not", "a", "dict"], "not a dict"),
])
def test_malformed_headers_are_refused(good, header, problem):
    header_only(good / "model.safetensors", header, b"\0" * 8)
    with pytest.raises(CheckpointError, match=problem):
        deepgen.load(good)


def test_a_huge_header_length_is_refused(good):
    (good / "model.safetensors").write_bytes((1 << 40).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointError, match="header length is 1,099,511,627,776"):
        deepgen.load(good)


def test_an_integer_tensor_in_place_of_a_float_one_is_refused(good):
    from safetensors.torch import load_file
    state = load_file(str(good / "model.safetensors"))
    state["decoder.0.weight"] = state["decoder.0.weight"].to(torch.int16)
    save_file(state, str(good / "model.safetensors"))
    with pytest.raises(CheckpointError, match="wrong dtypes: decoder.0.weight is torch.int16"):
        deepgen.load(good)


# --- hostile metrics.json ---

@pytest.mark.parametrize("content, expected", [
    ('["threshold", 0.8]', {}),
    ('"a string"', {}),
    ("not json", {}),
    ("[" * 100_000, {}),
    ('{"threshold": 0.8, "calibration_a": -1e308, "calibration_b": 9.6}', {"threshold": 0.8, "calibration_b": 9.6}),
    ('{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1}', {"d": 1}),
    ('{"a": "text", "b": true, "c": null, "d": [1], "e": {"x": 1}, "f": 2.5}', {"f": 2.5}),
    ('{"a": 1' + "0" * 400 + ', "b": 1e12, "c": -1e12}', {"b": 1e12, "c": -1e12}),
    ('{"' + "k" * 101 + '": 1, "ok": 2}', {"ok": 2}),
])
def test_hostile_metrics_give_a_dict_of_finite_numbers(good, content, expected):
    (good / "metrics.json").write_text(content)
    assert checkpoint.read_metrics(good) == expected
    assert deepgen.load(good).metrics == expected


def test_metrics_are_capped_in_size_and_count(good):
    (good / "metrics.json").write_text(json.dumps({f"m{i}": i for i in range(500)}))
    assert len(checkpoint.read_metrics(good)) == 100
    (good / "metrics.json").write_text(json.dumps({"a": 1, "pad": "x" * 2_000_000}))
    assert checkpoint.read_metrics(good) == {}


# --- zips ---

def test_zip_round_trip(tmp_path):
    model = marked(7)
    path = checkpoint.save_zip(model, tmp_path / "deepgen-ae.zip", command="python -m train ae",
                               metrics={"fid": 3.5})
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(f"deepgen-ae/{f}" for f in checkpoint.FILES)
    loaded = deepgen.load(path)
    assert mark_of(loaded) == 7 and loaded.metrics == {"fid": 3.5}
    assert loaded.config["command"] == "python -m train ae" and loaded.source == str(path)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), deepgen.load(path)(x))
    assert dot_entries(tmp_path) == []


def test_a_zip_with_the_files_at_its_top_loads(tmp_path, good):
    path = tmp_path / "flat.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in checkpoint.FILES:
            archive.write(good / name, name)
    assert mark_of(deepgen.load(path)) == 1


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries:
            if isinstance(data, zipfile.ZipInfo):
                archive.writestr(data, b"config.json")
            else:
                archive.writestr(name, data)
    return path


def symlink_entry(name):
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16)
    return info


@pytest.mark.parametrize("entries, problem", [
    ([("../config.json", "{}")], "unsafe path"),
    ([("ckpt/../../evil/config.json", "{}")], "unsafe path"),
    ([("/etc/config.json", "{}")], "unsafe path"),
    ([("C:/config.json", "{}")], "unsafe path"),
    ([("ckpt\\..\\config.json", "{}")], "unsafe path"),
    ([("ckpt/config.json", symlink_entry("ckpt/config.json"))], "link"),
    ([("ckpt/evil.py", "import os")], "holds only"),
    ([("a/b/config.json", "{}")], "holds only"),
    ([("a/config.json", "{}"), ("b/model.safetensors", "")], "more than one checkpoint"),
    ([(f"ckpt{i}/config.json", "{}") for i in range(9)], "entries"),
])
def test_zip_slip_and_other_hostile_zips_are_refused(tmp_path, entries, problem, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("deepgen-zip-*"))
    path = write_zip(tmp_path / "hostile.zip", entries)
    with pytest.raises(CheckpointError, match=problem):
        deepgen.load(path)
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "config.json").exists()
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("deepgen-zip-*")) == before  # cleaned up


def test_a_zip_that_unpacks_too_large_is_refused(tmp_path, good, monkeypatch):
    monkeypatch.setattr(checkpoint, "MAX_ZIP_BYTES", 100_000)
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:  # 2 kB packed, 1 MB unpacked
        archive.write(good / "config.json", "config.json")
        archive.writestr("metrics.json", "{" + " " * 1_000_000 + "}")
    assert path.stat().st_size < 10_000
    with pytest.raises(CheckpointError, match="unpacks to more than 100,000 bytes"):
        deepgen.load(path)


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 not really a zip", b"plain text"])
def test_a_file_that_is_not_a_zip_is_refused(tmp_path, data):
    path = tmp_path / "broken.zip"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match="broken.zip"):
        deepgen.load(path)


# --- the Hub ---

class FakeHub:
    """Stands in for huggingface_hub: records the token of every call."""

    def __init__(self, monkeypatch, size=10_000):
        import huggingface_hub
        from huggingface_hub import constants

        self.tokens, self.uploaded, self.size = [], [], size
        hub = self

        class Api:
            def __init__(self, token=None):
                hub.tokens.append(("HfApi", token))

            def model_info(self, repo_id, files_metadata=False, token=None):
                hub.tokens.append(("model_info", token))
                return SimpleNamespace(sha="0" * 40, siblings=[
                    SimpleNamespace(rfilename="model.safetensors", size=hub.size),
                    SimpleNamespace(rfilename="other.bin", size=10 ** 12)])

            def create_repo(self, repo_id, exist_ok=False, private=False):
                return f"https://huggingface.co/{repo_id}"

            def upload_folder(self, repo_id, folder_path, commit_message):
                hub.uploaded = sorted(p.name for p in Path(folder_path).iterdir())

        def snapshot_download(repo_id, allow_patterns=None, token=None, revision=None):
            hub.tokens.append(("snapshot_download", token))
            return "/nonexistent/downloaded"

        monkeypatch.setattr(huggingface_hub, "HfApi", Api)
        monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_TOKEN", "hf_host_secret")


@pytest.mark.parametrize("token", [None, "", "   ", True])
def test_push_without_a_token_is_refused_even_with_the_hosts_token_set(monkeypatch, token):
    hub = FakeHub(monkeypatch)
    with pytest.raises(PushError, match="Sign in with Hugging Face"):
        push(marked(1), "victim/x", token=token)
    assert hub.tokens == []


def test_push_uses_exactly_the_visitors_token(monkeypatch):
    hub = FakeHub(monkeypatch)
    assert push(marked(1), "visitor/ae", token=" hf_visitor ") == "https://huggingface.co/visitor/ae"
    assert hub.tokens == [("HfApi", "hf_visitor")]
    assert hub.uploaded == sorted(checkpoint.FILES)


@pytest.mark.parametrize("repo_id", ["../etc/passwd", "https://huggingface.co/a/b", "a/b/c", "/tmp/a",
                                     "a/..", "owner/name.git", "owner/na--me", "owner", "a/b@main", ""])
def test_public_resolve_takes_only_owner_name(monkeypatch, repo_id):
    hub = FakeHub(monkeypatch)
    with pytest.raises(CheckpointError, match="not a Hub repo id"):
        checkpoint.resolve(repo_id, public=True)
    assert hub.tokens == []


def test_public_resolve_never_reads_a_local_folder_nor_sends_the_hosts_token(tmp_path, monkeypatch):
    hub = FakeHub(monkeypatch)
    monkeypatch.chdir(tmp_path)
    deepgen.save(marked(1), tmp_path / "owner" / "name")
    assert checkpoint.resolve("owner/name", public=True) == Path("/nonexistent/downloaded")
    assert hub.tokens == [("HfApi", False), ("model_info", False), ("snapshot_download", False)]
    hub.tokens.clear()
    checkpoint.resolve("owner/other", token="hf_visitor", public=True)
    assert hub.tokens == [("HfApi", "hf_visitor"), ("model_info", "hf_visitor"), ("snapshot_download", "hf_visitor")]
    assert checkpoint.resolve("owner/name") == Path("owner/name")  # outside public mode a folder wins


def test_a_hub_checkpoint_too_large_is_not_downloaded(monkeypatch):
    hub = FakeHub(monkeypatch, size=10 ** 9)
    with pytest.raises(CheckpointError, match="over the limit of 200,000,000"):
        checkpoint.resolve("owner/huge", token=False)
    assert [call for call, _ in hub.tokens] == ["HfApi", "model_info"]
