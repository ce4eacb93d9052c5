"""Uploading a model folder and its model card to the Hugging Face Hub.

:func:`prepare_upload` stages exactly what a Hub repository gets: ``config.json``,
``model.safetensors``, ``README.md`` (:func:`~unpaired.publish.card.model_card`) and, when the
run has one, ``sample.png`` (its sample grid); never checkpoints or training state. The staged
folder is loaded like any model folder before it is accepted, so a corrupt model (a checksum
mismatch, NaN weights, a truncated file, a folder rewritten by a running training) is refused
before any network call. :func:`push` stages into a temporary folder, then calls
``HfApi.create_repo(exist_ok=True)`` and ``HfApi.upload_folder``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from .. import hub
from ..fs import atomic_folder
from ..pretrained import CONFIG_NAME, WEIGHTS_NAME, ModelLoadError, load_pretrained
from .card import CARD_NAME, SAMPLE_NAME, locate, model_card, sample_grid
from .errors import PublishError

__all__ = ["UPLOAD_FILES", "prepare_upload", "push"]

#: Every file an upload may hold, in this order; nothing else is ever uploaded.
UPLOAD_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, SAMPLE_NAME)


def check_revision(revision: str | None) -> str | None:
    """``revision`` (a branch name) if it is usable; a one-line :class:`PublishError` if not."""
    if revision is not None and (
        not revision.strip() or any(c.isspace() for c in revision) or ".." in revision
    ):
        raise PublishError(f"--revision {revision!r}: not a branch name")
    return revision


def prepare_upload(
    run_or_model: str | Path,
    staging_dir: str | Path,
    *,
    repo_id: str | None = None,
    license: str | None = None,
    datasets: Sequence[str] | None = None,
) -> Path:
    """Write what an upload of ``run_or_model`` holds into ``staging_dir`` (a new folder, or
    an empty one); returns it.

    ``staging_dir`` gets ``config.json`` and ``model.safetensors`` (byte copies), the model
    card ``README.md`` (``repo_id``, ``license``, ``datasets``: see
    :func:`~unpaired.publish.card.model_card`) and ``sample.png`` when the run has a sample
    grid. The folder appears complete or not at all.

    Raises:
        PublishError: ``staging_dir`` holds files, the folder is not a model or run folder,
            or its model does not load (the message says why; nothing is staged).
    """
    staging = Path(staging_dir)
    if staging.exists() and (not staging.is_dir() or any(staging.iterdir())):
        raise PublishError(f"{staging}: exists and is not an empty folder; not overwriting it")
    try:
        run = locate(run_or_model)
    except ModelLoadError as exc:
        raise PublishError(f"{exc} (not a run or model folder)") from None
    card = model_card(run_or_model, repo_id=repo_id, license=license, datasets=datasets)
    grid = sample_grid(run)

    def write(folder: Path) -> None:
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            shutil.copyfile(run.model_dir / name, folder / name)
        (folder / CARD_NAME).write_text(card, encoding="utf-8")
        if grid is not None:
            shutil.copyfile(grid, folder / SAMPLE_NAME)
        # What is uploaded is what loads: the staged copy itself is checked (a training run
        # that rewrites model/ between the two copies leaves a mismatched pair, refused here).
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                load_pretrained(folder)
            except ModelLoadError as exc:
                text = str(exc).replace(str(folder), str(run.model_dir))
                raise PublishError(f"{text}; nothing uploaded") from None
        for warning in caught:  # a newer version, unknown keys: named by the user's folder
            text = str(warning.message).replace(str(folder), str(run.model_dir))
            warnings.warn(text, warning.category, stacklevel=3)

    return atomic_folder(staging, write)


def push(
    run_or_model: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    license: str | None = None,
    datasets: Sequence[str] | None = None,
) -> str:
    """Upload the model of ``run_or_model`` (a run folder or a model folder) to the Hub
    repository ``repo_id`` (``owner/name``, created if needed); returns its URL.

    Args:
        private: create the repository private (an existing one keeps its visibility).
        token: a Hub token with write access; None: ``HF_TOKEN`` or the stored login.
        revision: the branch to commit to (created from the default branch if needed);
            None: the default branch.
        commit_message: None: "Upload <family> model (step N) with unpaired".
        license, datasets: for the model card's front matter (see
            :func:`~unpaired.publish.card.model_card`).

    Raises:
        unpaired.hub.HubError: a malformed ``repo_id``, the ``hub`` extra missing, no login,
            offline mode, a refused request or an unreachable Hub.
        PublishError: not a run or model folder, or a model that does not load.
    """
    hub.check_repo_id(repo_id)
    check_revision(revision)
    hf = hub.import_hub("unpaired push")
    with tempfile.TemporaryDirectory(prefix="unpaired-push-") as tmp:
        staging = prepare_upload(
            run_or_model,
            Path(tmp) / "upload",
            repo_id=repo_id,
            license=license,
            datasets=datasets,
        )
        if hub.offline():
            raise hub.HubError(
                f"{repo_id}: HF_HUB_OFFLINE=1 forbids network access and uploading needs it; "
                "set HF_HUB_OFFLINE=0"
            )
        token = token or hf.get_token()
        if not token:
            raise hub.HubError(
                f"{repo_id}: not logged in to the Hugging Face Hub; {hub.LOGIN_HINT}"
            )
        message = commit_message or _default_message(staging)
        staged = {p.name for p in staging.iterdir()}
        stale = [name for name in UPLOAD_FILES if name not in staged]  # e.g. an old sample.png
        api = hf.HfApi(token=token)
        try:
            url = str(api.create_repo(repo_id, exist_ok=True, private=private))
            if revision is not None:
                api.create_branch(repo_id, branch=revision, exist_ok=True)
            api.upload_folder(
                repo_id=repo_id,
                folder_path=str(staging),
                commit_message=message,
                revision=revision,
                delete_patterns=stale or None,
            )
        except Exception as exc:
            description = hub.describe_error(exc, repo_id)
            if description is None:
                raise
            raise hub.HubError(description) from None
    return f"{url.rstrip('/')}/tree/{revision}" if revision else url


def _default_message(staging: Path) -> str:
    config = json.loads((staging / CONFIG_NAME).read_text())
    kind = config.get("model", "model")
    step = config.get("step")
    where = f" (step {step})" if isinstance(step, int) else ""
    return f"Upload {kind} model{where} with unpaired"
