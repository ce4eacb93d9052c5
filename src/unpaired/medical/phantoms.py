"""CT-like phantoms made in code: abdominal slices and small volumes, with and without contrast.

Nothing is downloaded. A phantom is an axial cut through an abdomen, in Hounsfield units:

===============  ==============  ==================  =====
structure        plain (HU)      contrast (HU)       label
===============  ==============  ==================  =====
air (outside)    -1000           -1000               0
fat layer        -100            -100                1
soft tissue      40              40                  1
liver            60              110                 2
spleen           45              120                 3
kidneys          30              180                 4
aorta            40              250                 5
spine (bone)     700             700                 6
===============  ==============  ==================  =====

The body's size, the organs' positions and sizes come from the seed; along a volume the organs
grow and shrink with the slice position (liver and spleen high, kidneys in the middle), and
Gaussian noise (10 HU) is added. The same seed gives the same anatomy in both domains, so a
phantom pair is a ground-truth translation. Images are ``(H, W)``, rows from the front
(anterior, top) to the back, patient right on the image left, as radiologists view them.

Writers: :func:`write_phantom_nifti`, :func:`write_phantom_dicom_series` (``medical`` extra),
and :func:`write_phantom_dataset` for a demo folder of both domains plus a labelled set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "CONTRAST_HU",
    "LABELS",
    "PLAIN_HU",
    "phantom_slice",
    "phantom_volume",
    "write_phantom_dataset",
    "write_phantom_dicom_series",
    "write_phantom_nifti",
]

PLAIN_HU: dict[str, float] = {
    "air": -1000.0,
    "fat": -100.0,
    "soft_tissue": 40.0,
    "liver": 60.0,
    "spleen": 45.0,
    "kidney": 30.0,
    "aorta": 40.0,
    "bone": 700.0,
}
"""Non-contrast CT values of each structure."""

CONTRAST_HU: dict[str, float] = {
    **PLAIN_HU,
    "liver": 110.0,
    "spleen": 120.0,
    "kidney": 180.0,
    "aorta": 250.0,
}
"""Contrast-enhanced (portal-venous-like) values: vessels and organs brighter."""

LABELS: dict[str, int] = {
    "background": 0,
    "body": 1,
    "liver": 2,
    "spleen": 3,
    "kidney": 4,
    "aorta": 5,
    "bone": 6,
}
"""Mask values of the organ labels."""

NOISE_HU = 10.0


def _anatomy(rng: np.random.Generator) -> dict[str, float]:
    """Random per-phantom shape parameters, in units of the image size."""
    u = rng.uniform
    return {
        "body_cx": u(-0.02, 0.02),
        "body_cy": u(-0.02, 0.03),
        "body_ax": u(0.40, 0.46),
        "body_ay": u(0.28, 0.34),
        "fat": u(0.025, 0.045),
        "liver_cx": u(-0.22, -0.15),
        "liver_cy": u(-0.06, 0.02),
        "liver_ax": u(0.14, 0.19),
        "liver_ay": u(0.12, 0.17),
        "liver_tilt": u(-0.5, 0.5),
        "spleen_cx": u(0.18, 0.24),
        "spleen_cy": u(0.04, 0.10),
        "spleen_ax": u(0.05, 0.08),
        "spleen_ay": u(0.07, 0.10),
        "kidney_dx": u(0.12, 0.16),
        "kidney_cy": u(0.12, 0.17),
        "kidney_ax": u(0.04, 0.06),
        "kidney_ay": u(0.06, 0.08),
        "spine_cy": u(0.18, 0.22),
        "spine_r": u(0.055, 0.07),
        "aorta_dx": u(-0.05, -0.02),
        "aorta_r": u(0.025, 0.04),
    }


def _ellipse(
    x: np.ndarray, y: np.ndarray, cx: float, cy: float, ax: float, ay: float, tilt: float = 0.0
) -> np.ndarray:
    c, s = np.cos(tilt), np.sin(tilt)
    dx, dy = x - cx, y - cy
    u, v = c * dx + s * dy, -s * dx + c * dy
    return (u / max(ax, 1e-6)) ** 2 + (v / max(ay, 1e-6)) ** 2 <= 1.0


def _render(
    anatomy: dict[str, float], size: int, z: float, contrast: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One slice at relative height ``z`` in [0, 1] (0 = top of the volume)."""
    hu_of = CONTRAST_HU if contrast else PLAIN_HU
    coords = (np.arange(size) + 0.5) / size - 0.5
    y, x = np.meshgrid(coords, coords, indexing="ij")
    a = anatomy
    hu = np.full((size, size), hu_of["air"], np.float64)
    labels = np.zeros((size, size), np.uint8)

    def paint(mask: np.ndarray, name: str, label: int) -> None:
        hu[mask] = hu_of[name]
        labels[mask] = label

    body = (a["body_cx"], a["body_cy"], a["body_ax"], a["body_ay"])
    paint(_ellipse(x, y, *body), "fat", LABELS["body"])
    inner = (a["body_cx"], a["body_cy"], a["body_ax"] - a["fat"], a["body_ay"] - a["fat"])
    paint(_ellipse(x, y, *inner), "soft_tissue", LABELS["body"])
    # Organs scale with the slice height: liver and spleen high, kidneys in the middle.
    upper = float(np.clip(1.25 - 1.1 * z, 0.0, 1.0))
    middle = float(np.clip(np.sin(np.pi * z) * 1.3 - 0.15, 0.0, 1.0))
    if upper > 0.05:
        liver = (a["liver_cx"], a["liver_cy"], a["liver_ax"] * upper, a["liver_ay"] * upper)
        paint(_ellipse(x, y, *liver, a["liver_tilt"]), "liver", LABELS["liver"])
        spleen = (a["spleen_cx"], a["spleen_cy"], a["spleen_ax"] * upper, a["spleen_ay"] * upper)
        paint(_ellipse(x, y, *spleen), "spleen", LABELS["spleen"])
    if middle > 0.05:
        for side in (-1.0, 1.0):
            kidney = (
                a["body_cx"] + side * a["kidney_dx"],
                a["kidney_cy"],
                a["kidney_ax"] * middle,
                a["kidney_ay"] * middle,
            )
            paint(_ellipse(x, y, *kidney, side * 0.4), "kidney", LABELS["kidney"])
    spine = (a["body_cx"], a["spine_cy"], a["spine_r"], a["spine_r"])
    paint(_ellipse(x, y, *spine), "bone", LABELS["bone"])
    aorta_y = a["spine_cy"] - a["spine_r"] - a["aorta_r"] - 0.01
    aorta = (a["body_cx"] + a["aorta_dx"], aorta_y, a["aorta_r"], a["aorta_r"])
    paint(_ellipse(x, y, *aorta), "aorta", LABELS["aorta"])
    hu += rng.normal(0.0, NOISE_HU, size=hu.shape)
    return hu.astype(np.float32), labels


def phantom_slice(
    size: int = 64, contrast: bool = False, seed: int = 0, z: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """One CT-like axial slice.

    Args:
        size: Height and width in pixels.
        contrast: Contrast-enhanced values (:data:`CONTRAST_HU`) instead of plain ones.
        seed: Anatomy and noise; the same seed gives the same anatomy in both domains.
        z: Relative height of the cut in [0, 1] (0: top, liver large; 0.5: kidneys).

    Returns:
        ``(hu, labels)``: float32 ``(size, size)`` in HU (about -1040 to 740) and uint8
        ``(size, size)`` organ labels (:data:`LABELS`).
    """
    rng = np.random.default_rng([seed, 0])
    anatomy = _anatomy(rng)
    noise = np.random.default_rng([seed, 1, int(contrast)])
    return _render(anatomy, size, z, contrast, noise)


def phantom_volume(
    size: int = 32, slices: int = 8, contrast: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A stack of ``slices`` axial slices from top to bottom of one phantom.

    Returns:
        ``(hu, labels)``: float32 ``(slices, size, size)`` in HU and uint8 labels, ordered
        ``(z, y, x)`` with z increasing towards the feet.
    """
    anatomy = _anatomy(np.random.default_rng([seed, 0]))
    noise = np.random.default_rng([seed, 1, int(contrast)])
    heights = (np.arange(slices) + 0.5) / slices
    pairs = [_render(anatomy, size, float(z), contrast, noise) for z in heights]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def _nifti_bytes(
    data_xyz: np.ndarray, spacing: tuple[float, float, float], scale: tuple[float, float] | None
) -> bytes:
    try:
        import nibabel as nib
    except ImportError:
        from ..data.errors import medical_extra

        raise medical_extra("writing NIfTI") from None
    sx, sy, sz = spacing
    shape = data_xyz.shape
    affine = np.diag([sx, sy, sz, 1.0])
    affine[:3, 3] = [-(shape[0] - 1) * sx / 2, -(shape[1] - 1) * sy / 2, 0.0]
    image = nib.Nifti1Image(data_xyz, affine)
    image.header.set_xyzt_units("mm")
    image.header.set_qform(affine, code=1)
    image.header.set_sform(affine, code=1)
    if scale is not None:
        image.header.set_slope_inter(*scale)
    return image.to_bytes()


def write_phantom_nifti(
    path: str | Path,
    size: int = 32,
    slices: int = 8,
    contrast: bool = False,
    seed: int = 0,
    spacing: tuple[float, float, float] = (0.8, 0.8, 2.5),
    mask_path: str | Path | None = None,
) -> Path:
    """Write a phantom volume as NIfTI (``.nii`` or ``.nii.gz``, by the name).

    The file stores int16 ``HU + 1024`` with ``scl_slope`` 1 and ``scl_inter`` -1024 (as
    scanners' conversions often do), in ``(x, y, z)`` order with an axis-aligned affine of
    ``spacing`` mm, so its axial slices lie along the third array axis. With ``mask_path``
    the organ labels go there too (uint8, same affine, no scaling).

    Raises:
        MissingExtra: nibabel is not installed.
    """
    import gzip

    hu, labels = phantom_volume(size, slices, contrast, seed)
    stored = np.clip(np.rint(hu + 1024.0), -32768, 32767).astype(np.int16)
    outputs = [(Path(path), stored, (1.0, -1024.0))]
    if mask_path is not None:
        outputs.append((Path(mask_path), labels, None))
    for out, data, scale in outputs:
        raw = _nifti_bytes(np.ascontiguousarray(data.transpose(2, 1, 0)), spacing, scale)
        if out.name.lower().endswith(".gz"):
            raw = gzip.compress(raw, mtime=0)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(raw)
    return Path(path)


def write_phantom_dicom_series(
    folder: str | Path,
    size: int = 32,
    slices: int = 8,
    contrast: bool = False,
    seed: int = 0,
    spacing: tuple[float, float] = (0.8, 0.8),
    thickness: float = 2.5,
    shuffle_names: bool = True,
) -> list[Path]:
    """Write a phantom volume as a CT DICOM series: one ``.dcm`` file per slice.

    Pixels are stored as uint16 (12 bits stored) with ``RescaleIntercept`` -1024 and
    ``RescaleSlope`` 1; slices are axial (``ImageOrientationPatient`` 1,0,0,0,1,0, normal +z
    pointing to the head) with ``ImagePositionPatient`` z = 0, ``thickness``, ... from the
    bottom slice of :func:`phantom_volume` up, and ``InstanceNumber`` 1, 2, ... in the same
    order. Read in position order the series is therefore ``phantom_volume(...)[0][::-1]``.
    With ``shuffle_names`` the file names do not follow the slice order, so readers must sort.
    UIDs derive from the seed, so the same call writes the same series.

    Returns:
        The files, in position order (bottom to top).

    Raises:
        MissingExtra: pydicom is not installed.
    """
    try:
        from pydicom.dataset import Dataset, FileMetaDataset
        from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
    except ImportError:
        from ..data.errors import medical_extra

        raise medical_extra("writing DICOM") from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hu, _ = phantom_volume(size, slices, contrast, seed)
    stored = np.clip(np.rint(hu + 1024.0), 0, 4095).astype(np.uint16)
    tag = f"unpaired-phantom-{seed}-{int(contrast)}-{size}-{slices}"
    study, series = generate_uid(entropy_srcs=[tag, "study"]), generate_uid(entropy_srcs=[tag])
    frame = generate_uid(entropy_srcs=[tag, "frame"])
    names = np.random.default_rng([seed, 2]).permutation(slices) if shuffle_names else range(slices)
    files = []
    for k in range(slices):
        sop = generate_uid(entropy_srcs=[tag, str(k)])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "CT"
        ds.PatientName = f"Phantom^{seed}"
        ds.PatientID = f"PHANTOM{seed:04d}"
        ds.SeriesDescription = "phantom contrast" if contrast else "phantom plain"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        x0, y0 = -(size - 1) * spacing[1] / 2, -(size - 1) * spacing[0] / 2
        ds.ImagePositionPatient = [round(x0, 4), round(y0, 4), round(k * thickness, 4)]
        ds.PixelSpacing = [spacing[0], spacing[1]]
        ds.SliceThickness = thickness
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.set_pixel_data(stored[slices - 1 - k], "MONOCHROME2", 12, generate_instance_uid=False)
        path = folder / f"slice_{int(names[k]):03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def write_phantom_dataset(
    root: str | Path,
    volumes: int = 6,
    size: int = 64,
    slices: int = 16,
    labelled: int = 3,
    seed: int = 0,
) -> Path:
    """A demo folder of gzipped NIfTI phantoms (``medical`` extra):

    * ``contrast/`` and ``plain/``: ``volumes`` phantoms each, with different seeds in the
      two domains (unpaired training data);
    * ``labelled/images/`` and ``labelled/masks/``: ``labelled`` contrast phantoms and their
      organ labels, the set ``unpaired augment`` turns into non-contrast training data;
    * ``truth/plain/``: the non-contrast twins of the labelled images (the translation's
      ground truth).

    Returns ``root``. Files that exist already are left as they are.
    """
    root = Path(root)

    def write(path: Path, **kwargs) -> None:
        if not path.exists():
            write_phantom_nifti(path, size=size, slices=slices, **kwargs)

    for i in range(volumes):
        write(root / "contrast" / f"case_{i:03d}.nii.gz", contrast=True, seed=seed + 2 * i)
        write(root / "plain" / f"case_{i:03d}.nii.gz", contrast=False, seed=seed + 2 * i + 1)
    for i in range(labelled):
        labelled_seed = seed + 1000 + i
        name = f"case_{i:03d}.nii.gz"
        write(
            root / "labelled" / "images" / name,
            contrast=True,
            seed=labelled_seed,
            mask_path=root / "labelled" / "masks" / name,
        )
        write(root / "truth" / "plain" / name, contrast=False, seed=labelled_seed)
    return root
