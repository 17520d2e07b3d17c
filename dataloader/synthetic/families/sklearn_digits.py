"""Family `sklearn_digits`: scikit-learn's bundled real handwritten digits (8x8), upsampled."""
from __future__ import annotations

import functools
import string

import numpy as np

from dataloader.synthetic.core import (
    Rendered,
    RenderRequest,
    choice,
    register_family,
)

DIGITS = tuple(string.digits)


@functools.lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target


def _bilinear_matrix(src: int, dst: int) -> np.ndarray:
    """(dst, src) matrix for bilinear resizing with half-pixel centres (like PIL/torch)."""
    pos = np.clip((np.arange(dst) + 0.5) * src / dst - 0.5, 0, src - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, src - 1)
    m = np.zeros((dst, src), np.float32)
    np.add.at(m, (np.arange(dst), lo), 1 - (pos - lo))
    np.add.at(m, (np.arange(dst), hi), pos - lo)
    return m


@register_family(
    "sklearn_digits", DIGITS,
    "real handwritten digits from scikit-learn's bundled load_digits (8x8, 1797 images), bilinearly "
    "upsampled, dark ink on white; splits never share an image",
    max_per_class=174,
)
def sklearn_digits(req: RenderRequest) -> Rendered:
    images, targets = _sklearn_digits()
    picks = np.empty(len(req), int)
    for label in np.unique(req.labels):
        pool = np.flatnonzero(targets == label)
        # stream 2 of the dataset (0 and 1 are samples and shuffling, see build.py): pool order
        pool = np.random.default_rng([*req.entropy, 2, int(label)]).permutation(pool)
        sel = req.labels == label
        picks[sel] = pool[req.class_index[sel]]
    m = _bilinear_matrix(8, req.size)
    ink = np.clip(np.einsum("ij,njk,lk->nil", m, images[picks], m), 0.0, 1.0)
    caps = [choice(rng, ("a handwritten digit {d}", "the number {d}, handwritten", "a scanned handwritten {d}"))
            .format(d=int(label)) for label, rng in zip(req.labels, req.rngs)]
    return Rendered(np.repeat((1.0 - ink)[..., None], 3, axis=-1), ink, caps)
