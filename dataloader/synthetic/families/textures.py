"""Family `textures`: gratings (class = orientation x frequency), checkerboards and polka dots."""
from __future__ import annotations

import math

import numpy as np

from dataloader.synthetic.core import (
    Rendered,
    RenderRequest,
    choice,
    grid,
    pick_colors,
    register_family,
    soft_threshold,
)

# (orientation of the stripes in degrees, counter-clockwise from horizontal; period in px at S=32)
_ORIENT = {"horizontal": 0.0, "vertical": 90.0, "diagonal": 45.0, "antidiagonal": 135.0}
_PERIOD = {"fine": (3.3, 4.4), "coarse": (8.0, 11.0)}
TEXTURES = tuple(f"{o} {p} stripes" for o in _ORIENT for p in _PERIOD) + ("checkerboard", "polka dots")


@register_family(
    "textures", TEXTURES,
    "textured discs: square-wave gratings (class = orientation x spatial frequency), checkerboards "
    "and polka dots; random phase, small angle/period jitter, colours and aperture",
)
def textures(req: RenderRequest) -> Rendered:
    n, s = len(req), req.size
    theta, period, phase, rad, cx, cy = (np.empty(n) for _ in range(6))
    cols, caps = np.empty((n, 3, 3)), []
    for i, (label, rng) in enumerate(zip(req.labels, req.rngs)):
        name = TEXTURES[label]
        if name.endswith("stripes"):
            orient, freq, _ = name.split()
            theta[i] = math.radians(_ORIENT[orient] + rng.uniform(-7, 7))
            period[i] = rng.uniform(*_PERIOD[freq])
        else:
            theta[i] = rng.uniform(0, math.pi / 2)
            period[i] = rng.uniform(6.5, 9.5)
        period[i] *= s / 32
        phase[i] = rng.uniform(0, 2 * math.pi)
        rad[i] = rng.uniform(0.40, 0.52) * s
        cx[i], cy[i] = s / 2 + rng.uniform(-0.06, 0.06, size=2) * s
        (c1, c2, c3), cols[i] = pick_colors(rng, 3)
        caps.append(choice(rng, ("{n} in {a} and {b}", "a disc of {n}", "{a} and {b} {n} on {c}"))
                    .format(n=name, a=c1, b=c2, c=c3))
    x, y = grid(s)
    theta, period, phase, rad, cx, cy = (a.astype(np.float32)[:, None, None]
                                         for a in (theta, period, phase, rad, cx, cy))
    # Stripes run along theta, so intensity varies along the normal (-sin, cos) (y points down).
    k = np.float32(2 * math.pi) / period
    u = (-x * np.sin(theta) - y * np.cos(theta)) * k + phase
    v = (x * np.cos(theta) - y * np.sin(theta)) * k
    pattern = np.tanh(3.0 * np.sin(u))  # soft square wave in [-1, 1]
    is_check = req.labels == TEXTURES.index("checkerboard")
    is_dots = req.labels == TEXTURES.index("polka dots")
    pattern[is_check] = np.tanh(3.0 * np.sin(u[is_check]) * np.sin(v[is_check]) * 2)
    pattern[is_dots] = np.tanh(4.0 * (np.cos(u[is_dots]) + np.cos(v[is_dots]) - 1.0))
    cols = cols.astype(np.float32)[:, :, None, None, :]
    w = (0.5 + 0.5 * pattern)[..., None]
    texture = cols[:, 1] + w * (cols[:, 0] - cols[:, 1])
    mask = soft_threshold(np.hypot(x - cx, y - cy) - rad)
    images = cols[:, 2] + mask[..., None] * (texture - cols[:, 2])
    return Rendered(images, mask, caps)
