"""``unpaired app`` at the API level: the real command serves four tiny models on a free local
port and ``gradio_client`` calls it as a page would (images both directions, 16-bit gray,
MUNIT styles, a NIfTI volume and a DICOM zip with the slice viewer, a batch, bad files, the
upload and pixel limits, two sessions at once); then the startup checks (the extra missing,
the non-local warning, what is imported) and the temporary folder removed on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unpaired import Translator, cli
from unpaired.pretrained import load_pretrained, save_pretrained

from conftest import make_images, make_model

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")

OFFLINE = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1"}
MAX_PIXELS = 5000  # images over 5,000 pixels are refused (70 x 72 = 5,040 is one too many)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppProcess:
    """``unpaired app MODEL... --port P`` in a child process, until :meth:`stop`."""

    def __init__(self, models: list[Path], *options: str) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "unpaired", "app", *map(str, models)]
        argv += ["--port", str(self.port), "--device", "cpu", *options]
        env = {**os.environ, **OFFLINE, "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.temp: Path | None = None
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(120) or self.temp is None:
            self.stop()
            output = "".join(self.lines[-40:]) + self.stderr()[-4000:]
            raise AssertionError(f"the app did not start:\n{output}")
        self.url = f"http://127.0.0.1:{self.port}/"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            found = re.search(r"temporary files: (\S+)", line)
            if found:
                self.temp = Path(found.group(1))
                self.ready.set()
        self.ready.set()

    def stop(self) -> int:
        """Ctrl-C (SIGINT), as a user stops it; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


def munit_folder(folder: Path) -> Path:
    from unpaired.models.munit import build_munit

    info = {"model": "munit", "channels_a": 3, "channels_b": 3, "dim": 4, "style_dim": 2,
            "n_downsample": 2, "n_res": 1, "mlp_dim": 8}  # fmt: skip
    torch.manual_seed(1)
    model = build_munit(**{k: v for k, v in info.items() if k != "model"},
                        with_discriminators=False)  # fmt: skip
    return save_pretrained(folder, model, info)


def one_way_folder(folder: Path, full: Path, direction: str) -> Path:
    model, info = load_pretrained(full)
    info = {k: v for k, v in info.items() if k not in ("library", "version", "weights_sha256")}
    return save_pretrained(folder, model, {**info, "directions": [direction]})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The models and inputs every test uses."""
    from unpaired.medical.phantoms import write_phantom_dicom_series, write_phantom_nifti

    root = tmp_path_factory.mktemp("app")
    out = {
        "cg": make_model(root / "cg"),
        "gray": make_model(root / "gray", 1, 1, norm="none", init_gain=0.1),
        "munit": munit_folder(root / "munit"),
    }
    out["oneway"] = one_way_folder(root / "oneway", out["cg"], "b2a")
    out["rgb"] = make_images(root / "in", 1, size=(48, 40))[0]
    out["rgb2"] = make_images(root / "in2", 1, size=(36, 28), seed=5)[0]
    gray16 = (np.arange(40 * 44, dtype=np.uint32).reshape(40, 44) * 37 % 65536).astype(np.uint16)
    Image.fromarray(gray16).save(root / "gray16.png")
    out["gray16"] = root / "gray16.png"
    out["big"] = make_images(root / "big", 1, size=(70, 72))[0]
    (root / "bad.png").write_bytes(b"this is not a PNG file at all")
    out["bad"] = root / "bad.png"
    out["nifti"] = write_phantom_nifti(root / "ct.nii.gz", size=32, slices=6, seed=1)
    out["nifti2"] = write_phantom_nifti(root / "ct2.nii.gz", size=24, slices=4, seed=2)
    write_phantom_dicom_series(root / "series", size=24, slices=5, seed=3)
    with zipfile.ZipFile(root / "series.zip", "w") as archive:
        for dcm in sorted((root / "series").iterdir()):
            archive.write(dcm, f"study/{dcm.name}")
    out["zip"] = root / "series.zip"
    (root / "large.bin").write_bytes(os.urandom(3 * 2**20 // 2))  # 1.5 MB > 1 MB limit
    out["large"] = root / "large.bin"
    return out


@pytest.fixture(scope="module")
def app(files: dict[str, Path]) -> Iterator[AppProcess]:
    models = [files[k] for k in ("cg", "gray", "munit", "oneway")]
    process = AppProcess(models, "--max-upload-mb", "1", "--max-pixels", str(MAX_PIXELS))
    yield process
    process.stop()


@pytest.fixture
def client(app: AppProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for key, value in OFFLINE.items():  # gradio_client reads these too
        monkeypatch.setenv(key, value)
    from gradio_client import Client

    return Client(app.url, verbose=False, download_files=str(tmp_path), analytics_enabled=False)


def upload(path: Path):
    from gradio_client import handle_file

    return handle_file(str(path))


def translate(client, model: str, direction: str, image: Path, styles=1, seed=0, style=None):
    reference = upload(style) if style is not None else None
    return client.predict(
        model, direction, upload(image), styles, seed, reference, api_name="/translate"
    )


def error_of(call) -> str:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:
        call()
    return str(caught.value)


def expected(folder: Path, image: Path, direction: str) -> np.ndarray:
    """What ``unpaired translate`` code gives for one image (uint8 array)."""
    translator = Translator.load(folder)
    return np.asarray(translator(Image.open(image).convert("RGB"), direction))


@pytest.mark.parametrize("direction", ["a2b", "b2a"])
def test_an_image_is_translated_both_ways_at_its_size(client, files, direction) -> None:
    output, gallery, summary, downloads = translate(client, "cg", direction, files["rgb"])
    result = np.asarray(Image.open(output))
    assert result.shape == (40, 48, 3) and result.dtype == np.uint8
    diff = np.abs(result.astype(int) - expected(files["cg"], files["rgb"], direction))
    assert diff.max() <= 1  # the same translation (PNG rounding aside)
    assert summary.startswith(f"48×40 {direction} with cg (cyclegan) in ")
    assert summary.endswith("output 8-bit PNG")
    assert len(gallery) == 1 and len(downloads) == 1
    assert Path(downloads[0]).name == f"{files['rgb'].stem}.png"


def test_16_bit_gray_comes_back_as_16_bit_png(client, files) -> None:
    output, _, summary, _ = translate(client, "gray", "a2b", files["gray16"])
    with Image.open(output) as image:
        assert image.mode == "I;16" and image.size == (44, 40)
        values = np.asarray(image)
    assert values.dtype == np.uint16 and len(np.unique(values)) > 256  # not 8 bits
    assert summary.endswith("output 16-bit PNG")


def test_munit_gives_three_styles_reproducibly_or_a_reference_style(client, files) -> None:
    _, gallery, summary, downloads = translate(client, "munit", "a2b", files["rgb"], 3, 7)
    assert [item["caption"] for item in gallery] == [f"style {k} (seed 7)" for k in range(3)]
    arrays = [np.asarray(Image.open(item["image"])) for item in gallery]
    assert all(a.shape == (40, 48, 3) for a in arrays)
    assert not np.array_equal(arrays[0], arrays[1]) and not np.array_equal(arrays[1], arrays[2])
    assert ", 3 styles)" in summary and len(downloads) == 3
    _, again, _, _ = translate(client, "munit", "a2b", files["rgb"], 3, 7)
    assert np.array_equal(np.asarray(Image.open(again[2]["image"])), arrays[2])
    _, styled, _, _ = translate(client, "munit", "a2b", files["rgb"], style=files["rgb2"])
    assert len(styled) == 1 and styled[0]["caption"] == "output"


def test_a_nifti_volume_comes_back_as_translate_writes_it(client, files, tmp_path) -> None:
    nib = pytest.importorskip("nibabel")
    state_slider, slice_in, slice_out, download, summary = client.predict(
        "gray", "a2b", [upload(files["nifti"])], 0, None, "model", -160, 240,
        api_name="/volume",
    )  # fmt: skip
    assert Path(download).name == "ct_a2b.nii.gz"
    assert summary.startswith("ct.nii.gz (32×32×6) a2b with gray: 6 slices in ")
    assert state_slider["maximum"] == 5 and state_slider["value"] == 3
    assert np.asarray(Image.open(slice_in)).shape == (32, 32)
    assert np.asarray(Image.open(slice_out)).shape == (32, 32)
    assert cli.main(["translate", str(files["gray"]), "-i", str(files["nifti"]),
                     "-o", str(tmp_path / "cli"), "--progress", "lines"]) == 0  # fmt: skip
    ours, theirs = nib.load(download), nib.load(tmp_path / "cli" / "ct.nii.gz")
    assert ours.shape == theirs.shape == (32, 32, 6)
    assert np.array_equal(ours.affine, theirs.affine)
    assert ours.get_data_dtype() == theirs.get_data_dtype()
    assert np.array_equal(np.asarray(ours.dataobj), np.asarray(theirs.dataobj))
    first_in, first_out = client.predict(0, "lung", 0, 1, api_name="/slice")
    assert np.asarray(Image.open(first_in)).shape == (32, 32)
    assert not np.array_equal(np.asarray(Image.open(first_in)), np.asarray(Image.open(slice_in)))
    message = error_of(lambda: client.predict(0, "custom", 5, 1, api_name="/slice"))
    assert message == "custom window: needs lo < hi, got [5, 1]"


def test_a_zipped_dicom_series_comes_back_as_a_zipped_series(client, files) -> None:
    pytest.importorskip("pydicom")
    slider, slice_in, _, download, summary = client.predict(
        "gray", "b2a", [upload(files["zip"])], 0, None, "soft_tissue", 0, 1, api_name="/volume"
    )
    assert slider["maximum"] == 4 and np.asarray(Image.open(slice_in)).shape == (24, 24)
    assert Path(download).name == "series_b2a.zip" and "5 slices" in summary
    with zipfile.ZipFile(download) as archive:
        names = archive.namelist()
    assert len(names) == 5 and all(
        n.startswith("series_b2a/") and n.endswith(".dcm") for n in names
    )


def test_a_batch_gives_a_gallery_a_zip_and_names_the_bad_file(client, files) -> None:
    gallery, archive, summary = client.predict(
        "cg", "a2b", [upload(files["rgb"]), upload(files["bad"]), upload(files["rgb2"])],
        1, 0, None, api_name="/batch",
    )  # fmt: skip
    # both are "img 000.png": the second output is numbered
    assert [item["caption"] for item in gallery] == ["img 000.png", "img 000_2.png"]
    assert np.asarray(Image.open(gallery[1]["image"])).shape == (28, 36, 3)
    with zipfile.ZipFile(archive) as zipped:
        assert sorted(zipped.namelist()) == ["img 000.png", "img 000_2.png"]
    assert summary.splitlines()[0].startswith("2 images written in ")
    assert summary.splitlines()[1] == (
        "- bad.png: cannot read image 'bad.png': not a recognised image file (unknown format "
        "or corrupt header)"
    )


def test_a_bad_file_is_one_error_line_and_the_app_keeps_serving(client, files, app) -> None:
    message = error_of(lambda: translate(client, "cg", "a2b", files["bad"]))
    assert message == (
        "cannot read image 'bad.png': not a recognised image file (unknown format or corrupt "
        "header)"
    )
    assert str(app.temp) not in message
    message = error_of(lambda: translate(client, "cg", "a2b", files["nifti"]))
    assert message == (
        "ct.nii.gz: not an image file (PNG, JPEG, BMP, TIFF or WebP); volumes go in the Medical tab"
    )
    message = error_of(lambda: translate(client, "oneway", "a2b", files["rgb"]))
    assert message == "direction a2b: this cyclegan model folder holds b2a only"
    assert translate(client, "oneway", "b2a", files["rgb"])[2].startswith("48×40 b2a")


def test_uploads_and_images_over_the_limits_are_refused(client, files, app) -> None:
    import httpx

    message = error_of(lambda: translate(client, "cg", "a2b", files["big"]))
    assert message.startswith("cannot read image 'img 000.png': 5,040 pixels, more than the ")
    assert "limit of 5,000" in message
    with open(files["large"], "rb") as fh:  # the server refuses it, whatever the page does
        response = httpx.post(f"{app.url}gradio_api/upload", files={"files": ("x.png", fh)})
    assert response.status_code == 413
    with pytest.raises(ValueError, match="exceeds the maximum file size of 1048576 bytes"):
        translate(client, "cg", "a2b", files["large"])


def test_two_sessions_keep_their_own_volumes(app, files, tmp_path, monkeypatch) -> None:
    pytest.importorskip("nibabel")
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    from gradio_client import Client

    first, second = (
        Client(app.url, verbose=False, download_files=str(tmp_path / n), analytics_enabled=False)
        for n in ("1", "2")
    )
    run = first.submit("gray", "a2b", [upload(files["nifti"])], 0, None, "model", 0, 1,
                       api_name="/volume")  # fmt: skip
    second.predict("gray", "a2b", [upload(files["nifti2"])], 0, None, "model", 0, 1,
                   api_name="/volume")  # fmt: skip
    run.result(60)
    shape = {n: np.asarray(Image.open(c.predict(1, "model", 0, 1, api_name="/slice")[1])).shape
             for n, c in (("first", first), ("second", second))}  # fmt: skip
    assert shape == {"first": (32, 32), "second": (24, 24)}


def test_without_the_extra_the_command_names_it(files, run_cli, monkeypatch) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else find_spec(name)
    )
    result = run_cli("app", files["cg"])
    assert result.code == 2
    line = result.one_error_line()
    assert line == 'error: unpaired app needs the app extra (Gradio): pip install "unpaired[app]"'


def test_a_bad_model_or_option_is_one_line_and_a_network_host_warns(
    files, tmp_path, run_cli, monkeypatch
) -> None:
    for key in ("GRADIO_TEMP_DIR", "NO_PROXY", "no_proxy", *OFFLINE, "GRADIO_SSR_MODE",
                "GRADIO_MCP_SERVER", "GRADIO_SHARE"):  # fmt: skip
        monkeypatch.setenv(key, os.environ.get(key, ""))  # serve() sets them: restore after
    result = run_cli("app", tmp_path / "nothing")
    assert result.code == 2 and "nothing" in result.one_error_line()
    result = run_cli("app", files["cg"], "--max-upload-mb", "0")
    assert result.one_error_line() == "error: --max-upload-mb 0: must be at least 1"

    import unpaired.app.page as page

    def refuse(*args, **kwargs):
        from unpaired.app import AppError

        raise AppError("stopped before serving")

    monkeypatch.setattr(page, "build_page", refuse)
    result = run_cli("app", files["cg"], "--host", "0.0.0.0")
    assert result.code == 2
    assert "warning: --host 0.0.0.0: anyone who can reach this machine" in result.err
    assert "warning" not in run_cli("app", files["cg"]).err


def test_a_port_in_use_is_one_line(files, run_cli, monkeypatch) -> None:
    for key in ("GRADIO_TEMP_DIR", "NO_PROXY", "no_proxy", *OFFLINE, "GRADIO_SSR_MODE",
                "GRADIO_MCP_SERVER", "GRADIO_SHARE"):  # fmt: skip
        monkeypatch.setenv(key, os.environ.get(key, ""))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("app", files["cg"], "--port", port, "--device", "cpu")
    assert result.code == 2
    assert result.one_error_line() == (
        f"error: --port {port}: cannot listen on 127.0.0.1:{port} (in use); choose another "
        "port (--port N, or 0 for any free one)"
    )


def test_the_command_imports_only_what_it_needs() -> None:
    code = (
        "import sys, unpaired.cli, unpaired.app\n"
        "assert 'gradio' not in sys.modules\n"
        "import unpaired.app.page\n"
        "heavy = ('onnx', 'onnxruntime', 'nibabel', 'pydicom', 'av', 'wandb', 'tensorboard')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, **OFFLINE}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_examples_are_the_run_test_images(tmp_path) -> None:
    """A run folder's testA/testB images are the page's examples, copied, per direction."""
    from unpaired.app.models import load_models

    run = tmp_path / "runs" / "r"
    make_model(run / "model")
    data = tmp_path / "data"
    make_images(data / "testA", 2, seed=1)
    make_images(data / "testB", 1, seed=2)
    make_images(data / "trainA", 1), make_images(data / "trainB", 1)
    (run / "config.yaml").write_text(json.dumps({"name": "r", "data": {"root": str(data)}}))
    [model] = load_models([str(run)], "cpu", examples_dir=tmp_path / "ex")
    assert model.name == "r"
    assert [p.name for p in model.examples["a2b"]] == ["00_img 000.png", "01_img 001.png"]
    assert [p.name for p in model.examples["b2a"]] == ["00_img 000.png"]
    assert all(tmp_path / "ex" in p.parents for p in model.examples["a2b"])
    [plain] = load_models([str(run / "model")], "cpu")
    assert plain.name == "r" and plain.examples == {}


def test_stopping_removes_the_temporary_folder(app: AppProcess) -> None:
    """Last: Ctrl-C ends the module's app, which removes everything it wrote."""
    assert app.temp is not None and (app.temp / "gradio").is_dir()
    assert app.stop() == 0
    assert not app.temp.exists()
    out = "".join(app.lines)
    assert "stopped; temporary files removed" in out
    assert "Traceback" not in app.stderr()
