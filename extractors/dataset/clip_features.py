"""`clip`: open_clip image (and text) features. Real CLIP weights by tag or file, or a local custom CLIP."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from config.dataset_tokens import DatasetTokensConfig
from extractors.dataset import DATASET_EXTRACTOR_REGISTRY
from extractors.dataset.base import FeatureExtractor
from utils.errors import ZooRankError
from utils.hashing import files_hash

CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".bin", ".pth")


def _locate(cfg: DatasetTokensConfig) -> tuple[str, str | None]:
    """(model name, pretrained tag or checkpoint path); registers a local model config with open_clip."""
    import open_clip

    name, pretrained = cfg.clip_model, cfg.clip_pretrained
    config = cfg.clip_model_config
    if pretrained and Path(pretrained).is_absolute() and not Path(pretrained).exists():
        raise ZooRankError(f"CLIP checkpoint or folder {pretrained} not found; build the embedded world "
                           "(python -m zoo build) or set [dataset_tokens] clip_pretrained")
    folder = Path(pretrained) if pretrained and Path(pretrained).is_dir() else None
    if folder is not None:  # a folder holding <name>.json and one checkpoint, as the zoo builder writes
        checkpoints = sorted(p for p in folder.iterdir() if p.suffix in CHECKPOINT_SUFFIXES)
        if not checkpoints:
            raise ZooRankError(f"CLIP folder {folder} has no checkpoint ({', '.join(CHECKPOINT_SUFFIXES)})")
        config = config or folder
        pretrained = str(checkpoints[0])
    if config is not None:
        config = Path(config)
        if not config.exists():
            raise ZooRankError(f"[dataset_tokens] clip_model_config {config} does not exist")
        # open_clip_config.json is the hub-style copy; the model configs are <name>.json with a vision_cfg
        jsons = [config] if config.is_file() else sorted(
            j for j in config.glob("*.json") if j.name != "open_clip_config.json" and "vision_cfg" in j.read_text())
        if name in (j.stem for j in jsons):
            open_clip.add_model_config(next(j for j in jsons if j.stem == name))
        elif name not in open_clip.list_models():
            known = ", ".join(j.stem for j in jsons) or "none"
            raise ZooRankError(f"unknown open_clip model '{name}'; model configs in {config}: {known}")
    if pretrained and Path(pretrained).suffix in CHECKPOINT_SUFFIXES and not Path(pretrained).is_file():
        raise ZooRankError(f"CLIP checkpoint {pretrained} not found; check [dataset_tokens] clip_pretrained")
    if name not in open_clip.list_models():
        raise ZooRankError(f"unknown open_clip model '{name}'; see open_clip.list_models() or set clip_model_config")
    return name, str(pretrained) if pretrained else None


@DATASET_EXTRACTOR_REGISTRY.register(name="clip")
class ClipFeatures(FeatureExtractor):
    """open_clip.create_model_and_transforms(name, pretrained=tag_or_path): the call real CLIPs load with."""

    name = "clip"
    supports_text = True

    def __init__(self, cfg: DatasetTokensConfig) -> None:
        import open_clip

        super().__init__(cfg)
        self.model_name, self.pretrained = _locate(cfg)
        try:
            self.model, _, self.transform = open_clip.create_model_and_transforms(
                self.model_name, pretrained=self.pretrained, device=self.device)
        except (RuntimeError, OSError, ValueError) as err:
            raise ZooRankError(f"cannot load CLIP {self.model_name} (pretrained={self.pretrained}): "
                               f"{str(err).splitlines()[0][:160]}") from None
        self.model.eval()
        self.tokenizer = open_clip.get_tokenizer(self.model_name)

    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)

    @torch.no_grad()
    def text_features(self, texts: list[str]) -> np.ndarray:
        return self.model.encode_text(self.tokenizer(texts).to(self.device)).float().cpu().numpy()

    def describe(self) -> str:
        return f"clip:{self.model_name}:{self.pretrained}"

    def fingerprint(self) -> str:
        """A local checkpoint by the hash of its bytes (a moved or copied CLIP is the same CLIP), a tag by name."""
        if self.pretrained and Path(self.pretrained).is_file():
            return f"clip:{self.model_name}:sha1:{files_hash([self.pretrained], algorithm='sha1')}"
        return self.describe()
