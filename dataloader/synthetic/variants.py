"""Variants: transforms of a rendered batch that combine freely (applied in a fixed order).

Each takes float images (N, S, S, 3) in [0, 1], the family's foreground masks (N, S, S), the
per-sample generators and the image size, and returns new images.
"""
from __future__ import annotations

import math
import re

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter

from dataloader.synthetic.core import COLOR_NAMES, PALETTE, register_variant

_FAMILIES_WITH_COLOR_CLASSES = ("colors",)


_BACKGROUND = re.compile(r"\bon an? ([\w ]+?) background")


def _clutter_caption(text: str) -> str:
    if _BACKGROUND.search(text):
        return _BACKGROUND.sub(r"on a cluttered \1 background", text, count=1)
    return text + " on a cluttered background"


@register_variant("clutter", _clutter_caption, 0,
                  "random lines, outlines and arcs of random colours drawn on the background only")
def clutter(images: np.ndarray, masks: np.ndarray, rngs: list[np.random.Generator], size: int) -> np.ndarray:
    f = 2  # drawn at 2x on a transparent RGBA canvas, box-downsampled (anti-aliased alpha)
    width = max(1, round(0.035 * size * f))
    out = np.empty_like(images)
    for i, rng in enumerate(rngs):
        canvas = Image.new("RGBA", (size * f, size * f), (0, 0, 0, 0))
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(4, 9))):
            col = tuple(round(255 * c) for c in PALETTE[COLOR_NAMES[int(rng.integers(len(COLOR_NAMES)))]])
            fill = (*col, 255)
            kind = int(rng.integers(3))
            if kind == 0:  # a long line
                a = rng.uniform(0, 2 * math.pi)
                c, half = rng.uniform(0.2, 0.8, size=2) * size * f, rng.uniform(0.25, 0.5) * size * f
                d = np.array([math.cos(a), math.sin(a)]) * half
                draw.line([tuple(c - d), tuple(c + d)], fill=fill, width=width)
            else:  # a rectangle outline or an arc, partly off-canvas is fine
                x0, y0 = rng.uniform(-0.2, 0.8, size=2) * size * f
                w, h = rng.uniform(0.2, 0.6, size=2) * size * f
                box = (x0, y0, x0 + w, y0 + h)
                if kind == 1:
                    draw.rectangle(box, outline=fill, width=width)
                else:
                    start = rng.uniform(0, 360)
                    draw.arc(box, start, start + rng.uniform(90, 300), fill=fill, width=width)
        layer = np.asarray(canvas.reduce(f), np.float32) / 255.0  # straight (not premultiplied) RGBA
        alpha = (layer[..., 3] * (1.0 - masks[i]))[..., None]  # on the background only
        out[i] = images[i] + alpha * (layer[..., :3] - images[i])
    return out


@register_variant("blur", ", blurred", 10, "Gaussian blur with sigma 0.8 px at 32x32 (scaled with size)")
def blur(images: np.ndarray, masks: np.ndarray, rngs: list[np.random.Generator], size: int) -> np.ndarray:
    sigma = 0.8 * size / 32
    return gaussian_filter(images, sigma=(0, sigma, sigma, 0), mode="nearest")


@register_variant("pixelate", ", pixelated", 20, "average over blocks of S/16 pixels (2x2 at 32x32)")
def pixelate(images: np.ndarray, masks: np.ndarray, rngs: list[np.random.Generator], size: int) -> np.ndarray:
    f = max(2, size // 16)
    starts = np.arange(0, size, f)
    counts = np.diff(np.append(starts, size))
    small = np.add.reduceat(np.add.reduceat(images, starts, axis=1), starts, axis=2)
    small = small / (counts[None, :, None, None] * counts[None, None, :, None])
    return np.repeat(np.repeat(small, counts, axis=1), counts, axis=2).astype(np.float32)


@register_variant("grayscale", ", in black and white", 30, "luminance only (not for colour-class families)",
                  incompatible=_FAMILIES_WITH_COLOR_CLASSES)
def grayscale(images: np.ndarray, masks: np.ndarray, rngs: list[np.random.Generator], size: int) -> np.ndarray:
    lum = images @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat(lum[..., None], 3, axis=-1)


@register_variant("invert", ", colours inverted", 40, "colour inversion 1 - x (not for colour-class families)",
                  incompatible=_FAMILIES_WITH_COLOR_CLASSES)
def invert(images: np.ndarray, masks: np.ndarray, rngs: list[np.random.Generator], size: int) -> np.ndarray:
    return 1.0 - images


@register_variant("noise", ", with noise", 50, "additive Gaussian pixel noise, sigma 0.06-0.12 per image")
def noise(images: np.ndarray, masks: np.ndarray, rngs: list[np.random.Generator], size: int) -> np.ndarray:
    eps = np.stack([rng.normal(0.0, rng.uniform(0.06, 0.12), images.shape[1:]) for rng in rngs])
    return np.clip(images + eps.astype(np.float32), 0.0, 1.0)
