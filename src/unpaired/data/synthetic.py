"""Procedural "horse -> zebra" demo domains, generated on the fly (no download).

Every scene is a landscape (sky gradient, clouds, hills, bushes, mottled ground) with one
horse-like animal standing on the ground. Domain A renders the animal with a plain coat
(brown, tan, chestnut, grey ...); domain B renders the *same kind* of scene with black-and-white
zebra stripes. Scenes of both domains are drawn from one distribution, so stripes on/off is the
only thing that tells the domains apart. Because a scene is a small frozen record, the ground
truth is known: any scene can be rendered both plain and striped, together with its animal mask.

Geometry is described with signed distance fields (SDFs) evaluated on the pixel grid with
numpy; edges are anti-aliased analytically (one-pixel coverage ramp), so rendering is exact at
any size (32, 64, 128, 256, non-square) and fast (a few milliseconds per 64x64 image).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["Scene", "sample_scene", "scene_for", "render", "write_demo_dataset", "FORMAT_VERSION"]

FORMAT_VERSION = 1
RGB = tuple[float, float, float]
Point = tuple[float, float]
Arrayish = float | np.ndarray
_F = np.float32

# Coat colours of domain A (before jitter): chestnut, bay, tan/buckskin, dun, palomino, greys.
_COATS: tuple[RGB, ...] = (
    (0.58, 0.32, 0.17),
    (0.47, 0.29, 0.18),
    (0.76, 0.60, 0.40),
    (0.66, 0.54, 0.38),
    (0.82, 0.66, 0.40),
    (0.62, 0.62, 0.60),
    (0.50, 0.48, 0.47),
    (0.40, 0.26, 0.16),
)


@dataclass(frozen=True)
class Scene:
    """All parameters of one scene.

    Positions are fractions of the image width (x) / height (y); sizes marked "of s" are
    fractions of ``s = min(height, width)``; animal parts use body units (body half-length 1,
    x towards the head, y down) and angles in radians.
    """

    # background
    horizon: float  # fraction of height
    horizon_wave: tuple[float, float, float]  # amplitude (of H), cycles per width, phase
    sky_top: RGB
    sky_bottom: RGB
    ground_far: RGB
    ground_near: RGB
    hills: tuple[float, float, float]  # height (of H), cycles per width, phase
    hill_color: RGB
    clouds: tuple[tuple[float, float, float, float], ...]  # x, y, rx (of s), ry (of s)
    bushes: tuple[tuple[float, float, float], ...]  # x, rx (of s), ry (of s)
    bush_color: RGB
    mottling: tuple[tuple[float, float, float, float], ...]  # kx, ky (cycles per s), phase, amp
    light: float  # global brightness factor
    # animal placement and pose
    x: float  # body centre, fraction of width
    foot_y: float  # ground contact line, fraction of height
    scale: float  # body half-length, of s
    facing: int  # +1 faces right, -1 faces left
    tilt: float
    body_height: float  # body half-height in body units
    neck_angle: float  # from vertical, forward positive
    neck_length: float
    head_angle: float  # below horizontal
    head_length: float
    legs: tuple[
        tuple[float, float], ...
    ]  # (upper, lower) angles: near front, far front, near back, far back
    tail_angles: tuple[float, float]
    coat: RGB
    hair: RGB  # mane and tail
    hoof: RGB
    # stripes (used by the B rendering only)
    stripe_period: float  # of s
    stripe_phase: float
    stripe_wave: tuple[float, float, float]  # amplitude (body units), cycles per body unit, phase
    stripe_bend: float
    stripe_white: RGB
    stripe_black: RGB


def _rgb(rng: np.random.Generator, base: Sequence[float], jitter: float, lo: float = 0.0) -> RGB:
    """``base`` plus uniform per-channel jitter, clipped to [lo, 1]."""
    c = np.clip(np.asarray(base, float) + rng.uniform(-jitter, jitter, 3), lo, 1.0)
    return (float(c[0]), float(c[1]), float(c[2]))


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One uniform draw as a plain float."""
    return float(rng.uniform(lo, hi))


def sample_scene(rng: np.random.Generator) -> Scene:
    """Draw one scene; the distribution is the same for both domains."""
    horizon = _u(rng, 0.35, 0.62)
    dry = _u(rng, 0.0, 1.0)  # 0 = green meadow, 1 = dry savanna
    ground = np.array([0.34, 0.56, 0.24]) * (1 - dry) + np.array([0.70, 0.63, 0.36]) * dry
    ground = ground * _u(rng, 0.85, 1.1)
    clouds = []
    for _ in range(int(rng.integers(0, 4))):
        cx, cy = _u(rng, 0.0, 1.0), _u(rng, 0.05, 0.8) * horizon
        for _ in range(int(rng.integers(2, 5))):
            rx = _u(rng, 0.05, 0.11)
            clouds.append((cx + _u(rng, -0.08, 0.08), cy + _u(rng, -0.03, 0.02), rx, rx * 0.6))
    bushes = tuple(
        (_u(rng, 0.0, 1.0), _u(rng, 0.04, 0.1), _u(rng, 0.03, 0.07))
        for _ in range(int(rng.integers(0, 4)))
    )
    mottling = tuple(
        (_u(rng, -6, 6), _u(rng, 1, 8), _u(rng, 0, 2 * np.pi), _u(rng, 0.02, 0.05))
        for _ in range(4)
    )
    coat = _rgb(
        rng, np.asarray(_COATS[int(rng.integers(len(_COATS)))]) * _u(rng, 0.92, 1.08), 0.04, 0.25
    )
    hair_k = _u(rng, 0.45, 0.75) if rng.random() < 0.7 else _u(rng, 1.0, 1.25)
    hair = _rgb(rng, np.clip(np.asarray(coat) * hair_k, 0.13, 0.95), 0.0)
    sky_top = _rgb(rng, (0.30, 0.52, 0.85), 0.08)
    grazing = rng.random() < 0.2
    neck = _u(rng, 1.45, 1.85) if grazing else _u(rng, 0.45, 0.9)
    head = _u(rng, 1.2, 1.45) if grazing else _u(rng, 0.55, 1.15)
    return Scene(
        horizon=horizon,
        horizon_wave=(_u(rng, 0.0, 0.02), _u(rng, 0.5, 2.0), _u(rng, 0, 2 * np.pi)),
        sky_top=sky_top,
        sky_bottom=_rgb(rng, (0.78, 0.86, 0.94), 0.05),
        ground_far=_rgb(rng, ground * 1.05, 0.04),
        ground_near=_rgb(rng, ground * 0.8, 0.04),
        hills=(_u(rng, 0.0, 0.1), _u(rng, 0.5, 2.0), _u(rng, 0, 2 * np.pi)),
        hill_color=_rgb(rng, (0.45, 0.58, 0.55), 0.06),
        clouds=tuple(clouds),
        bushes=bushes,
        bush_color=_rgb(rng, (0.20, 0.36, 0.16), 0.05),
        mottling=mottling,
        light=_u(rng, 0.92, 1.06),
        x=_u(rng, 0.38, 0.62),
        foot_y=_u(rng, 0.8, 0.95),
        scale=_u(rng, 0.16, 0.21),
        facing=1 if rng.random() < 0.5 else -1,
        tilt=_u(rng, -0.06, 0.06),
        body_height=_u(rng, 0.40, 0.47),
        neck_angle=neck,
        neck_length=_u(rng, 0.75, 0.9),
        head_angle=head,
        head_length=_u(rng, 0.55, 0.65),
        legs=tuple((a, a + _u(rng, -0.05, 0.3)) for a in (_u(rng, -0.3, 0.3) for _ in range(4))),
        tail_angles=(_u(rng, 0.3, 0.9), _u(rng, 0.0, 0.4)),
        coat=coat,
        hair=hair,
        hoof=_rgb(rng, (0.26, 0.23, 0.2), 0.03),
        stripe_period=_u(rng, 0.08, 0.115),
        stripe_phase=_u(rng, 0, 2 * np.pi),
        stripe_wave=(_u(rng, 0.04, 0.09), _u(rng, 0.6, 1.3), _u(rng, 0, 2 * np.pi)),
        stripe_bend=_u(rng, -0.3, 0.3),
        stripe_white=_rgb(rng, (0.95, 0.94, 0.91), 0.03),
        stripe_black=_rgb(rng, (0.07, 0.07, 0.08), 0.03),
    )


def scene_for(seed: int, split: str, domain: str, index: int) -> Scene:
    """The deterministic scene number ``index`` of ``split``/``domain`` under ``seed``."""
    key = [seed % 2**63, zlib.crc32(split.encode()), zlib.crc32(domain.encode()), index]
    return sample_scene(np.random.default_rng(np.random.SeedSequence(key)))


# ----------------------------------------------------------------------------- geometry


@lru_cache(maxsize=16)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (y as (H, 1), x as (1, W)) in pixels."""
    y = (np.arange(height, dtype=_F) + 0.5)[:, None]
    x = (np.arange(width, dtype=_F) + 0.5)[None, :]
    y.flags.writeable = False
    x.flags.writeable = False
    return y, x


def _ellipse(x: np.ndarray, y: np.ndarray, rx: Arrayish, ry: Arrayish) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipse centred at the origin."""
    k0 = np.sqrt(np.square(x / rx) + np.square(y / ry))
    k1 = np.sqrt(np.square(x / (rx * rx)) + np.square(y / (ry * ry)))
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


def _at(p: Point, angle: float, length: float) -> Point:
    """Point ``length`` from ``p`` in direction ``angle`` from straight down (forward positive)."""
    return (p[0] + length * float(np.sin(angle)), p[1] + length * float(np.cos(angle)))


# Limb table columns: ax, ay, bx, by, ra, rb, stripe scale, kind, blend, far side.
# kind: 0 coat, 1 hair (mane, tail), 2 hoof; blend: merged with a smooth union.
_ELLIPSES = np.array(  # body, chest, rump: cx, cy, rx, height factor
    [[0.0, 0.0, 1.0, 1.0], [0.55, -0.02, 0.45, 0.98], [-0.6, -0.04, 0.47, 1.02]], _F
)


def _limb_table(sc: Scene) -> np.ndarray:
    """Capsules (tapered segments) of the animal in body units (x to the head, y down)."""
    rows = []

    def limb(a: Point, b: Point, ra: float, rb: float, kind: int = 0, scale: float = 1.0,
             blend: int = 0, far: int = 0) -> None:  # fmt: skip
        rows.append((a[0], a[1], b[0], b[1], ra, rb, scale, kind, blend, far))

    base = (0.72, -0.1)
    poll = _at(base, np.pi - sc.neck_angle, sc.neck_length)
    limb(base, poll, 0.3, 0.15, blend=1)  # neck
    limb(poll, _at(poll, np.pi / 2 - sc.head_angle, sc.head_length), 0.16, 0.1, blend=1)
    limb(poll, _at(poll, np.pi / 2 - sc.head_angle + 1.9, 0.22), 0.06, 0.02)  # ear
    back = (-float(np.cos(sc.neck_angle)), -float(np.sin(sc.neck_angle)))  # behind the neck
    mane_a = (base[0] + 0.2 * back[0] - 0.1, base[1] + 0.2 * back[1])
    limb(mane_a, (poll[0] + 0.08 * back[0], poll[1] + 0.08 * back[1]), 0.08, 0.06, 1)
    hips = ((0.6, 0.2), (0.45, 0.15), (-0.58, 0.15), (-0.72, 0.1))
    for i, (hip, (upper, lower)) in enumerate(zip(hips, sc.legs, strict=True)):
        knee = _at(hip, upper, 0.6)
        foot = _at(knee, lower, 0.62)
        limb(hip, knee, 0.17, 0.09, scale=0.85, blend=1, far=i % 2)
        limb(knee, foot, 0.085, 0.065, scale=0.85, far=i % 2)
        limb(_at(foot, lower, -0.08), _at(foot, lower, 0.04), 0.075, 0.085, 2, far=i % 2)
    root = (-0.95, -0.28)
    mid = _at(root, -sc.tail_angles[0], 0.35)
    limb(root, mid, 0.06, 0.09, 1)
    limb(mid, _at(mid, -sc.tail_angles[1], 0.55), 0.09, 0.05, 1)
    return np.array(rows, _F)


def _animal_fields(
    sc: Scene, lx: np.ndarray, ly: np.ndarray, striped: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Per-part signed distances (P, h, w), stripe coordinates (or None) and the limb table."""
    tab = _limb_table(sc)
    col = [tab[:, i, None, None] for i in range(6)]
    ax, ay, bx, by, ra, rb = col
    length = np.maximum(np.hypot(bx - ax, by - ay), 1e-6)
    ux, uy = (bx - ax) / length, (by - ay) / length
    px, py = lx - ax, ly - ay
    along = px * ux + py * uy
    across = px * uy - py * ux
    t = np.clip(along / length, 0.0, 1.0)
    seg = np.sqrt(np.square(along - t * length) + np.square(across)) - (ra + t * (rb - ra))
    e = _ELLIPSES[:, :, None, None]
    ell = _ellipse(lx - e[:, 0], ly - e[:, 1], e[:, 2], e[:, 3] * sc.body_height)
    sdf = np.concatenate([ell, seg])
    u = None
    if striped:
        amp, freq, phase = sc.stripe_wave
        body_u = lx + sc.stripe_bend * ly * lx + amp * np.sin((2 * np.pi * freq) * ly + phase)
        scale = tab[:, 6, None, None]  # legs get slightly narrower stripes
        seg_u = (along + 0.5 * amp * np.sin((6 * np.pi * freq) * across + phase)) * scale
        u = np.concatenate([np.broadcast_to(body_u, ell.shape), seg_u])
    ell_rows = np.zeros((len(_ELLIPSES), tab.shape[1]), _F)
    ell_rows[:, 8] = 1  # coat, blended, near side
    return sdf, u, np.concatenate([ell_rows, tab])


def _shade_layer(
    sc: Scene,
    sdf: np.ndarray,
    u: np.ndarray | None,
    tab: np.ndarray,
    ly: np.ndarray,
    px: float,
    dim: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Colour (h, w, 3) and coverage (h, w) of one layer of parts (``u`` given: striped).

    ``px`` is pixels per body unit; ``dim`` darkens the far-side layer.
    """
    pick = np.argmin(sdf, axis=0)[None]
    raw = np.take_along_axis(sdf, pick, 0)[0]
    union = raw
    blend = sdf[tab[:, 8] > 0]
    if len(blend) > 1:  # exponential smooth union of the blended parts
        k = 0.05
        dmin = blend.min(0)
        union = np.minimum(union, dmin - k * np.log(np.exp((dmin - blend) / k).sum(0)))
    cover = np.clip(0.5 - union * px, 0.0, 1.0)
    kind = tab[:, 7].astype(np.intp)[pick[0]]
    rim = np.sqrt(np.clip(raw * (-px / max(1.5, 0.15 * px)), 0.0, 1.0))
    shade = (1.07 - 0.25 * np.clip((ly + 0.6) * (1 / 1.6), 0.0, 1.0)) * (0.8 + 0.2 * rim) * dim
    color = np.array([sc.coat, sc.hair, sc.hoof], dtype=_F)[kind]
    if u is not None:
        period = sc.stripe_period / sc.scale  # body units
        wave = np.sin(np.take_along_axis(u, pick, 0)[0] * (2 * np.pi / period) + sc.stripe_phase)
        st = np.clip(0.5 + (0.18 * period * px) * wave, 0.0, 1.0)[..., None]  # ~1 px edges
        black, white = np.array(sc.stripe_black, _F), np.array(sc.stripe_white, _F)
        color = np.where((kind == 2)[..., None], color, black + (white - black) * st)
    return color * shade[..., None], cover


# ----------------------------------------------------------------------------- rendering


def _box(cx: float, cy: float, rx: float, ry: float, h: int, w: int) -> tuple[slice, slice]:
    """Pixel window covering the box centred at (cx, cy) with half sizes (rx, ry), in pixels."""
    y0, y1 = max(int(cy - ry) - 1, 0), min(int(np.ceil(cy + ry)) + 1, h)
    x0, x1 = max(int(cx - rx) - 1, 0), min(int(np.ceil(cx + rx)) + 1, w)
    return slice(y0, max(y0, y1)), slice(x0, max(x0, x1))


def _background(sc: Scene, y: np.ndarray, x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sky, clouds, hills, ground and bushes as float32 (h, w, 3)."""
    s = min(h, w)
    amp, cyc, ph = sc.horizon_wave
    hor = (sc.horizon + amp * np.sin(x * (2 * np.pi * cyc / w) + ph)) * h  # (1, W)
    t = np.clip(y * (1.0 / (sc.horizon * h)), 0.0, 1.0)[..., None] ** 0.8
    sky = np.asarray(sc.sky_top, _F) * (1 - t) + np.asarray(sc.sky_bottom, _F) * t
    img = np.broadcast_to(sky, (h, w, 3)).astype(_F)
    for cx, cy, rx, ry in sc.clouds:
        ys, xs = _box(cx * w, cy * h, rx * s, ry * s, h, w)
        d2 = np.square((x[:, xs] - cx * w) / (rx * s)) + np.square((y[ys] - cy * h) / (ry * s))
        alpha = 0.9 * np.clip(1.0 - d2, 0.0, 1.0) ** 0.7
        img[ys, xs] += (np.asarray((0.97, 0.97, 0.98), _F) - img[ys, xs]) * alpha[..., None]
    hh, hc, hp = sc.hills
    top = hor - hh * h * (0.55 + 0.45 * np.sin(x * (2 * np.pi * hc / w) + hp))
    r0 = min(max(int(top.min()) - 1, 0), h)
    yl, low = y[r0:], img[r0:]
    low += (np.asarray(sc.hill_color, _F) - low) * np.clip(yl - top + 0.5, 0.0, 1.0)[..., None]
    g = np.clip((yl - hor) / np.maximum(h - hor, 1.0), 0.0, 1.0)[..., None]
    ground = np.asarray(sc.ground_far, _F) * (1 - g) + np.asarray(sc.ground_near, _F) * g
    mot = 1.0
    for kx, ky, p, a in sc.mottling:
        mot = mot + a * np.sin((x * kx + yl * ky) * (2 * np.pi / s) + p)
    low += (ground * mot[..., None] - low) * np.clip(yl - hor + 0.5, 0.0, 1.0)[..., None]
    for bx, rx, ry in sc.bushes:
        by = float(np.interp(bx * w, x[0], hor[0]))
        ys, xs = _box(bx * w, by, rx * s, ry * s, h, w)
        dy = y[ys] - by
        alpha = np.clip(0.5 - _ellipse(x[:, xs] - bx * w, dy, rx * s, ry * s), 0.0, 1.0)
        shade = 1.1 - 0.35 * np.clip((dy + ry * s) / (2 * ry * s), 0.0, 1.0)
        col = np.asarray(sc.bush_color, _F) * shade[..., None]
        img[ys, xs] += (col - img[ys, xs]) * alpha[..., None]
    return img


def render(scene: Scene, height: int, width: int, striped: bool) -> tuple[np.ndarray, np.ndarray]:
    """Render ``scene``: (image float32 (H, W, 3) in [0, 1], animal mask float32 (H, W) in [0, 1]).

    ``striped`` selects the zebra (domain B) coat; everything outside the mask is identical.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    y, x = _grid(height, width)
    sc = scene
    s = min(height, width)
    img = _background(sc, y, x, height, width)
    a_px = sc.scale * s  # pixels per body unit
    cx, foot = sc.x * width, sc.foot_y * height
    cy = foot - 1.45 * a_px
    # soft ground shadow (same in both domains)
    ys, xs = _box(cx, foot, 1.3 * a_px, 0.16 * a_px, height, width)
    d2 = np.square((x[:, xs] - cx) / (1.3 * a_px)) + np.square((y[ys] - foot) / (0.16 * a_px))
    img[ys, xs] *= (1.0 - 0.35 * np.clip(1.0 - d2, 0.0, 1.0))[..., None]
    # pixel -> body coordinates, on the animal's bounding box only
    c, si = float(np.cos(sc.tilt)), float(np.sin(sc.tilt))
    bx = np.array([-1.8, 2.5, -1.8, 2.5]) * sc.facing
    by = np.array([-1.5, -1.5, 1.7, 1.7])
    px, py = cx + (bx * c - by * si) * a_px, cy + (bx * si + by * c) * a_px
    x0, x1 = max(int(px.min()) - 2, 0), min(int(np.ceil(px.max())) + 2, width)
    y0, y1 = max(int(py.min()) - 2, 0), min(int(np.ceil(py.max())) + 2, height)
    mask = np.zeros((height, width), _F)
    if x0 >= x1 or y0 >= y1:
        return np.clip(img * sc.light, 0.0, 1.0).astype(_F), mask
    dx, dy = (x[:, x0:x1] - cx) * (1.0 / a_px), (y[y0:y1] - cy) * (1.0 / a_px)
    lx = (dx * c + dy * si) * sc.facing
    ly = dy * c - dx * si
    sdf, u, tab = _animal_fields(sc, lx, ly, striped)
    win, mwin = img[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    for far, dim in ((1, 0.8), (0, 1.0)):
        sel = tab[:, 9] == far
        lay_u = u[sel] if u is not None else None
        col, cover = _shade_layer(sc, sdf[sel], lay_u, tab[sel], ly, a_px, dim)
        win += (col - win) * cover[..., None]
        mwin[...] = 1.0 - (1.0 - mwin) * (1.0 - cover)
    img = np.clip(img * sc.light, 0.0, 1.0).astype(_F)
    return img, mask.astype(_F)


# ----------------------------------------------------------------------------- dataset


def _save(arr: np.ndarray, path: Path) -> None:
    Image.fromarray(np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8)).save(path)


def _expected_files(counts: dict[str, int]) -> list[str]:
    return [f"{d}/{i:05d}.png" for d, n in counts.items() for i in range(n)]


def _is_complete(root: Path, meta: dict, files: list[str]) -> bool:
    """Whether ``root`` holds a finished dataset written with exactly ``meta``."""
    try:
        same = json.loads((root / "demo.json").read_text()) == meta
    except (OSError, ValueError):
        return False
    return same and all((root / f).is_file() for f in files)


def write_demo_dataset(
    root: str | Path,
    size: int | tuple[int, int] = 64,
    n_train: int = 400,
    n_test: int = 40,
    seed: int = 0,
) -> Path:
    """Write the demo domains under ``root`` and return ``root``.

    Layout: ``trainA``, ``trainB``, ``testA``, ``testB`` (RGB PNGs ``00000.png`` ...), ground
    truth ``truth/testA_as_B``, ``truth/testB_as_A`` (the other-domain rendering of each test
    scene), ``truth/masks_testA``, ``truth/masks_testB`` (8-bit masks) and ``demo.json``.
    ``size`` is an int (square) or ``(height, width)``. A complete dataset with the same
    parameters is reused as is; otherwise it is generated in a temporary sibling folder and
    renamed into place, so an interrupted run never leaves a complete-looking partial folder.
    """
    root = Path(root)
    h, w = (int(size), int(size)) if isinstance(size, (int, np.integer)) else map(int, size)
    if h < 1 or w < 1 or n_train < 0 or n_test < 0:
        raise ValueError(f"bad demo dataset parameters: size={size}, n={n_train}/{n_test}")
    meta = {"format_version": FORMAT_VERSION, "size": [h, w], "n_train": n_train,
            "n_test": n_test, "seed": seed}  # fmt: skip
    counts = {"trainA": n_train, "trainB": n_train, "testA": n_test, "testB": n_test}
    counts.update({f"truth/{d}": n_test for d in ("testA_as_B", "testB_as_A")})
    counts.update({f"truth/masks_{d}": n_test for d in ("testA", "testB")})
    files = _expected_files(counts)
    if _is_complete(root, meta, files):
        return root
    if root.exists() and not (root / "demo.json").is_file() and any(root.iterdir()):
        raise FileExistsError(
            f"{root} exists, is not empty and holds no demo.json; not touching it"
        )

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        for d in counts:
            (tmp / d).mkdir(parents=True)
        for split, n in (("train", n_train), ("test", n_test)):
            for domain, other in (("A", "B"), ("B", "A")):
                for i in range(n):
                    scene = scene_for(seed, split, domain, i)
                    img, mask = render(scene, h, w, striped=domain == "B")
                    _save(img, tmp / f"{split}{domain}/{i:05d}.png")
                    if split == "test":
                        twin, _ = render(scene, h, w, striped=domain == "A")
                        _save(twin, tmp / f"truth/test{domain}_as_{other}/{i:05d}.png")
                        _save(mask, tmp / f"truth/masks_test{domain}/{i:05d}.png")
        (tmp / "demo.json").write_text(json.dumps(meta, indent=2) + "\n")
        if _is_complete(root, meta, files):  # another process finished first
            return root
        old = None
        if root.exists():
            old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
            root.rename(old)
        tmp.rename(root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root
