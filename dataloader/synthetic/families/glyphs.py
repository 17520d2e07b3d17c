"""Family `glyphs`: digits 0-9 and capital letters A-Z drawn with the DejaVu fonts matplotlib ships."""
from __future__ import annotations

import functools
import string
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageFont

from dataloader.synthetic.core import (
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

GLYPHS = tuple(string.digits + string.ascii_uppercase)
FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
)


@functools.cache
def _font(file: str, px: int) -> ImageFont.FreeTypeFont:
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / file
    return ImageFont.truetype(str(path), px)


@register_family(
    "glyphs", GLYPHS,
    "digits 0-9 and capital letters A-Z rendered with matplotlib's DejaVu fonts; random font, size, "
    "rotation, position and colours",
)
def glyphs(req: RenderRequest) -> Rendered:
    s, f = req.size, 2  # draw at 2x, rotate, then downsample
    masks = np.empty((len(req), s, s), np.float32)
    fg, bg, caps = np.empty((len(req), 3)), np.empty((len(req), 3)), []
    for i, (label, rng) in enumerate(zip(req.labels, req.rngs)):
        char = GLYPHS[label]
        font = _font(choice(rng, FONT_FILES), max(4, round(rng.uniform(0.55, 0.85) * s * f)))
        dx, dy = rng.uniform(-0.12, 0.12, size=2) * s * f
        img, draw = new_mask(s, f)
        cx, cy = s * f / 2 + dx, s * f / 2 + dy
        draw.text((cx, cy), char, fill=255, font=font, anchor="mm")
        img = img.rotate(rng.uniform(-20, 20), resample=Image.BICUBIC, center=(cx, cy))
        masks[i] = finish_mask(img, f)
        (fg_name, bg_name), cols = pick_colors(rng, 2)
        fg[i], bg[i] = cols
        kind = "digit" if char.isdigit() else "letter"
        template = choice(rng, ("the {k} {c} in {fg}", "{a} {fg} {k} {c}", "the {k} {c} written in {fg}",
                                 "{a} {fg} {c} on {b} {bg} background"))
        caps.append(template.format(k=kind, c=char, fg=fg_name, bg=bg_name, a=article(fg_name), b=article(bg_name)))
    return Rendered(composite(fg, bg, masks), masks, caps)
