"""Translation with a trained model of any family: one pipeline for all of them.

* :class:`Translator` (``from unpaired import Translator``): images, arrays and tensors of any
  size, padded or tiled, with the model's extra inputs (a MUNIT style) as keyword arguments.
* :func:`plan_jobs` / :func:`translate_files`: files, folders, globs into an output folder,
  batched, atomic writes, 16-bit gray kept, volumes (NIfTI, DICOM, ``.npy``) slice by slice.
* :func:`style_variants`: the outputs per input a model with styles writes.
* :func:`translate_video`: a video file frame by frame (PyAV, the ``video`` extra), its
  size, rate, timestamps and audio kept.
* :mod:`.augment`: a labelled set translated with its masks kept.
"""

from __future__ import annotations

from .files import Job, TranslateReport, plan_jobs, translate_files
from .translator import DEFAULT_OVERLAP, DEFAULT_TILE, Translator, short_side_size
from .variants import PLAIN, TranslateError, Variant, style_variants, tagged
from .video import VIDEO_SUFFIXES, VideoError, check_videos, is_video, probe_video, translate_video

__all__ = [
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE",
    "PLAIN",
    "VIDEO_SUFFIXES",
    "Job",
    "TranslateError",
    "TranslateReport",
    "Translator",
    "Variant",
    "VideoError",
    "check_videos",
    "is_video",
    "plan_jobs",
    "probe_video",
    "short_side_size",
    "style_variants",
    "tagged",
    "translate_files",
    "translate_video",
]
