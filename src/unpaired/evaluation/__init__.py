"""``unpaired evaluate``: score a trained model (or the identity baseline) on test images.

The model translates the test images of each source domain; FID and KID compare those
translations with the real test images of the target domain, and the cycle metrics compare
F(G(x)) with x (:func:`evaluate`). Already translated files are scored by
:func:`evaluate_folder`, registered pairs by :func:`evaluate_paired`. On the demo domains the
ground-truth scores are added. The numbers go to a table on stdout and, for a run folder, to
``<run>/eval/step_XXXXXX.json`` (the command prints the table first, then writes: a read-only
run folder loses no scores, and says where it could not write, exit status 1).
"""

from .common import PROTOCOL, EvalResult
from .folder import evaluate_folder
from .paired import evaluate_paired
from .tables import format_paired_table, format_table
from .translated import evaluate

__all__ = [
    "PROTOCOL",
    "EvalResult",
    "evaluate",
    "evaluate_folder",
    "evaluate_paired",
    "format_paired_table",
    "format_table",
]
