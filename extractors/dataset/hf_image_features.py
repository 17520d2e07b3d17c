"""`hf_image`: any `transformers` vision backbone, pooled (pooler output, else mean of the last hidden state)."""
from __future__ import annotations

import torch

from config.dataset_tokens import DatasetTokensConfig
from extractors.dataset import DATASET_EXTRACTOR_REGISTRY
from extractors.dataset.base import FeatureExtractor
from utils.errors import ZooRankError
from utils.images import image_processor_transform, to_tensor


@DATASET_EXTRACTOR_REGISTRY.register(name="hf_image")
class HFImageFeatures(FeatureExtractor):
    name = "hf_image"

    def __init__(self, cfg: DatasetTokensConfig) -> None:
        from transformers import AutoImageProcessor, AutoModel

        super().__init__(cfg)
        if not cfg.hf_model:
            raise ZooRankError("[dataset_tokens] extractor = hf_image needs hf_model (hub id or folder)")
        try:
            self.model = AutoModel.from_pretrained(cfg.hf_model, trust_remote_code=cfg.trust_remote_code)
        except (OSError, ValueError) as err:
            raise ZooRankError(f"cannot load {cfg.hf_model} with AutoModel ({str(err).splitlines()[0][:160]})") from None
        self.model.to(self.device).eval()
        try:
            self.transform = image_processor_transform(AutoImageProcessor.from_pretrained(cfg.hf_model))
        except (OSError, ValueError):  # no preprocessor_config.json: plain [0, 1] tensors
            self.transform = to_tensor

    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        out = self.model(pixel_values=pixels)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            hidden = out.last_hidden_state
            pooled = hidden.mean(dim=(2, 3)) if hidden.dim() == 4 else hidden.mean(dim=1)
        return pooled.flatten(1)

    def describe(self) -> str:
        return f"hf_image:{self.cfg.hf_model}"
