"""Building blocks shared by the families and variants: registries, render types, colours, drawing.

A *family* turns a batch of class indices into float images in [0, 1] of shape (N, S, S, 3), a
foreground mask (N, S, S) and one caption per image. A *variant* then changes the batch (noise,
clutter, blur, ...). All randomness comes from one `numpy.random.Generator` per sample, so an image
depends only on the dataset's entropy and the sample's key, never on global state or batch layout.
"""
from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from utils.registry import Registry

FAMILY_REGISTRY = Registry("dataset family")
VARIANT_REGISTRY = Registry("dataset variant")

# Supersampling factor for shapes drawn with PIL (anti-aliasing by box-downsampling).
SUPERSAMPLE = 4


@dataclass
class Rendered:
    """What a family returns: float32 images (N, S, S, 3) in [0, 1], masks (N, S, S), captions."""

    images: np.ndarray
    masks: np.ndarray
    captions: list[str]


@dataclass(frozen=True)
class RenderRequest:
    """A batch to render.

    labels: family class indices (N,); class_index: running index of each sample within its class
    over all splits (train, then validation, then test), so samples never repeat across splits;
    rngs: one generator per sample; entropy: the dataset's seed words (for dataset-level streams:
    a family may seed `[*entropy, 2, ...]`; 0 and 1 are taken by samples and shuffling).
    """

    labels: np.ndarray
    class_index: np.ndarray
    rngs: list[np.random.Generator]
    size: int
    entropy: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Family:
    """A registered dataset family: its class names and the function that renders a batch."""

    name: str
    classes: tuple[str, ...]
    render: Callable[[RenderRequest], Rendered]
    description: str
    max_per_class: int | None = None  # finite pools (real data): samples per class over all splits

    def __call__(self, request: RenderRequest) -> Rendered:
        return self.render(request)


@dataclass(frozen=True)
class Variant:
    """A registered variant: `apply(images, masks, rngs, size) -> images`, run in `order`.

    `caption` is a suffix appended to each caption, or a function that rewrites the caption.
    """

    name: str
    apply: Callable[[np.ndarray, np.ndarray, list[np.random.Generator], int], np.ndarray]
    caption: str | Callable[[str], str]
    order: int
    description: str
    incompatible: frozenset[str] = field(default_factory=frozenset)

    def edit_caption(self, text: str) -> str:
        return self.caption(text) if callable(self.caption) else text + self.caption


def register_family(name: str, classes: list[str] | tuple[str, ...], description: str,
                    max_per_class: int | None = None) -> Callable:
    """Decorator: register a render function as family `name` with the given class names."""

    def deco(fn: Callable[[RenderRequest], Rendered]) -> Callable[[RenderRequest], Rendered]:
        FAMILY_REGISTRY.register(Family(name, tuple(classes), fn, description, max_per_class), name=name)
        return fn

    return deco


def register_variant(name: str, caption: str | Callable[[str], str], order: int, description: str,
                     incompatible: tuple[str, ...] = ()) -> Callable:
    """Decorator: register an image transform as variant `name` (`caption` is appended to captions)."""

    def deco(fn: Callable) -> Callable:
        VARIANT_REGISTRY.register(
            Variant(name, fn, caption, order, description, frozenset(incompatible)), name=name
        )
        return fn

    return deco


def choice(rng: np.random.Generator, options: list[str] | tuple[str, ...]) -> str:
    """One of `options`, drawn with `rng` (a caption template, a font, a colour name)."""
    return options[int(rng.integers(len(options)))]


# ----------------------------------------------------------------------------------------- colours
# Named colours for objects and backgrounds; captions use the names.
PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.10, 0.10),
    "orange": (1.00, 0.55, 0.05),
    "yellow": (0.96, 0.87, 0.10),
    "green": (0.10, 0.62, 0.20),
    "cyan": (0.10, 0.80, 0.85),
    "blue": (0.15, 0.30, 0.90),
    "purple": (0.52, 0.18, 0.72),
    "magenta": (0.90, 0.15, 0.70),
    "pink": (1.00, 0.62, 0.76),
    "brown": (0.50, 0.30, 0.10),
    "white": (0.97, 0.97, 0.97),
    "gray": (0.50, 0.50, 0.50),
    "black": (0.04, 0.04, 0.04),
}
COLOR_NAMES = tuple(PALETTE)
_RGB = np.array([PALETTE[n] for n in COLOR_NAMES], dtype=np.float64)


def article(word: str) -> str:
    """'a' or 'an' for the word that follows (by its first letter; good enough for our vocabulary)."""
    return "an" if word[:1].lower() in "aeiou8" else "a"


def luminance(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])


def _contrasting(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.abs(luminance(a) - luminance(b)) >= 0.22) & (np.linalg.norm(a - b, axis=-1) >= 0.5)


# _CONTRAST[i, j]: colours i and j are told apart easily, also in black and white
_CONTRAST = _contrasting(_RGB[:, None], _RGB[None])


def pick_colors(rng: np.random.Generator, k: int = 2, jitter: float = 0.04,
                exclude: tuple[str, ...] = ()) -> tuple[list[str], np.ndarray]:
    """`k` distinct named colours that contrast pairwise (luminance and RGB distance), jittered."""
    chosen: list[int] = []
    allowed = [i for i, n in enumerate(COLOR_NAMES) if n not in exclude]
    while len(chosen) < k:  # every contrasting pair has a third colour contrasting with both
        i = allowed[int(rng.integers(len(allowed)))]
        if all(_CONTRAST[i, j] for j in chosen):
            chosen.append(i)
    rgb = _RGB[chosen] + rng.normal(0.0, jitter, size=(k, 3))
    return [COLOR_NAMES[i] for i in chosen], np.clip(rgb, 0.0, 1.0)


def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def composite(fg: np.ndarray, bg: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Blend per-sample colours fg/bg (N, 3) through masks (N, S, S) -> images (N, S, S, 3)."""
    m = mask[..., None]
    return (m * fg[:, None, None, :] + (1.0 - m) * bg[:, None, None, :]).astype(np.float32)


# ----------------------------------------------------------------------------------------- drawing
def new_mask(size: int, factor: int = SUPERSAMPLE) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("L", (size * factor, size * factor), 0)
    return img, ImageDraw.Draw(img)


def finish_mask(img: Image.Image, factor: int = SUPERSAMPLE) -> np.ndarray:
    """Box-downsample a supersampled 'L' mask to float32 in [0, 1]."""
    if factor > 1:
        img = img.reduce(factor)
    return np.asarray(img, dtype=np.float32) / 255.0


def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y), each (S, S), x to the right and y downwards."""
    c = np.arange(size, dtype=np.float32) + 0.5
    return np.meshgrid(c, c, indexing="xy")


def soft_threshold(d: np.ndarray, width: float = 0.6) -> np.ndarray:
    """1 inside (d < 0), 0 outside, with an anti-aliased edge of about one pixel."""
    return np.clip(0.5 - d / (2.0 * width), 0.0, 1.0)
