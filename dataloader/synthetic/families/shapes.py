"""Family `shapes`: filled geometric shapes (circle, square, triangle, star, cross, ...)."""
from __future__ import annotations

import math

import numpy as np
from PIL import ImageDraw

from dataloader.synthetic.core import (
    SUPERSAMPLE,
    Rendered,
    RenderRequest,
    article,
    choice,
    composite,
    finish_mask,
    new_mask,
    pick_colors,
    register_family,
)

SHAPES = ("circle", "square", "triangle", "star", "cross", "pentagon", "hexagon", "diamond",
          "ring", "crescent", "heart", "arrow")


def _regular(n: int, phase: float = math.pi / 2) -> np.ndarray:
    a = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([np.cos(a), -np.sin(a)], 1)


def _star() -> np.ndarray:
    a = math.pi / 2 + math.pi * np.arange(10) / 5
    r = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
    return np.stack([r * np.cos(a), -r * np.sin(a)], 1)


_W = 0.32
_t = np.linspace(0, 2 * math.pi, 40, endpoint=False)
_POLYGONS = {
    "square": _regular(4, math.pi / 4),
    "triangle": _regular(3),
    "star": _star(),
    "cross": np.array([(-_W, -1), (_W, -1), (_W, -_W), (1, -_W), (1, _W), (_W, _W), (_W, 1), (-_W, 1),
                       (-_W, _W), (-1, _W), (-1, -_W), (-_W, -_W)]) * 0.95,
    "pentagon": _regular(5),
    "hexagon": _regular(6, 0.0),
    "diamond": np.array([(0, -1), (0.55, 0), (0, 1), (-0.55, 0)]),
    "heart": np.stack([16 * np.sin(_t) ** 3,
                       -(13 * np.cos(_t) - 5 * np.cos(2 * _t) - 2 * np.cos(3 * _t) - np.cos(4 * _t))], 1) / 16.5
    + [0.0, -0.1],
    "arrow": np.array([(-1, -0.22), (0.15, -0.22), (0.15, -0.6), (1, 0), (0.15, 0.6), (0.15, 0.22),
                       (-1, 0.22)]),
}


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, angle: float) -> None:
    def disc(x: float, y: float, rad: float, fill: int) -> None:
        draw.ellipse((x - rad, y - rad, x + rad, y + rad), fill=fill)

    if shape == "circle":
        disc(cx, cy, r * 0.9, 255)
    elif shape == "ring":
        disc(cx, cy, r * 0.95, 255)
        disc(cx, cy, r * 0.55, 0)
    elif shape == "crescent":
        disc(cx, cy, r * 0.95, 255)
        disc(cx + 0.5 * r * math.cos(angle), cy + 0.5 * r * math.sin(angle), r * 0.8, 0)
    else:
        c, s = math.cos(angle), math.sin(angle)
        pts = _POLYGONS[shape] @ np.array([[c, s], [-s, c]]) * r + [cx, cy]
        draw.polygon([tuple(p) for p in pts], fill=255)


@register_family("shapes", SHAPES, "filled geometric shapes with random size, rotation, position and colours")
def shapes(req: RenderRequest) -> Rendered:
    s, f = req.size, SUPERSAMPLE
    masks = np.empty((len(req), s, s), np.float32)
    fg, bg, caps = np.empty((len(req), 3)), np.empty((len(req), 3)), []
    for i, (label, rng) in enumerate(zip(req.labels, req.rngs)):
        shape = SHAPES[label]
        r = rng.uniform(0.26, 0.42) * s
        cx, cy = s / 2 + rng.uniform(-1, 1, size=2) * max(0.0, s / 2 - r - 1)
        img, draw = new_mask(s, f)
        _draw_shape(draw, shape, cx * f, cy * f, r * f, rng.uniform(0, 2 * math.pi))
        masks[i] = finish_mask(img, f)
        (fg_name, bg_name), cols = pick_colors(rng, 2)
        fg[i], bg[i] = cols
        size = "small " if r < 0.3 * s else "large " if r > 0.38 * s else ""
        template = choice(rng, ("{z}{fg} {sh}", "{z}{sh} in {fg}", "{fg} {sh} on {b} {bg} background"))
        text = template.format(fg=fg_name, bg=bg_name, sh=shape, z=size, b=article(bg_name))
        caps.append(f"{article(text)} {text}")
    return Rendered(composite(fg, bg, masks), masks, caps)
