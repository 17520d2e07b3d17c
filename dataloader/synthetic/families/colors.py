"""Family `colors`: class = the hue of a large blob on a gray background (with small distractors)."""
from __future__ import annotations

import math

import numpy as np

from dataloader.synthetic.core import (
    Rendered,
    RenderRequest,
    article,
    choice,
    grid,
    hsv_to_rgb,
    register_family,
    soft_threshold,
)

# name -> (hue in degrees, saturation range, value range)
_HUES = {
    "red": (0, (0.75, 1.0), (0.7, 1.0)), "orange": (30, (0.85, 1.0), (0.85, 1.0)),
    "yellow": (56, (0.75, 1.0), (0.8, 1.0)), "green": (120, (0.65, 1.0), (0.5, 0.9)),
    "cyan": (185, (0.65, 1.0), (0.75, 1.0)), "blue": (225, (0.7, 1.0), (0.6, 1.0)),
    "purple": (275, (0.6, 0.95), (0.5, 0.85)), "magenta": (310, (0.7, 1.0), (0.75, 1.0)),
    "pink": (340, (0.3, 0.45), (0.95, 1.0)), "brown": (28, (0.7, 0.9), (0.3, 0.45)),
}
COLORS = tuple(_HUES)


def _hue_rgb(rng: np.random.Generator, name: str) -> np.ndarray:
    hue, sat, val = _HUES[name]
    return hsv_to_rgb((hue + rng.uniform(-8, 8)) / 360, rng.uniform(*sat), rng.uniform(*val))


def _blob_params(rng: np.random.Generator, cx: float, cy: float, r: float) -> np.ndarray:
    """[cx, cy, r, 3 harmonic amplitudes, 3 phases] of a random smooth blob."""
    amps = rng.uniform(0, 1, size=3) * (0.12, 0.2, 0.1)
    return np.array([cx, cy, r, *amps, *rng.uniform(0, 2 * math.pi, size=3)])


def _blobs(params: np.ndarray, size: int) -> np.ndarray:
    """Soft masks (M, S, S) of blobs (M, 9): radius modulated by harmonics 1-3 of the angle."""
    x, y = grid(size)
    p = params.astype(np.float32)[:, :, None, None]
    dx, dy = x - p[:, 0], y - p[:, 1]
    ang = np.arctan2(dy, dx)
    rad = p[:, 2] * (1 + sum(p[:, 3 + k] * np.cos((k + 1) * ang - p[:, 6 + k]) for k in range(3)))
    return soft_threshold(np.hypot(dx, dy) - rad)


@register_family(
    "colors", COLORS,
    "a large blob whose hue is the class on a neutral gray background, with up to two small blobs of "
    "clearly different hues as distractors",
)
def colors(req: RenderRequest) -> Rendered:
    n, s = len(req), req.size
    bg, main, main_rgb, caps = np.empty((n, 3)), np.empty((n, 9)), np.empty((n, 3)), []
    extra, extra_rgb, extra_of = [], [], []  # distractor blobs (underneath the main one)
    for i, (label, rng) in enumerate(zip(req.labels, req.rngs)):
        name = COLORS[label]
        bg[i] = rng.uniform(0.15, 0.85) + rng.normal(0, 0.02, 3)
        hue = _HUES[name][0]  # distractor hues at least 60 degrees away, and not pink/brown
        others = [c for c in COLORS[:8] if min(abs(_HUES[c][0] - hue), 360 - abs(_HUES[c][0] - hue)) >= 60]
        for _ in range(int(rng.integers(0, 3))):
            extra.append(_blob_params(rng, *rng.uniform(0.15, 0.85, size=2) * s, rng.uniform(0.08, 0.13) * s))
            extra_rgb.append(_hue_rgb(rng, choice(rng, others)))
            extra_of.append(i)
        r = rng.uniform(0.25, 0.38) * s
        main[i] = _blob_params(rng, *(s / 2 + rng.uniform(-1, 1, size=2) * (s / 2 - r) * 0.5), r)
        main_rgb[i] = _hue_rgb(rng, name)
        caps.append(choice(rng, ("{a} {c} blob", "{a} {c} patch on a gray background", "a splash of {c}",
                                  "a large {c} shape")).format(c=name, a=article(name)))
    images = np.broadcast_to(bg.astype(np.float32)[:, None, None, :], (n, s, s, 3)).copy()
    if extra:
        # at most two per image: paint the first distractor of every image, then the second
        extra_of_arr, m = np.array(extra_of), _blobs(np.array(extra), s)[..., None]
        rgb = np.array(extra_rgb, np.float32)[:, None, None, :]
        first = np.r_[True, extra_of_arr[1:] != extra_of_arr[:-1]]
        for sel in (first, ~first):
            idx = extra_of_arr[sel]
            images[idx] += m[sel] * (rgb[sel] - images[idx])
    masks = _blobs(main, s)
    images += masks[..., None] * (main_rgb.astype(np.float32)[:, None, None, :] - images)
    return Rendered(images, masks, caps)
