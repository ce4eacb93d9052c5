"""Publishing model folders: the Hugging Face Hub upload and its model card.

* :func:`model_card`: the ``README.md`` of a run or model folder (front matter for the Hub and
  a body made of what the folders record).
* :func:`prepare_upload`: the folder an upload holds (``config.json``, ``model.safetensors``,
  ``README.md``, ``sample.png``), checked by loading it.
* :func:`push`: that folder to a Hub repository (``unpaired push``); needs the ``hub`` extra.

Downloading (``hf://owner/name``) lives in :mod:`unpaired.hub`, below the model folders.
"""

from .card import model_card
from .errors import PublishError
from .push import UPLOAD_FILES, prepare_upload, push

__all__ = ["UPLOAD_FILES", "PublishError", "model_card", "prepare_upload", "push"]
