"""Family `counting`: class = the number (1-9) of small dots or squares."""
from __future__ import annotations

import numpy as np

from dataloader.synthetic.core import (
    Rendered,
    RenderRequest,
    choice,
    composite,
    grid,
    pick_colors,
    register_family,
    soft_threshold,
)

NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _place(rng: np.random.Generator, k: int, lo: float, hi: float, gap: float) -> np.ndarray:
    """k points in [lo, hi]^2 at least `gap` apart: sequential placement from 64 random candidates
    per point; when jammed, start over with a slightly smaller gap (so it always terminates)."""
    while True:
        centers = np.empty((0, 2))
        for _ in range(k):
            cand = rng.uniform(lo, hi, size=(64, 2))
            cand = cand[(np.linalg.norm(cand[:, None] - centers[None], axis=-1) >= gap).all(axis=1)]
            if not len(cand):
                break
            centers = np.vstack([centers, cand[:1]])
        else:
            return centers
        gap *= 0.95


@register_family(
    "counting", NUMBERS,
    "1 to 9 small non-overlapping dots or squares of one colour at random positions; class = count",
)
def counting(req: RenderRequest) -> Rendered:
    n, s = len(req), req.size
    x, y = grid(s)
    masks = np.empty((n, s, s), np.float32)
    fg, bg, caps = np.empty((n, 3)), np.empty((n, 3)), []
    for i, (label, rng) in enumerate(zip(req.labels, req.rngs)):
        k, square = int(label) + 1, bool(rng.random() < 0.5)
        r = rng.uniform(0.065, 0.085) * s
        cs = _place(rng, k, r + 0.5, s - r - 0.5, 2 * r + 0.08 * s)[:, :, None, None]
        dx, dy = np.abs(x - cs[:, 0]), np.abs(y - cs[:, 1])
        dist = (np.maximum(dx, dy) if square else np.hypot(dx, dy)) - r
        masks[i] = soft_threshold(dist).max(axis=0)
        (fg_name, _), cols = pick_colors(rng, 2)
        fg[i], bg[i] = cols
        noun = ("square" if square else "dot") + ("s" if k > 1 else "")
        template = choice(rng, ("{n} {o}", "{n} {c} {o}", "{n} objects" if k > 1 else "one object"))
        caps.append(template.format(n=NUMBERS[label], c=fg_name, o=noun))
    return Rendered(composite(fg, bg, masks), masks, caps)
