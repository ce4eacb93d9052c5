"""The local web app (``unpaired app``): try model folders in the browser (extra ``app``).

* :func:`serve`: the page of some models on ``http://127.0.0.1:7860/`` until Ctrl-C; one
  temporary folder for everything it writes, Gradio kept offline (:mod:`.server`).
* :func:`load_models` / :class:`AppModel`: the models a page offers (:mod:`.models`).
* :mod:`.work`: what the buttons do, without Gradio (the same translation code as
  ``unpaired translate``).
* :mod:`.page`: the Gradio components (imported by :func:`serve` only).

Importing this package does not import Gradio.
"""

from __future__ import annotations

from .errors import INSTALL_HINT, AppError
from .models import AppModel, load_models
from .server import check_extra, serve

__all__ = ["INSTALL_HINT", "AppError", "AppModel", "check_extra", "load_models", "serve"]
