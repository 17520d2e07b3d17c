"""`detector`: a DETR or YOLOS object detector (transformers): backbone, neck and heads.

Every tensor is assigned a part and [extractor] parts chooses which parts go into the vector:

* heads: class_labels_classifier, bbox_predictor (and DETR's mask head when present)
* backbone: DETR's `model.backbone.*` (a CNN), YOLOS's `vit.*` (a ViT with detection tokens)
* neck: everything else (DETR's encoder/decoder transformer, input projection, query embeddings)

Reading is the same as `hf` (files streamed directly, else AutoModelForObjectDetection).
"""
from __future__ import annotations

import re

from extractors import EXTRACTOR_REGISTRY
from extractors.hf import HFExtractor

HEADS = re.compile(r"(^|\.)(class_labels_classifier|bbox_predictor|mask_head|bbox_attention)(\.|$)")
BACKBONE = re.compile(r"(^|\.)(backbone|vit|conv_encoder)(\.|$)")


def detector_part(name: str) -> str:
    if HEADS.search(name):
        return "heads"
    if BACKBONE.search(name):
        return "backbone"
    return "neck"


@EXTRACTOR_REGISTRY.register(name="detector")
class DetectorExtractor(HFExtractor):
    """DETR / YOLOS object detector; [extractor] parts picks backbone, neck, heads."""

    name = "detector"
    auto_classes = ("AutoModelForObjectDetection",)

    def wanted(self, name: str) -> bool:
        return detector_part(name) in self.config.parts

    def fingerprint(self) -> dict:
        return {**super().fingerprint(), "parts": sorted(self.config.parts)}
