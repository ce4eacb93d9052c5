"""Models on the Hugging Face Hub: ``hf://owner/name[@revision]`` as a model folder.

:func:`resolve` turns such a name into a local folder: ``huggingface_hub.snapshot_download``
fetches the model folder's files (:data:`FILES`, nothing else) into the Hugging Face cache, or
finds them there. Everything that takes a model folder (``Translator.load``, ``unpaired
translate``, ``export``) takes such a name, through :func:`unpaired.pretrained.model_folder`.

Offline: with ``HF_HUB_OFFLINE=1`` (read when this module looks, as well as when
``huggingface_hub`` was imported) nothing is sent and the cached copy is used; without a
network, ``huggingface_hub`` falls back to the cache by itself. The cache is ``huggingface_hub``'s
own (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``, read when it is
first imported). A cached revision is found by the branch or tag it was downloaded as
(``refs/<revision>``) or by its commit hash.

Every failure is a one-line :class:`HubError`: the extra not installed, a malformed name, a
repository or revision that does not exist (or is private), a copy that is neither cached nor
downloadable (offline, or no network), a repository without a model folder.

It sits on the lowest floors (model folders below everything else look names up here): it
imports only the standard library, :mod:`unpaired.errors`, :mod:`unpaired.version` and, inside
the functions that need it, ``huggingface_hub`` (the ``hub`` extra).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from .errors import UnpairedError

__all__ = [
    "FILES",
    "INSTALL_HINT",
    "LOGIN_HINT",
    "PREFIX",
    "HubError",
    "HubName",
    "check_repo_id",
    "describe_error",
    "import_hub",
    "is_hub",
    "is_network_error",
    "offline",
    "parse",
    "resolve",
]

PREFIX = "hf://"
#: What a snapshot downloads: the model folder (config.json, model.safetensors), its model card
#: and the sample grid the card shows; never checkpoints or anything else a repository holds.
FILES = ("config.json", "model.safetensors", "README.md", "sample.png")
#: The model folder proper: what a snapshot must hold to be loaded.
REQUIRED = ("config.json", "model.safetensors")
INSTALL_HINT = 'pip install "unpaired[hub]"'
#: How to authenticate (huggingface_hub 1.0 replaced ``huggingface-cli`` with ``hf``).
LOGIN_HINT = (
    "log in with `hf auth login` (older huggingface_hub: `huggingface-cli login`) or set HF_TOKEN"
)

# One part of a repository id, as the Hub accepts it: letters, digits, '_', '-', '.', not
# starting or ending with '-' or '.', at most 96 characters (huggingface_hub's own rule).
_PART = re.compile(r"\w(?:[\w.-]{0,94}\w)?", re.ASCII)
_TRUE = {"1", "ON", "YES", "TRUE"}
# Exception classes of the HTTP clients that mean "the server could not be reached" (httpx:
# connect/read timeouts, DNS, proxies; requests: ConnectionError, Timeout), not a status code.
_HTTP_CLIENTS = ("httpx", "httpx2", "requests", "urllib3")
_NETWORK_KINDS = {"TransportError", "ConnectionError", "Timeout", "NewConnectionError"}


class HubError(UnpairedError):
    """A Hub model that cannot be found, downloaded, read or uploaded (one line, named)."""


class HubName(NamedTuple):
    """A parsed ``hf://owner/name[@revision]``: the repository id and the revision (a branch,
    tag or commit hash; None: the default branch)."""

    repo_id: str
    revision: str | None

    def __str__(self) -> str:
        suffix = f"@{self.revision}" if self.revision else ""
        return f"{PREFIX}{self.repo_id}{suffix}"


def is_hub(path: object) -> bool:
    """Whether ``path`` names a Hub repository (``hf://owner/name[@revision]``)."""
    return isinstance(path, str) and path.startswith(PREFIX)


def check_repo_id(repo_id: str, what: str = "repository") -> str:
    """``repo_id`` if it is a valid ``owner/name``; else a one-line :class:`HubError` that
    starts with ``what`` (the option or argument that gave it)."""
    parts = repo_id.split("/")
    problem = None
    if len(parts) != 2 or not all(parts):
        problem = "must be owner/name (a user or organisation, a slash, the model's name)"
    elif not all(_PART.fullmatch(p) for p in parts):
        problem = (
            "owner and name may hold letters, digits, '_', '-' and '.', must not start or end "
            "with '-' or '.', and have at most 96 characters each"
        )
    elif "--" in repo_id or ".." in repo_id or repo_id.endswith(".git"):
        problem = "must not contain '--' or '..' nor end with '.git'"
    if problem:
        raise HubError(f"{what} {repo_id!r}: {problem}")
    return repo_id


def parse(path: str) -> HubName:
    """``"hf://owner/name@v1"`` -> ``HubName("owner/name", "v1")``; a malformed name is a
    one-line :class:`HubError` naming it."""
    if not is_hub(path):
        raise HubError(f"{path!r}: not a Hub model name (expected {PREFIX}owner/name[@revision])")
    body = path[len(PREFIX) :]
    repo_id, at, revision = body.partition("@")
    check_repo_id(repo_id, f"{path}: repository")
    if at and (not revision or any(c.isspace() for c in revision)):
        raise HubError(f"{path}: empty or blank revision after '@' (a branch, tag or commit)")
    return HubName(repo_id, revision or None)


def import_hub(what: str) -> ModuleType:
    """The ``huggingface_hub`` module; a one-line install hint naming ``what`` needs it."""
    try:
        import huggingface_hub
    except ImportError:
        raise HubError(f"{what}: needs the Hugging Face Hub client: {INSTALL_HINT}") from None
    return huggingface_hub


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network: as the
    environment says now, or as it said when ``huggingface_hub`` was imported."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    if value.strip().upper() in _TRUE:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def is_network_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure to reach a server (no route, DNS, timeout, proxy), from the
    standard library or the HTTP client ``huggingface_hub`` uses (httpx or requests)."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return any(
        cls.__module__.split(".")[0] in _HTTP_CLIENTS and cls.__name__ in _NETWORK_KINDS
        for cls in type(exc).__mro__
    )


def describe_error(exc: BaseException, name: str) -> str | None:
    """One line for an exception ``huggingface_hub`` raised about ``name`` (a repository, a
    Hub model name), or None when it is none of the known kinds (a bug: keep the traceback)."""
    from huggingface_hub import errors

    def kind(attr: str) -> type[BaseException] | tuple[()]:
        return getattr(errors, attr, ())  # names differ between huggingface_hub versions

    login = LOGIN_HINT
    if isinstance(exc, kind("GatedRepoError")):
        return f"{name}: a gated repository: accept its conditions on the Hub, then {login}"
    if isinstance(exc, kind("RevisionNotFoundError")):
        return f"{name}: no such revision on the Hub (a branch, tag or commit of the repository)"
    if isinstance(exc, kind("RepositoryNotFoundError")):
        return f"{name}: repository not found on the Hub (if it is private, {login})"
    if isinstance(exc, kind("OfflineModeIsEnabled")):
        return f"{name}: HF_HUB_OFFLINE=1 forbids network access; set HF_HUB_OFFLINE=0"
    status = _status(exc)
    if status in (401, 403):
        return (
            f"{name}: the Hub refused the request (HTTP {status}: not logged in, an invalid "
            f"token, or no write access to this owner); {login}"
        )
    if isinstance(exc, kind("HfHubHTTPError")) or status is not None:
        return f"{name}: the Hub answered with an error ({_first_line(exc)})"
    if is_network_error(exc):
        return f"{name}: cannot reach the Hub ({_first_line(exc)}); check the network connection"
    return None


def resolve(path: str) -> Path:
    """The local folder of ``hf://owner/name[@revision]``: downloaded into the Hugging Face
    cache (only :data:`FILES`), or found there when offline or without a network.

    Raises:
        HubError: the extra is missing, the name is malformed, the repository or revision
            does not exist, the model is neither cached nor downloadable, or the snapshot has
            no model folder (``config.json`` + ``model.safetensors`` at its top level).
    """
    name = parse(path)
    hf = import_hub(str(name))
    from huggingface_hub import errors

    from .version import __version__

    no_network = offline()
    try:
        folder = hf.snapshot_download(
            name.repo_id,
            revision=name.revision,
            allow_patterns=list(FILES),
            local_files_only=no_network,
            library_name="unpaired",
            library_version=__version__,
        )
    except getattr(errors, "IncompleteSnapshotError", ()) as exc:
        raise HubError(
            f"{name}: the cached copy in {_cache_dir()} is incomplete and the Hub cannot be "
            f"reached to complete it; {_fix(no_network)} ({_first_line(exc)[:120]})"
        ) from None
    except errors.LocalEntryNotFoundError as exc:
        cause = exc.__cause__
        if no_network or isinstance(cause, getattr(errors, "OfflineModeIsEnabled", ())):
            raise HubError(
                f"{name}: not in the local Hugging Face cache ({_cache_dir()}) and "
                f"HF_HUB_OFFLINE=1 forbids downloading it; {_fix(True)}"
            ) from None
        reason = _first_line(cause) if cause is not None else "no connection"
        raise HubError(
            f"{name}: cannot reach the Hub ({reason}) and it is not in the local cache "
            f"({_cache_dir()}); check the network, then run again to download and cache it"
        ) from None
    except Exception as exc:
        message = describe_error(exc, str(name))
        if message is None:
            raise
        raise HubError(message) from None
    folder = Path(folder)
    missing = [f for f in REQUIRED if not (folder / f).is_file()]
    if missing:
        raise HubError(
            f"{name}: no {' and no '.join(missing)} in the repository's files ({folder}): not a "
            f"model folder of unpaired (it needs {' and '.join(REQUIRED)} at its top level)"
        )
    return folder


def _fix(no_network: bool) -> str:
    if no_network:
        return "run once with network access to cache it, or set HF_HUB_OFFLINE=0"
    return "run again with network access"
