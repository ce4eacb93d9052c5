"""Translation with a trained model of any family: one pipeline for all of them.

* :class:`Translator` (``from unpaired import Translator``): images, arrays and tensors of any
  size, padded or tiled, with the model's extra inputs (a MUNIT style) as keyword arguments.
* :func:`plan_jobs` / :func:`translate_files`: files, folders, globs into an output folder,
  batched, atomic writes, 16-bit gray kept, volumes (NIfTI, DICOM, ``.npy``) slice by slice.
* :func:`style_variants`: the outputs per input a model with styles writes.
* :mod:`.augment`: a labelled set translated with its masks kept.
"""

from __future__ import annotations

from .files import Job, TranslateReport, plan_jobs, translate_files
from .translator import DEFAULT_OVERLAP, DEFAULT_TILE, Translator, short_side_size
from .variants import PLAIN, TranslateError, Variant, style_variants, tagged

__all__ = [
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE",
    "PLAIN",
    "Job",
    "TranslateError",
    "TranslateReport",
    "Translator",
    "Variant",
    "plan_jobs",
    "short_side_size",
    "style_variants",
    "tagged",
    "translate_files",
]
