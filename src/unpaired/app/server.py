"""Start and stop the page (``unpaired app``): one temporary folder, Gradio kept offline.

The app owns one :class:`tempfile.TemporaryDirectory`; Gradio's uploads and results
(``GRADIO_TEMP_DIR``), the example images and every request's work go under it, and it is
removed when the app stops (Ctrl-C or SIGTERM included). Nothing else is written.

Gradio is kept from calling out: analytics off (``GRADIO_ANALYTICS_ENABLED=False``, which also
skips its version check and telemetry through ``huggingface_hub``, disabled as well), no share
link, no server-side rendering (no Node), no MCP server, no monitoring endpoint, no PWA; its
default theme's fonts are served by the app itself, so the page renders without a network.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..data.images import pixel_limit
from ..translate import DEFAULT_TILE
from .errors import INSTALL_HINT, AppError
from .models import load_models
from .work import UNZIP_FACTOR, Workspace

__all__ = ["LOCAL_HOSTS", "MB", "OFFLINE_ENV", "check_extra", "is_local", "serve"]

MB = 2**20
#: Host names that only this machine can reach.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Environment that keeps Gradio (and huggingface_hub under it) from calling out.
OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_SSR_MODE": "False",
    "GRADIO_MCP_SERVER": "False",
    "GRADIO_SHARE": "False",
}


def check_extra() -> None:
    """A one-line :class:`AppError` naming the extra when Gradio is not installed."""
    if importlib.util.find_spec("gradio") is None:
        raise AppError(f"unpaired app needs the app extra (Gradio): {INSTALL_HINT}")


def is_local(host: str) -> bool:
    """Whether ``host`` is a loopback address (only this machine can connect)."""
    return host in LOCAL_HOSTS or host.startswith("127.")


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _offline_env(temp: Path) -> None:
    os.environ.update(OFFLINE_ENV)
    os.environ["GRADIO_TEMP_DIR"] = str(temp)
    # The server checks itself through http://127.0.0.1: never through a proxy.
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(name, "").split(",") if h]
        os.environ[name] = ",".join(dict.fromkeys([*hosts, "localhost", "127.0.0.1", "::1"]))


@contextmanager
def _stop_on_signals():
    """SIGINT (Ctrl-C) and SIGTERM stop the app, so the temporary folder is removed (also
    when started in the background, where a shell ignores SIGINT)."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def serve(
    model_paths: Sequence[str],
    host: str = "127.0.0.1",
    port: int = 7860,
    device: str = "auto",
    max_upload_mb: int = 50,
    max_pixels: int | None = 50_000_000,
    tile: int = DEFAULT_TILE,
) -> int:
    """Serve the page of ``model_paths`` at ``http://host:port`` until Ctrl-C or SIGTERM;
    returns 0. ``port`` 0 takes a free port. Uploads over ``max_upload_mb`` MB and images over
    ``max_pixels`` pixels are refused with a message in the page.

    Raises:
        AppError: the extra is missing, a bad option, the port cannot be listened on.
        ModelLoadError: a MODEL does not load (one line naming it).
    """
    check_extra()
    if not model_paths:
        raise AppError("MODEL: give at least one model folder or run folder")
    if not 0 <= port <= 65535:
        raise AppError(f"--port {port}: must be 0 to 65535")
    if max_upload_mb < 1:
        raise AppError(f"--max-upload-mb {max_upload_mb}: must be at least 1")
    if max_pixels is not None and max_pixels < 1:
        raise AppError(f"--max-pixels {max_pixels}: must be at least 1")
    if tile < 0:
        raise AppError(f"--tile {tile}: must be at least 0")
    with (
        tempfile.TemporaryDirectory(prefix="unpaired-app-") as temp,
        pixel_limit(max_pixels),
        _stop_on_signals(),
    ):
        workspace = Workspace(temp)
        _offline_env(workspace.gradio)
        models = load_models(model_paths, device, tile, workspace.examples)
        if not is_local(host):
            print(
                f"warning: --host {host}: anyone who can reach this machine on the network "
                "can use this app and its models (there is no login); use --host 127.0.0.1 "
                "to keep it to this machine",
                file=sys.stderr,
            )
        from .page import CSS, build_page

        page = build_page(models, workspace, max_upload_mb * MB * UNZIP_FACTOR)
        page.queue(max_size=64, default_concurrency_limit=1)
        chosen = port or _free_port(host)
        try:
            page.launch(
                server_name=host,
                server_port=chosen,
                share=False,
                inbrowser=False,
                prevent_thread_lock=True,
                quiet=True,
                show_error=True,
                max_file_size=max_upload_mb * MB,
                enable_monitoring=False,
                ssr_mode=False,
                mcp_server=False,
                pwa=False,
                footer_links=["api", "settings"],
                css=CSS,
            )
        except OSError as exc:
            text = " ".join(str(exc).split())
            reason = "in use" if "empty port" in text else text[:160]
            raise AppError(
                f"--port {chosen}: cannot listen on {host}:{chosen} ({reason}); choose another "
                "port (--port N, or 0 for any free one)"
            ) from None
        url_host = f"[{host}]" if ":" in host else host
        print(
            f"serving {len(models)} model(s) on http://{url_host}:{page.server_port}/ "
            f"(Ctrl-C stops it); temporary files: {temp} (removed when it stops)",
            flush=True,
        )
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            page.close()
        print("stopped; temporary files removed", flush=True)
    return 0
