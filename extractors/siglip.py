"""`siglip`: the vision tower of a SigLIP (or SigLIP 2) model, from transformers or open_clip.

transformers checkpoints (hub id or folder; SiglipModel or SiglipVisionModel) keep `vision_model.*`,
streamed from the files like `hf`. open_clip models (`hf-hub:timm/ViT-B-16-SigLIP`, `ARCH@PRETRAINED`,
`local-dir:...`, a folder with open_clip_config.json, or an entry with "arch" or
"backend": "open_clip") keep `visual.*` like `clip`.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from extractors import EXTRACTOR_REGISTRY
from extractors.base import ModelSpec
from extractors.clip import open_clip_tensors
from extractors.hf import HFExtractor

TOWER = "vision_model."


def uses_open_clip(spec: ModelSpec) -> bool:
    backend = spec.options.get("backend")
    if backend is not None:
        return str(backend).lower().replace("-", "_") == "open_clip"
    source = spec.source
    return ("arch" in spec.options or source.startswith(("open_clip:", "hf-hub:", "local-dir:"))
            or "@" in source or (Path(source).expanduser() / "open_clip_config.json").is_file())


@EXTRACTOR_REGISTRY.register(name="siglip")
class SiglipExtractor(HFExtractor):
    """Vision tower of a SigLIP model (transformers vision_model.*, or open_clip visual.*)."""

    name = "siglip"
    auto_classes = ("AutoModel",)

    def wanted(self, name: str) -> bool:
        return name.startswith(TOWER)

    def tensors(self, spec: ModelSpec) -> Iterator[tuple[str, torch.Tensor]]:
        if uses_open_clip(spec):
            yield from open_clip_tensors(self, spec)
        else:
            yield from super().tensors(spec)
