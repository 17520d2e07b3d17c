"""The model zoo of a preset: which architectures, sizes, source mixtures and training recipes.

Models are drawn from a seeded generator, architectures round-robin so every family gets its share.
Transfer quality differs between models because they differ in what they saw (one to three source
datasets, some of them mixtures of families), how long and how fast they trained, and their size.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from utils.errors import ZooRankError
from utils.hashing import stable_hash

# Bump when training code changes what a saved model holds: cached models are then retrained.
ZOO_VERSION = 1


@dataclass(frozen=True)
class ZooModelSpec:
    """One zoo model: architecture, size, source datasets and training recipe."""

    id: str
    arch: str
    width: int
    depth: int
    sources: tuple[str, ...]
    epochs: int
    lr: float
    seed: int
    images: int  # training images drawn class-balanced from the sources' train splits
    image_size: int = 32

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sources"] = list(self.sources)
        return d

    def spec_hash(self, source_hashes: dict[str, str], train_settings: dict[str, Any]) -> str:
        """16 hex digits: the spec, its source datasets' hashes and the shared training settings."""
        payload = {"zoo_version": ZOO_VERSION, **self.to_dict(), "settings": train_settings,
                   "source_hashes": [source_hashes.get(s) for s in self.sources]}
        return stable_hash(payload)


@dataclass(frozen=True)
class ArchPlan:
    """How many models of one architecture a preset has, and what they are drawn from."""

    count: int
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    epochs: tuple[int, ...]  # slow learners (ViT, ConvNeXt) get more epochs than ResNets
    images: tuple[int, ...]  # training-set sizes
    lr_range: tuple[float, float]  # log-uniform; BatchNorm/GroupNorm nets take larger steps than ConvNeXt/ViT


@dataclass(frozen=True)
class ZooPreset:
    """A preset's population: per architecture a plan, then shared learning rates and source mixtures."""

    archs: dict[str, ArchPlan]
    num_sources: tuple[float, ...]  # probability of 1, 2, 3, ... source datasets
    data_preset: str  # dataloader.synthetic preset of the datasets

    @property
    def num_models(self) -> int:
        return sum(plan.count for plan in self.archs.values())


CONV_LR, BIT_LR, ATTN_LR = (1e-3, 8e-3), (2e-3, 1e-2), (5e-4, 3e-3)
ZOO_PRESETS: dict[str, ZooPreset] = {
    "tiny": ZooPreset(
        archs={"resnet": ArchPlan(2, (8, 16), (1,), (8, 12), (96, 192), CONV_LR),
               "convnext": ArchPlan(2, (16,), (1,), (8, 12), (96, 192), ATTN_LR),
               "vit": ArchPlan(2, (16,), (1,), (8, 12), (96, 192), ATTN_LR),
               "mobilenet_v2": ArchPlan(2, (8,), (1,), (4, 8), (96, 192), CONV_LR)},
        num_sources=(0.6, 0.4), data_preset="tiny",
    ),
    # about 12 CPU-seconds per model on average (one thread): 48 models in ~5 minutes on 2 cores
    "default": ZooPreset(
        archs={"resnet": ArchPlan(14, (8, 16, 24, 32), (1, 2), (2, 4, 8, 12), (2000, 3000, 4000), CONV_LR),
               "bit": ArchPlan(8, (8, 16, 24), (1, 2), (3, 6, 10), (2000, 3000, 4000), BIT_LR),
               "regnet": ArchPlan(8, (8, 16, 24), (1, 2), (3, 6, 10), (2000, 3000, 4000), BIT_LR),
               "convnext": ArchPlan(8, (16, 24, 32), (1, 2), (4, 8, 12), (2000, 3000, 4000), ATTN_LR),
               "vit": ArchPlan(6, (16, 24), (1, 2), (4, 6, 10), (2000, 3000, 4000), ATTN_LR),
               "mobilenet_v2": ArchPlan(4, (8, 12), (1,), (2, 4), (1000, 2000), CONV_LR)},
        num_sources=(0.5, 0.35, 0.15), data_preset="default",
    ),
    # for a GPU or a cluster: more, larger, longer-trained models on the default datasets
    "large": ZooPreset(
        archs={"resnet": ArchPlan(48, (16, 32, 48, 64), (1, 2, 3), (5, 10, 20, 40), (4000, 8000, 16000), CONV_LR),
               "bit": ArchPlan(32, (16, 32, 48), (1, 2, 3), (5, 10, 20, 40), (4000, 8000, 16000), BIT_LR),
               "regnet": ArchPlan(32, (16, 32, 48), (1, 2, 3), (5, 10, 20, 40), (4000, 8000, 16000), BIT_LR),
               "convnext": ArchPlan(32, (24, 32, 48, 64), (1, 2, 3), (10, 20, 40), (4000, 8000, 16000), ATTN_LR),
               "vit": ArchPlan(32, (24, 32, 48, 64), (1, 2, 3), (20, 40, 80), (4000, 8000, 16000), ATTN_LR),
               "mobilenet_v2": ArchPlan(24, (8, 16, 24, 32), (1,), (10, 20, 40), (4000, 8000, 16000), CONV_LR)},
        num_sources=(0.45, 0.35, 0.2), data_preset="default",
    ),
}
PRESETS = tuple(ZOO_PRESETS)


def get_preset(preset: str) -> ZooPreset:
    if preset not in ZOO_PRESETS:
        raise ZooRankError(f"unknown preset '{preset}'; known: {', '.join(PRESETS)}")
    return ZOO_PRESETS[preset]


def _short(source: str) -> str:
    return source.removeprefix("src_").removeprefix("glyph_")


def zoo_specs(preset: str, sources: list[str], seed: int = 0, image_size: int = 32) -> list[ZooModelSpec]:
    """The preset's models, pretrained on names from `sources` (the preset's source datasets)."""
    p = get_preset(preset)
    if not sources:
        raise ZooRankError(f"preset '{preset}' has no source datasets to pretrain on")
    # architectures interleaved (resnet, bit, regnet, ..., resnet, ...) so that ids mix the families
    order = sorted(((j, k, arch) for k, (arch, plan) in enumerate(p.archs.items()) for j in range(plan.count)))
    specs = []
    for i, (_, _, arch) in enumerate(order):
        plan = p.archs[arch]
        rng = np.random.default_rng([seed, i, 20251])
        width, depth = int(rng.choice(plan.widths)), int(rng.choice(plan.depths))
        k = 1 + int(rng.choice(len(p.num_sources), p=np.asarray(p.num_sources) / sum(p.num_sources)))
        picked = tuple(sorted(rng.choice(sources, size=min(k, len(sources)), replace=False).tolist()))
        epochs, images = int(rng.choice(plan.epochs)), int(rng.choice(plan.images))
        lr = float(np.exp(rng.uniform(*np.log(plan.lr_range))))
        name = f"{i:03d}-{arch}-w{width}d{depth}-" + "+".join(_short(s) for s in picked)
        specs.append(ZooModelSpec(id=name.replace("_", "-"), arch=arch, width=width, depth=depth, sources=picked,
                                  epochs=epochs, lr=round(lr, 6), seed=seed * 1000 + i, images=images,
                                  image_size=image_size))
    return specs
