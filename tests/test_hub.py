"""The Hugging Face Hub without a network: ``hf://owner/name`` model folders and ``unpaired push``.

Downloads run through huggingface_hub's real code (``snapshot_download``, its cache layout, its
offline fallbacks and error classes) against a fake Hub: an ``httpx2.MockTransport`` installed
with ``huggingface_hub.set_client_factory`` that answers the three endpoints a snapshot needs
(revision info, file tree, file HEAD/GET). Uploads stop at ``HfApi``: its methods are replaced
by recorders (authentication and network failures go through the fake Hub instead). Nothing
here reaches the real Hub.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx2
import huggingface_hub
import numpy as np
import pytest
import torch
import yaml
from huggingface_hub import constants as hf_constants
from huggingface_hub.utils import _http as hf_http
from PIL import Image

from unpaired import Translator, cli, hub
from unpaired.hub import HubError
from unpaired.models.cyclegan import build_cyclegan
from unpaired.pretrained import load_pretrained, save_pretrained
from unpaired.publish import PublishError, model_card, prepare_upload, push

from conftest import TINY, make_images, make_model

MAIN = "1" * 40  # commit hashes of the fake Hub
OTHER = "2" * 40


# --- the fake Hub ---------------------------------------------------------------------------
class FakeHub:
    """Repositories ``{repo_id: {"refs": {name: commit}, "commits": {commit: {path: bytes}}}}``
    served over huggingface_hub's HTTP client; ``requests`` logs (method, path)."""

    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail: Exception | None = None  # raised for every request (a dead network)
        self.answer: httpx2.Response | None = None  # returned for every request

    def publish(self, repo_id: str, files: dict[str, bytes], commit=MAIN, ref="main") -> None:
        repo = self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
        repo["refs"][ref] = commit
        repo["commits"][commit] = files

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        self.requests.append((request.method, path))
        if self.fail is not None:
            raise self.fail
        if self.answer is not None:
            return self.answer
        if path.startswith("/api/models/"):
            owner, name, kind, rest = path.removeprefix("/api/models/").split("/", 3)
            repo = self.repos.get(f"{owner}/{name}")
            if repo is None:
                return httpx2.Response(404, headers={"X-Error-Code": "RepoNotFound"})
            commit = repo["refs"].get(rest, rest if rest in repo["commits"] else None)
            if commit is None:
                return httpx2.Response(404, headers={"X-Error-Code": "RevisionNotFound"})
            files = repo["commits"][commit]
            if kind == "revision":
                siblings = [{"rfilename": f} for f in files]
                return httpx2.Response(
                    200, json={"id": f"{owner}/{name}", "sha": commit, "siblings": siblings}
                )
            tree = [
                {"type": "file", "path": f, "size": len(b), "oid": _sha1(b)}
                for f, b in files.items()
            ]
            return httpx2.Response(200, json=tree)
        parts = path.lstrip("/").split("/", 4)  # owner/name/resolve/commit/file
        if len(parts) == 5 and parts[2] == "resolve":
            repo = self.repos.get(f"{parts[0]}/{parts[1]}")
            data = repo["commits"].get(parts[3], {}).get(parts[4]) if repo else None
            if data is None:
                return httpx2.Response(404, headers={"X-Error-Code": "EntryNotFound"})
            headers = {
                "X-Repo-Commit": parts[3],
                "ETag": f'"{_sha1(data)}"',
                "Content-Length": str(len(data)),
            }
            return httpx2.Response(
                200, headers=headers, content=b"" if request.method == "HEAD" else data
            )
        return httpx2.Response(404)


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.fixture
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private Hugging Face home: huggingface_hub read HF_HOME and HF_HUB_CACHE when it was
    imported, so its constants are patched as well as the environment; online, no token."""
    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hf_constants, "HF_HOME", str(home))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(hf_constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(hf_constants, "AGENT_HARNESSES_PATH", str(home / "agents.json"))
    return home


@pytest.fixture
def fake_hub(hf_home: Path):
    """The fake Hub behind huggingface_hub's HTTP client for the test's duration."""
    fake = FakeHub()

    def client() -> httpx2.Client:
        return httpx2.Client(
            transport=httpx2.MockTransport(fake.handle),
            event_hooks={"request": [hf_http.hf_request_event_hook]},  # offline mode, headers
            follow_redirects=True,
        )

    huggingface_hub.set_client_factory(client)
    yield fake
    huggingface_hub.set_client_factory(hf_http.default_client_factory)


def go_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)


def folder_files(folder: Path, **extra: bytes) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    return {**files, **extra}


def other_model(folder: Path) -> Path:
    """A second tiny model with other weights (seed 1)."""
    torch.manual_seed(1)
    model = build_cyclegan(3, 3, generator="resnet_6blocks", ngf=4, with_discriminators=False)
    info = {"channels_a": 3, "channels_b": 3, "generator": "resnet_6blocks", "ngf": 4}
    return save_pretrained(folder, model, {**info, "norm": "instance", "use_dropout": False})


def outputs(model: str | Path) -> torch.Tensor:
    x = torch.linspace(-1, 1, 3 * 20 * 24).reshape(1, 3, 20, 24)
    translator = Translator.load(model)
    return torch.cat([translator.translate(x, d) for d in ("a2b", "b2a")])


# --- (a) loading from the Hub ----------------------------------------------------------------
def test_download_then_offline_load_translates_like_the_folder(
    tmp_path: Path, fake_hub: FakeHub, hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = make_model(tmp_path / "model")
    extras = {"README.md": b"# card\n", "checkpoints/latest.pt": b"training state", "x.bin": b"0"}
    fake_hub.publish("owner/name", folder_files(local, **extras))
    expected = outputs(local)

    assert torch.equal(outputs("hf://owner/name"), expected)
    storage = hf_home / "hub" / "models--owner--name"
    assert (storage / "refs" / "main").read_text() == MAIN
    snapshot = storage / "snapshots" / MAIN
    # Only the model folder and its card: no checkpoint, nothing else the repository holds.
    assert sorted(p.name for p in snapshot.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    assert (snapshot / "model.safetensors").resolve().parent == storage / "blobs"
    assert not any("checkpoints" in path for _, path in fake_hub.requests)

    go_offline(monkeypatch)
    fake_hub.requests.clear()
    assert torch.equal(outputs("hf://owner/name"), expected)
    assert hub.resolve("hf://owner/name") == snapshot
    assert fake_hub.requests == []  # offline: not one request


def test_offline_honours_the_environment_read_now(
    tmp_path: Path, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_hub.publish("owner/name", folder_files(make_model(tmp_path / "model")))
    hub.resolve("hf://owner/name")
    fake_hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # set after huggingface_hub was imported
    hub.resolve("hf://owner/name")
    assert fake_hub.requests == []


def test_revisions_by_tag_and_commit_online_and_offline(
    tmp_path: Path, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = make_model(tmp_path / "first"), other_model(tmp_path / "second")
    fake_hub.publish("owner/name", folder_files(first))
    fake_hub.publish("owner/name", folder_files(second), commit=OTHER, ref="v2")
    want_first, want_second = outputs(first), outputs(second)
    assert not torch.equal(want_first, want_second)
    assert torch.equal(outputs("hf://owner/name@v2"), want_second)
    assert torch.equal(outputs("hf://owner/name"), want_first)

    go_offline(monkeypatch)
    assert torch.equal(outputs("hf://owner/name@v2"), want_second)
    assert torch.equal(outputs(f"hf://owner/name@{OTHER}"), want_second)
    assert torch.equal(outputs("hf://owner/name@main"), want_first)
    with pytest.raises(HubError, match=r"hf://owner/name@v3: not in the local"):
        hub.resolve("hf://owner/name@v3")


def test_a_plain_snapshot_download_is_a_model_folder(tmp_path: Path, fake_hub: FakeHub) -> None:
    local = make_model(tmp_path / "model")
    fake_hub.publish("owner/name", folder_files(local, **{"README.md": b"# card\n"}))
    cached = huggingface_hub.snapshot_download("owner/name")  # everything, into the cache
    copied = huggingface_hub.snapshot_download("owner/name", local_dir=tmp_path / "copy")
    for folder in (cached, copied):
        assert torch.equal(outputs(folder), outputs(local))


def test_translate_command_offline_in_a_fresh_process(
    tmp_path: Path, fake_hub: FakeHub, hf_home: Path, run_cli
) -> None:
    local = make_model(tmp_path / "model")
    fake_hub.publish("owner/name", folder_files(local))
    hub.resolve("hf://owner/name")  # cached by the fake Hub
    make_images(tmp_path / "in", 1, size=(28, 20))
    assert (
        run_cli("translate", local, "--input", tmp_path / "in", "--output", tmp_path / "want").code
        == 0
    )

    # A new process reads HF_HUB_CACHE and HF_HUB_OFFLINE from its environment, as users run it.
    env = {**os.environ, "HF_HUB_CACHE": str(hf_home / "hub"), "HF_HUB_OFFLINE": "1"}
    env["OMP_NUM_THREADS"] = "1"
    argv = ["translate", "hf://owner/name", "--input", str(tmp_path / "in"), "--output"]
    done = subprocess.run(
        [sys.executable, "-m", "unpaired", *argv, str(tmp_path / "got")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    name = "img 000.png"
    got = np.asarray(Image.open(tmp_path / "got" / name))
    assert np.array_equal(got, np.asarray(Image.open(tmp_path / "want" / name)))


@pytest.mark.parametrize(
    "name, needle",
    [
        ("hf://owner", "must be owner/name"),
        ("hf://a/b/c", "must be owner/name"),
        ("hf://owner/", "must be owner/name"),
        ("hf://owner/na me", "letters, digits"),
        ("hf://-owner/name", "must not start or end"),
        ("hf://owner/na--me", "'--'"),
        ("hf://owner/name@", "revision"),
    ],
)
def test_malformed_names_are_one_line(
    tmp_path: Path, name: str, needle: str, run_cli, fake_hub: FakeHub
) -> None:
    make_images(tmp_path / "in", 1)
    result = run_cli("translate", name, "--input", tmp_path / "in", "--output", tmp_path / "o")
    assert result.code == 2
    result.one_error_line(name, needle)
    assert fake_hub.requests == []  # refused before any request


def test_hub_errors_are_one_line(
    tmp_path: Path, fake_hub: FakeHub, hf_home: Path, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    local = make_model(tmp_path / "model")
    fake_hub.publish("owner/name", folder_files(local))
    fake_hub.publish("owner/cards", {"README.md": b"# only a card\n"})
    cases = [
        ("hf://owner/missing", "repository not found on the Hub"),
        ("hf://owner/name@nope", "no such revision"),
        ("hf://owner/cards", "no config.json and no model.safetensors in the repository"),
    ]
    make_images(tmp_path / "in", 1)
    for name, needle in cases:
        result = run_cli("translate", name, "--input", tmp_path / "in", "--output", tmp_path / "o")
        assert result.code == 2
        result.one_error_line(name, needle)

    fake_hub.fail = httpx2.ConnectError("[Errno -3] Temporary failure in name resolution")
    with pytest.raises(HubError, match=r"^hf://owner/new: cannot reach the Hub \(ConnectError"):
        hub.resolve("hf://owner/new")
    fake_hub.fail = None
    hub.resolve("hf://owner/name")
    fake_hub.fail = httpx2.ConnectError("no route")  # without a network: the cached copy
    assert (
        hub.resolve("hf://owner/name")
        == hf_home / "hub" / "models--owner--name" / "snapshots" / MAIN
    )

    # Offline and not cached: one line that says how to fix it; nothing written.
    go_offline(monkeypatch)
    result = run_cli(
        "translate", "hf://owner/other", "--input", tmp_path / "in", "--output", tmp_path / "o"
    )
    assert result.code == 2
    result.one_error_line(
        "hf://owner/other: not in the local Hugging Face cache", "HF_HUB_OFFLINE=0"
    )
    assert not (tmp_path / "o").exists()

    # A cached copy that lost a file is incomplete (the tree listing says so), offline.
    (hf_home / "hub" / "models--owner--name" / "snapshots" / MAIN / "model.safetensors").unlink()
    with pytest.raises(HubError, match="incomplete.*HF_HUB_OFFLINE=0"):
        hub.resolve("hf://owner/name")


def test_without_the_extra_the_error_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    make_images(tmp_path / "in", 1)
    result = run_cli(
        "translate", "hf://owner/name", "--input", tmp_path / "in", "--output", tmp_path / "o"
    )
    assert result.code == 2
    result.one_error_line("hf://owner/name", 'pip install "unpaired[hub]"')
    model = make_model(tmp_path / "model")
    result = run_cli("push", model, "me/model")
    assert result.code == 2
    result.one_error_line('pip install "unpaired[hub]"')
    assert run_cli("push", model, "me/model", "--dry-run", tmp_path / "stage").code == 0


# --- (b) pushing --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 3-step run: samples at steps 2 and 3, FID/KID during training (stand-in features)
    at steps 2 and 3, and ``unpaired evaluate`` at step 3 (eval/step_000003.json)."""
    root = tmp_path_factory.mktemp("hubrun")
    data = root / "horse2zebra"
    make_images(data / "trainA", 3, seed=1)
    make_images(data / "trainB", 3, seed=2)
    make_images(data / "testA", 2, seed=3)
    make_images(data / "testB", 2, seed=4)
    runs = root / "runs"
    argv = ["train", str(data), "--runs-dir", str(runs), "--max-steps", "3", *TINY]
    argv += ["--eval-every", "2", "--set", "eval_features=tiny", "--sample-every", "2"]
    assert cli.main(argv) == 0
    run = runs / "horse2zebra"
    assert cli.main(["evaluate", str(run), "--features", "tiny"]) == 0
    return run


class Recorder:
    """Stands in for the HfApi calls that reach the network; keeps what an upload held."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.files: dict[str, bytes] = {}

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def create_repo(api, repo_id, **kwargs):
            self.calls.append(("create_repo", (repo_id,), kwargs | {"token": api.token}))
            return f"https://huggingface.co/{repo_id}"

        def create_branch(api, repo_id, **kwargs):
            self.calls.append(("create_branch", (repo_id,), kwargs))

        def upload_folder(api, **kwargs):
            self.calls.append(("upload_folder", (), kwargs))
            folder = Path(kwargs["folder_path"])
            self.files = {p.name: p.read_bytes() for p in folder.iterdir()}
            assert all(p.is_file() for p in folder.iterdir())
            return "commit"

        monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
        monkeypatch.setattr(huggingface_hub.HfApi, "create_branch", create_branch)
        monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


@pytest.fixture
def recorder(hf_home: Path, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    rec = Recorder()
    rec.install(monkeypatch)
    return rec


def front_matter(card: str) -> tuple[dict, str]:
    assert card.startswith("---\n")
    head, body = card[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def sections(body: str) -> list[str]:
    return [line[3:] for line in body.splitlines() if line.startswith("## ")]


def test_push_a_run_folder(trained_run: Path, recorder: Recorder, tmp_path: Path) -> None:
    url = push(trained_run, "me/horse2zebra")
    assert url == "https://huggingface.co/me/horse2zebra"
    assert recorder.names() == ["create_repo", "upload_folder"]
    _, args, kwargs = recorder.calls[0]
    assert args == ("me/horse2zebra",) and kwargs["exist_ok"] is True
    assert kwargs["private"] is False and kwargs["token"] == "hf_test_token"
    upload = recorder.calls[1][2]
    assert upload["repo_id"] == "me/horse2zebra" and upload["revision"] is None
    assert upload["commit_message"] == "Upload cyclegan model (step 3) with unpaired"
    assert upload["delete_patterns"] is None

    files = recorder.files
    assert sorted(files) == ["README.md", "config.json", "model.safetensors", "sample.png"]
    model = trained_run / "model"
    assert files["config.json"] == (model / "config.json").read_bytes()
    assert files["model.safetensors"] == (model / "model.safetensors").read_bytes()
    assert files["sample.png"] == (trained_run / "samples" / "step_000003.png").read_bytes()

    meta, body = front_matter(files["README.md"].decode())
    assert meta == {
        "library_name": "unpaired",
        "tags": ["image-to-image", "unpaired-image-translation", "cyclegan"],
        "pipeline_tag": "image-to-image",
    }  # no license, no datasets: nothing says which
    assert sections(body) == ["Model", "Training", "Evaluation", "Samples", "Use"]
    assert "- `a2b`: A -> B (`horse2zebra/trainA` -> `horse2zebra/trainB`), 3 -> 3 channels" in body
    assert "generator `resnet_6blocks`, ngf `4`, norm `instance`, use_dropout `false`" in body
    assert "- 3 steps (1 full epoch)" in body
    assert "- planned: 100 epochs + 100 epochs of decay, at most 3 steps" in body
    record = json.loads((trained_run / "eval" / "step_000003.json").read_text())["metrics"]
    fid = f"| FID | {record['fid_a2b']:.4g} | {record['fid_b2a']:.4g} |"
    assert fid in body
    assert f"| KID | {record['kid_a2b']:.4g} ± " in body
    assert "`eval/step_000003.json`" in body and "feature network `tiny`" in body
    assert "not comparable with published FID/KID" in body
    assert "![Sample grid of the training run at step 3](sample.png)" in body
    assert 'pip install "unpaired[hub]"' in body
    assert "unpaired translate hf://me/horse2zebra --input" in body
    assert 'Translator.load("hf://me/horse2zebra")' in body
    assert str(trained_run.parent) not in body  # local paths reduced to folder names

    upload = tmp_path / "uploaded"
    upload.mkdir()
    for name, data in files.items():
        (upload / name).write_bytes(data)
    assert torch.equal(outputs(upload), outputs(trained_run))


def test_push_from_the_command_line_with_options(
    trained_run: Path, recorder: Recorder, run_cli
) -> None:
    argv = ["push", trained_run / "model_best", "me/h2z", "--private", "--revision", "dev"]
    argv += ["--message", "first try", "--license", "mit", "--dataset", "me/horse2zebra"]
    result = run_cli(*argv)
    assert result.code == 0, result.err
    assert "uploaded to https://huggingface.co/me/h2z/tree/dev" in result.out
    assert "hf://me/h2z@dev" in result.out
    assert recorder.names() == ["create_repo", "create_branch", "upload_folder"]
    assert recorder.calls[0][2]["private"] is True
    assert recorder.calls[1][2] == {"branch": "dev", "exist_ok": True}
    upload = recorder.calls[2][2]
    assert upload["revision"] == "dev" and upload["commit_message"] == "first try"
    meta, body = front_matter(recorder.files["README.md"].decode())
    assert meta["license"] == "mit" and meta["datasets"] == ["me/horse2zebra"]
    # model_best/: the training evaluation that chose it; its run is the folder above.
    best = json.loads((trained_run / "model_best" / "config.json").read_text())["eval"]
    assert f"| FID | {best['fid_a2b']:.4g} | {best['fid_b2a']:.4g} |" in body
    assert "(step 3, recorded in `eval/step_000003.json`)" in body  # the latest of step 3
    assert "- planned:" in body


def test_push_a_bare_model_folder(tmp_path: Path, recorder: Recorder) -> None:
    model = make_model(tmp_path / "model")
    push(model, "me/tiny")
    assert sorted(recorder.files) == ["README.md", "config.json", "model.safetensors"]
    assert recorder.calls[-1][2]["delete_patterns"] == ["sample.png"]  # an older push's grid
    meta, body = front_matter(recorder.files["README.md"].decode())
    assert meta["tags"][-1] == "cyclegan"
    assert sections(body) == ["Model", "Use"]  # no run: no training, metrics or samples
    assert "- `b2a`: B -> A, 3 -> 3 channels" in body
    assert "training images: mode `resize_and_crop`, load size `36`, image size `32`" in body


def test_card_of_an_imported_one_way_folder(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_cyclegan(3, 3, generator="resnet_6blocks", ngf=4, with_discriminators=False)
    source = {
        "format": "pytorch-CycleGAN-and-pix2pix",
        "files": ["latest_net_G.pth"],
        "sha256": {"latest_net_G.pth": "ab" * 32},
        "license": "bsd-2-clause",
    }
    info = {"channels_a": 3, "channels_b": 3, "generator": "resnet_6blocks", "ngf": 4}
    info |= {"norm": "instance", "use_dropout": False, "directions": ["b2a"], "source": source}
    folder = save_pretrained(tmp_path / "imported", model, info)
    card = model_card(folder, repo_id="me/zebra2horse")
    meta, body = front_matter(card)
    assert meta["license"] == "bsd-2-clause"
    assert sections(body) == ["Model", "Use", "Provenance"]
    assert "- `b2a`: B -> A" in body and "- `a2b`" not in body
    assert "holds no `a2b` network" in body
    assert "unpaired translate hf://me/zebra2horse --direction b2a --input" in body
    assert 'direction="b2a"' in body
    assert "- format: pytorch-CYCLEGAN".lower() in body.lower()
    assert f"- sha256 of `latest_net_G.pth`: `{'ab' * 32}`" in body
    assert model_card(folder, license="mit").count("license: mit") == 1


def test_dry_run_stops_before_the_network(
    trained_run: Path,
    recorder: Recorder,
    fake_hub: FakeHub,
    tmp_path: Path,
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HF_TOKEN")  # needs no login
    go_offline(monkeypatch)  # nor a network
    stage = tmp_path / "stage"
    result = run_cli("push", trained_run, "me/h2z", "--dry-run", stage)
    assert result.code == 0, result.err
    assert sorted(p.name for p in stage.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "sample.png",
    ]
    for name in ("README.md", "config.json", "model.safetensors", "sample.png"):
        assert name in result.out
    assert "nothing was uploaded" in result.out
    assert "hf://me/h2z" in (stage / "README.md").read_text()
    assert recorder.calls == [] and fake_hub.requests == []
    before = {p.name: p.read_bytes() for p in stage.iterdir()}
    again = run_cli("push", trained_run, "me/h2z", "--dry-run", stage)
    assert again.code == 2
    again.one_error_line(str(stage), "not overwriting")
    assert {p.name: p.read_bytes() for p in stage.iterdir()} == before


def test_push_refuses_what_is_not_a_sound_model(
    trained_run: Path, recorder: Recorder, fake_hub: FakeHub, tmp_path: Path, run_cli
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("push", empty, "me/x")
    assert result.code == 2
    result.one_error_line(str(empty), "config.json", "not a run or model folder")

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("config.json", "model.safetensors"):
        (corrupt / name).write_bytes((trained_run / "model" / name).read_bytes())
    data = bytearray((corrupt / "model.safetensors").read_bytes())
    data[-5] ^= 0x01  # one flipped bit in a weight
    (corrupt / "model.safetensors").write_bytes(bytes(data))
    for extra in ([], ["--dry-run", str(tmp_path / "stage")]):
        result = run_cli("push", corrupt, "me/x", *extra)
        assert result.code == 2
        result.one_error_line(str(corrupt / "model.safetensors"), "checksum", "nothing uploaded")
    assert not (tmp_path / "stage").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".stage")]  # no temporaries

    for repo_id, needle in [
        ("noslash", "must be owner/name"),
        ("a/b/c", "must be owner/name"),
        ("me/bad--name", "'--'"),
        ("me/x.git", ".git"),
    ]:
        result = run_cli("push", trained_run, repo_id)
        assert result.code == 2
        result.one_error_line(repo_id, needle)
    result = run_cli("push", trained_run, "me/x", "--license", "not a license")
    assert result.code == 2
    result.one_error_line("--license")
    assert recorder.calls == [] and fake_hub.requests == []


def test_push_login_network_and_offline_errors(
    trained_run: Path, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    result = run_cli("push", trained_run, "me/h2z")  # no HF_TOKEN, no stored login
    assert result.code == 2
    result.one_error_line("me/h2z", "not logged in", "hf auth login", "HF_TOKEN")
    assert fake_hub.requests == []

    # The real HfApi against the fake Hub: a rejected token, then no network at all.
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    fake_hub.answer = httpx2.Response(
        401, headers={"X-Error-Message": "Invalid credentials in Authorization header"}
    )
    result = run_cli("push", trained_run, "me/h2z")
    assert result.code == 2
    result.one_error_line("me/h2z", "HTTP 401", "hf auth login")
    assert fake_hub.requests[0] == ("POST", "/api/repos/create")

    fake_hub.answer, fake_hub.fail = None, httpx2.ConnectError("[Errno 101] Network is unreachable")
    result = run_cli("push", trained_run, "me/h2z")
    assert result.code == 2
    result.one_error_line("me/h2z", "cannot reach the Hub", "Network is unreachable")

    go_offline(monkeypatch)
    result = run_cli("push", trained_run, "me/h2z")
    assert result.code == 2
    result.one_error_line("me/h2z", "HF_HUB_OFFLINE")


def test_prepare_upload_api(trained_run: Path, tmp_path: Path) -> None:
    staged = prepare_upload(trained_run / "model", tmp_path / "up", repo_id="me/h2z")
    assert sorted(p.name for p in staged.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "sample.png",
    ]
    model, info = load_pretrained(staged)
    assert info["step"] == 3 and model.g_ab is not None
    with pytest.raises(PublishError, match="not overwriting"):
        prepare_upload(trained_run, staged)
    with pytest.raises(PublishError, match="a Hub model"):
        prepare_upload("hf://me/h2z", tmp_path / "up2")


def test_evaluate_a_hub_model(tmp_path: Path, fake_hub: FakeHub, hf_home: Path) -> None:
    from unpaired.evaluation import evaluate

    fake_hub.publish("owner/name", folder_files(make_model(tmp_path / "model")))
    data = tmp_path / "data"
    make_images(data / "testA", 2, size=(32, 32), seed=1)
    make_images(data / "testB", 2, size=(32, 32), seed=2)
    result = evaluate("hf://owner/name", data, metrics=("l1_cycle",), size=32, save=False)
    local = evaluate(tmp_path / "model", data, metrics=("l1_cycle",), size=32, save=False)
    assert result.scores == local.scores and result.info["model"] == "hf://owner/name"
