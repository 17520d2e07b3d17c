"""[clip_pretrain]: the small CLIP that ZooRank trains on the source datasets' captions (zoo/clip.py).

CLIP weights cannot be downloaded everywhere, so datasets are tokenized with a tiny open_clip `CLIP`
(ViT vision tower, causal text transformer, open_clip's SimpleTokenizer vocabulary) trained with
`open_clip.loss.ClipLoss` on (image, caption) pairs. The defaults make one pass over the `default`
preset's 28k source pairs (about 230 CPU-seconds) and 18 steps (6 passes) over the `tiny` preset's 384.
"""
from __future__ import annotations

from typing import Literal

from config.parser import config_section
from utils.errors import ConfigError

# open_clip's SimpleTokenizer vocabulary (49152 BPE merges + byte tokens + <start>/<end>)
SIMPLE_TOKENIZER_VOCAB = 49408


@config_section("clip_pretrain")
class ClipPretrainConfig:
    model_name: str = "zoorank-clip-vit-t4"  # open_clip architecture name: <model_name>.json is the model config
    embed_dim: int = 128  # joint image-text embedding size
    image_size: int = 32  # input side of the vision tower (and of its preprocess transform)
    patch_size: int = 4  # ViT patch side: (image_size / patch_size)^2 patch tokens
    vision_width: int = 128
    vision_layers: int = 4
    vision_head_width: int = 32  # attention heads = vision_width / vision_head_width
    text_width: int = 128
    text_layers: int = 3
    text_heads: int = 4
    context_length: int = 32  # tokens per caption, <start> and <end> included (longer captions are cut)
    mlp_ratio: float = 4.0  # MLP hidden size / width, both towers
    epochs: int = 1  # passes over the (capped) source training pairs
    min_steps: int = 18  # small data (tiny preset): more epochs until at least this many optimizer steps; 0: off
    batch_size: int = 128  # pairs per contrastive batch (the other pairs are the negatives)
    max_per_class: int = 0  # training pairs per class of each source dataset and epoch, drawn anew each epoch; 0: all
    batch_mode: Literal["mixed", "per_dataset"] = "mixed"  # per_dataset: each batch from one source (harder negatives)
    crop_scale_min: float = 0.9  # augmentation (open_clip's train transform): random crops of >= this area share
    gray_scale_prob: float = 0.0  # augmentation: share of training images turned gray (captions keep their colours)
    lr: float = 0.002  # AdamW peak learning rate
    weight_decay: float = 0.1  # open_clip's rule: on weight matrices and embeddings, not on biases, gains, logit scale
    warmup_steps: int = 20  # linear warmup, then cosine decay to 0
    grad_clip_norm: float = 1.0  # 0 disables
    num_threads: int = 1  # torch CPU threads while training (restored after); 0: keep the caller's setting
    eval_per_class: int = 20  # validation images per class for the zero-shot check in clip_info.json; 0: skip
    seed: int = 0  # weights, batch order and subsampling; build_clip(seed=s) adds s

    def check(self) -> None:
        positive = ("embed_dim", "image_size", "patch_size", "vision_width", "vision_layers", "vision_head_width",
                    "text_width", "text_layers", "text_heads", "context_length", "epochs", "batch_size")
        for key in positive:
            if getattr(self, key) < 1:
                raise ConfigError(f"[clip_pretrain] {key} must be >= 1, got {getattr(self, key)}")
        for key in ("max_per_class", "min_steps", "warmup_steps", "num_threads", "eval_per_class", "seed"):
            if getattr(self, key) < 0:
                raise ConfigError(f"[clip_pretrain] {key} must be >= 0, got {getattr(self, key)}")
        if self.image_size % self.patch_size:
            raise ConfigError(f"[clip_pretrain] image_size {self.image_size} is not a multiple of patch_size "
                              f"{self.patch_size}")
        if self.vision_width % self.vision_head_width:
            raise ConfigError(f"[clip_pretrain] vision_width {self.vision_width} is not a multiple of "
                              f"vision_head_width {self.vision_head_width}")
        if self.text_width % self.text_heads:
            raise ConfigError(f"[clip_pretrain] text_width {self.text_width} is not a multiple of text_heads "
                              f"{self.text_heads}")
        if self.context_length < 3:
            raise ConfigError(f"[clip_pretrain] context_length must be >= 3 (<start>, a token, <end>), "
                              f"got {self.context_length}")
        if self.batch_size < 2:
            raise ConfigError(f"[clip_pretrain] batch_size must be >= 2 (a contrastive batch needs negatives), "
                              f"got {self.batch_size}")
        if not 0 < self.crop_scale_min <= 1 or not 0 <= self.gray_scale_prob <= 1:
            raise ConfigError("[clip_pretrain] need 0 < crop_scale_min <= 1 and 0 <= gray_scale_prob <= 1")
        if self.lr <= 0 or self.weight_decay < 0 or self.grad_clip_norm < 0 or self.mlp_ratio <= 0:
            raise ConfigError("[clip_pretrain] need lr > 0, mlp_ratio > 0, weight_decay >= 0, grad_clip_norm >= 0")
        if not self.model_name or any(c in self.model_name for c in "/\\:") or self.model_name.startswith("."):
            raise ConfigError(f"[clip_pretrain] model_name {self.model_name!r} must be a plain file stem "
                              "(no '/', '\\', ':' and no leading '.')")

    def model_config(self) -> dict:
        """open_clip's model config (the `<model_name>.json` content): embed_dim, vision_cfg, text_cfg."""
        return {
            "embed_dim": self.embed_dim,
            "vision_cfg": {"image_size": self.image_size, "patch_size": self.patch_size, "width": self.vision_width,
                           "layers": self.vision_layers, "head_width": self.vision_head_width,
                           "mlp_ratio": self.mlp_ratio},
            "text_cfg": {"context_length": self.context_length, "vocab_size": SIMPLE_TOKENIZER_VOCAB,
                         "width": self.text_width, "heads": self.text_heads, "layers": self.text_layers,
                         "mlp_ratio": self.mlp_ratio},
        }
