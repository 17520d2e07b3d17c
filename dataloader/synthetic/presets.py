"""Named collections of dataset specs: `tiny` (tests/CI) and `default` (model zoo + benchmark).

Source datasets pretrain the model zoo; target datasets are what models are ranked on. No target
has the same (family, classes, variants) as any source, and every family has targets, so a
benchmark can hold out whole families. Probe datasets (with the sources, the probe collection of
extract_probe_profiles.py) are each source family under each corruption the world knows: how a model
copes with noise or inversion on shapes is its own measurement, and it stays one when the probes of a
held-out family are left out (strict novelty). They are small (the probes read 40 + 20 per class).
"""
from __future__ import annotations

from dataloader.synthetic.families import COLORS, DIGITS, NUMBERS, SHAPES, TEXTURES
from dataloader.synthetic.spec import DatasetSpec
from utils.errors import ZooRankError

LETTERS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
STRIPES = TEXTURES[:8]

# (name, family, classes (None = all), variants[, train_per_class overriding the preset's])
_TINY_SOURCES = [
    ("src_glyph_letters", "glyphs", ("A", "B", "C", "D"), ()),
    ("src_shapes", "shapes", ("circle", "square", "triangle", "star"), ()),
    ("src_textures", "textures", STRIPES[::2], ()),
    ("src_colors", "colors", ("red", "green", "blue", "yellow"), ()),
]
_TINY_TARGETS = [
    ("tgt_glyph_digits", "glyphs", ("0", "1", "7", "8"), ()),
    ("tgt_shapes_clutter", "shapes", ("cross", "pentagon", "ring"), ("clutter",)),
    ("tgt_textures_noise", "textures", ("checkerboard", "polka dots", "horizontal coarse stripes"), ("noise",)),
    ("tgt_colors_blur", "colors", ("orange", "purple", "cyan"), ("blur",)),
    ("tgt_count_1_3", "counting", NUMBERS[:3], ()),
    ("tgt_count_1_4_invert", "counting", NUMBERS[:4], ("invert",)),
    ("tgt_skdigits_0_2", "sklearn_digits", DIGITS[:3], ()),
    ("tgt_skdigits_3_6_noise", "sklearn_digits", DIGITS[3:7], ("noise",)),
]

_DEFAULT_SOURCES = [
    ("src_glyph_letters", "glyphs", LETTERS, (), 300),  # 26 classes: fewer per class, similar size
    ("src_shapes", "shapes", None, ()),
    ("src_textures", "textures", None, ()),
    ("src_colors", "colors", None, ()),
    ("src_counting", "counting", None, ()),
    ("src_glyph_digits_clutter_noise", "glyphs", DIGITS, ("clutter", "noise")),
]
_DEFAULT_TARGETS = [
    # glyphs
    ("tgt_glyph_digits", "glyphs", DIGITS, ()),
    ("tgt_glyph_digits_blur", "glyphs", DIGITS, ("blur",)),
    ("tgt_glyph_letters_a_j_noise", "glyphs", LETTERS[:10], ("noise",)),
    ("tgt_glyph_vowels_invert", "glyphs", tuple("AEIOU"), ("invert",)),
    ("tgt_glyph_confusable_clutter", "glyphs", tuple("0OQD1IL75S"), ("clutter",)),
    ("tgt_glyph_letters_k_t_gray_pixelate", "glyphs", LETTERS[10:20], ("pixelate", "grayscale")),
    # shapes
    ("tgt_shapes_basic", "shapes", ("circle", "square", "triangle", "star", "cross"), ()),
    ("tgt_shapes_polygons_noise", "shapes", ("circle", "triangle", "square", "pentagon", "hexagon"), ("noise",)),
    ("tgt_shapes_all_clutter", "shapes", None, ("clutter",)),
    ("tgt_shapes_curved_blur", "shapes", ("circle", "ring", "crescent", "heart", "diamond"), ("blur",)),
    ("tgt_shapes_pointy_invert", "shapes", ("star", "cross", "arrow", "diamond", "triangle", "heart"),
     ("invert",)),
    ("tgt_shapes_gray_pixelate", "shapes", SHAPES[:8], ("pixelate", "grayscale")),
    # textures
    ("tgt_textures_orientation", "textures", STRIPES[::2], ()),
    ("tgt_textures_stripes_noise", "textures", STRIPES, ("noise",)),
    ("tgt_textures_all_clutter", "textures", None, ("clutter",)),
    ("tgt_textures_coarse_blur", "textures", STRIPES[1::2] + TEXTURES[8:], ("blur",)),
    ("tgt_textures_patterns_gray_invert", "textures",
     ("checkerboard", "polka dots", "horizontal coarse stripes", "vertical coarse stripes"), ("grayscale", "invert")),
    # colors
    ("tgt_colors_hues", "colors", COLORS[:8], ()),
    ("tgt_colors_warm_noise", "colors", ("red", "orange", "yellow", "pink", "brown", "magenta"), ("noise",)),
    ("tgt_colors_cool_clutter", "colors", ("green", "cyan", "blue", "purple"), ("clutter",)),
    ("tgt_colors_primary_blur", "colors", ("red", "green", "blue", "yellow"), ("blur",)),
    ("tgt_colors_all_pixelate_noise", "colors", COLORS[::-1], ("pixelate", "noise")),
    # counting
    ("tgt_count_1_5", "counting", NUMBERS[:5], ()),
    ("tgt_count_1_9_noise", "counting", NUMBERS, ("noise",)),
    ("tgt_count_1_6_clutter", "counting", NUMBERS[:6], ("clutter",)),
    ("tgt_count_2_7_invert", "counting", NUMBERS[1:7], ("invert",)),
    ("tgt_count_1_5_blur", "counting", NUMBERS[:5], ("blur",)),
    # sklearn_digits (real data; 174 images per class at most)
    ("tgt_skdigits", "sklearn_digits", None, ()),
    ("tgt_skdigits_noise", "sklearn_digits", None, ("noise",)),
    ("tgt_skdigits_invert", "sklearn_digits", None, ("invert",)),
    ("tgt_skdigits_clutter", "sklearn_digits", None, ("clutter",)),
    ("tgt_skdigits_0_4_blur", "sklearn_digits", DIGITS[:5], ("blur",)),
    ("tgt_skdigits_5_9_pixelate", "sklearn_digits", DIGITS[5:], ("pixelate",)),
]

_CORRUPTIONS = ("clutter", "blur", "pixelate", "grayscale", "invert", "noise")
# every other class of a family: a probe is never the same data as a target (no target has these class sets)
_PROBE_FAMILIES = (("glyphs", LETTERS[::2]), ("shapes", SHAPES[::2]), ("textures", TEXTURES[::2]),
                   ("colors", COLORS[::2]), ("counting", NUMBERS[::2]))
# grayscale and inversion change what a colour class means: not for the colors family
_DEFAULT_PROBES = [(f"prb_{family}_{v}", family, classes, (v,)) for family, classes in _PROBE_FAMILIES
                   for v in _CORRUPTIONS if not (family == "colors" and v in ("grayscale", "invert"))]
_TINY_PROBES = [
    ("prb_shapes_noise", "shapes", ("circle", "square", "triangle", "star"), ("noise",)),
    ("prb_textures_invert", "textures", STRIPES[::2], ("invert",)),
]

# preset -> (source, target, probe) rows, each with its per-class train/val/test
_PRESETS = {
    "tiny": ((_TINY_SOURCES, (24, 20, 20)), (_TINY_TARGETS, (24, 20, 20)), (_TINY_PROBES, (24, 1, 20))),
    "default": ((_DEFAULT_SOURCES, (400, 50, 50)), (_DEFAULT_TARGETS, (80, 20, 50)), (_DEFAULT_PROBES, (40, 1, 20))),
}
PRESETS = tuple(_PRESETS)


def preset_specs(preset: str = "default", seed: int = 0, image_size: int = 32) -> list[DatasetSpec]:
    """The specs of a preset: sources, targets, probes. `seed` shifts every dataset (a different zoo/benchmark)."""
    if preset not in _PRESETS:
        raise ZooRankError(f"unknown preset '{preset}'; known: {', '.join(PRESETS)}")
    specs = []
    for role, (rows, (n_train, n_val, n_test)) in zip(("source", "target", "probe"), _PRESETS[preset]):
        for name, family, classes, variants, *train in rows:
            specs.append(DatasetSpec(
                name=name, family=family, classes=None if classes is None else tuple(classes),
                variants=tuple(variants), train_per_class=train[0] if train else n_train, val_per_class=n_val,
                test_per_class=n_test, image_size=image_size, seed=seed, role=role,
            ))
    return specs
