"""What a dataset feature extractor provides: a preprocessing transform and batched image features."""
from __future__ import annotations

import numpy as np
import torch

from config.dataset_tokens import DatasetTokensConfig
from utils.device import pick_device


class FeatureExtractor:
    """Subclasses set `self.model`, `self.transform` (PIL -> tensor [3, H, W]) and implement `_encode`."""

    name = "features"
    supports_text = False

    def __init__(self, cfg: DatasetTokensConfig) -> None:
        self.cfg = cfg
        self.device = pick_device(cfg.device, "dataset_tokens")

    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def image_features(self, pixels: torch.Tensor) -> np.ndarray:
        """pixels: [B, 3, H, W] preprocessed -> [B, D] float32 features (not yet normalized)."""
        return self._encode(pixels.to(self.device)).float().cpu().numpy()

    def text_features(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError(f"{self.name} has no text encoder")

    def describe(self) -> str:
        return self.name

    def fingerprint(self) -> str:
        """What identifies the features by content, not by where the weights are (compared by recommend.py)."""
        return self.describe()
