"""Procedural image-classification datasets written as ordinary Hugging Face datasets.

The hub is unreachable here, so ZooRank builds its world from code: families of 32x32 RGB images
(glyphs, shapes, textures, colors, counting, plus scikit-learn's real handwritten digits), combined
with variants (noise, clutter, blur, pixelate, grayscale, invert) and class subsets into many
distinct datasets. Every image has a caption (for a small CLIP trained on the source datasets).

    from dataloader.synthetic import DatasetSpec, generate, write_dataset, preset_specs
    spec = DatasetSpec("shapes_noisy", "shapes", num_classes=5, variants=("noise",), seed=0)
    dd = generate(spec)                      # DatasetDict: train / validation / test
    path = write_dataset(spec, "data/synth")  # data/synth/shapes_noisy/ (+ zoorank.json), cached

CLI: `python -m dataloader.synthetic --preset tiny|default --out DIR [--seed N]`.
Images are deterministic: one numpy Generator per sample, seeded from (seed, name, family, size,
class, index within class); no global random state is used.
"""
from dataloader.synthetic import families as _families  # noqa: F401  (registers the families)
from dataloader.synthetic import variants as _variants  # noqa: F401  (registers the variants)
from dataloader.synthetic.build import features, generate, metadata, render_arrays
from dataloader.synthetic.core import FAMILY_REGISTRY, VARIANT_REGISTRY, Family, Variant
from dataloader.synthetic.presets import PRESETS, preset_specs
from dataloader.synthetic.spec import GENERATOR_VERSION, ROLES, SPLITS, DatasetSpec
from dataloader.synthetic.store import (
    INDEX_FILE,
    META_FILE,
    is_complete,
    read_metadata,
    write_dataset,
    write_preset,
)

__all__ = [
    "DatasetSpec", "FAMILY_REGISTRY", "VARIANT_REGISTRY", "Family", "Variant", "GENERATOR_VERSION",
    "INDEX_FILE", "META_FILE", "PRESETS", "ROLES", "SPLITS", "features", "generate", "is_complete",
    "metadata", "preset_specs", "read_metadata", "render_arrays", "write_dataset", "write_preset",
]
