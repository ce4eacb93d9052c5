"""Medical images as first-class inputs: CT/MRI volumes and 16-bit slices.

Modules (none imports pydicom or nibabel at import time; the ``medical`` extra is needed only
when a DICOM or NIfTI file is actually read or written):

* :mod:`.windows`: intensity windows (HU ``[lo, hi]`` <-> [-1, 1]) built from the option
  parser in :mod:`unpaired.intensity`;
* :mod:`.sources`: finding NIfTI / DICOM / ``.npy`` / image inputs by name;
* :mod:`.dicom`, :mod:`.nifti`, :mod:`.arrays`: format readers and writers;
* :mod:`.volume`: one interface over them (probe, read whole or by slice, write back);
* :mod:`.slices`: a folder of inputs as an index of 2-D slices (training, evaluation);
* :mod:`.resample`: volumes resampled to a common voxel spacing and back (``--spacing``);
* :mod:`.reader`: the folder reader that lets :mod:`unpaired.data` read those slices
  (registered on import of this package);
* :mod:`.phantoms`: CT-like phantoms made in code (tests, demo data).
"""

from . import reader as _reader  # noqa: F401  (registers the medical folder reader)
