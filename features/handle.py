"""Load a model (hub id or folder) with its image processor, and read frozen features from it.

`FEATURE_REGISTRY` names what a feature is: `head_input` (what the classification head sees: the
penultimate representation of any `*ForImageClassification` model), `pooler` (the base model's
pooled output), `mean_hidden` (the last hidden state averaged over positions) and `auto` (the first
of these the model has).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from features.refs import Ref
from utils.errors import ZooRankError
from utils.log import get_logger
from utils.registry import Registry

logger = get_logger(__name__)
FEATURE_REGISTRY = Registry("feature")
HEAD_NAMES = ("classifier", "head", "fc")


def quiet_transformers() -> None:
    """No per-model "Loading weights" / "Writing model shards" bars: ours count models and pairs."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _first_line(err: Exception) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0][:200]


class ModelHandle:
    """One model, loaded once (lazily) and shared by the datasets it is run on."""

    def __init__(self, ref: Ref, device: torch.device, features: str = "auto", batch_size: int = 256) -> None:
        self.ref, self.device, self.batch_size = ref, device, batch_size
        self.extract_fn = FEATURE_REGISTRY.get(features)
        self._model: Any = None
        self._processor: Any = False  # False: not looked up yet; None: the model has none

    def _load(self, **kwargs: Any) -> Any:
        if self.ref.arch and Path(self.ref.source).is_file():  # a bare timm weights file
            from features.timm_model import load_timm

            return load_timm(self.ref.id, self.ref.source, self.ref.arch, kwargs.get("num_labels", 0))
        from safetensors import SafetensorError
        from transformers import AutoModel, AutoModelForImageClassification

        quiet_transformers()
        try:
            try:
                return AutoModelForImageClassification.from_pretrained(self.ref.source, **kwargs)
            except ValueError:  # not an image classifier (e.g. a bare backbone): its base model
                if kwargs:
                    raise
                return AutoModel.from_pretrained(self.ref.source)
        except (OSError, ValueError, KeyError, SafetensorError) as err:
            raise ZooRankError(f"model '{self.ref.id}' cannot be loaded from {self.ref.source} "
                               f"({_first_line(err)})") from None

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self._load().to(self.device).eval()
        return self._model

    @property
    def processor(self) -> Any:
        if self._processor is False and self.ref.arch and Path(self.ref.source).is_file():
            from features.timm_model import timm_processor

            self._processor = timm_processor(self.ref.arch, self.ref.image_size)
        if self._processor is False:
            from transformers import AutoImageProcessor

            try:
                self._processor = AutoImageProcessor.from_pretrained(self.ref.source)
            except (OSError, ValueError, KeyError):
                logger.warning("model '%s' has no image processor; feeding images scaled to [0, 1]", self.ref.id)
                self._processor = None
        return self._processor

    def classifier(self, class_names: list[str]) -> Any:
        """A fresh copy of the model with a new head for `class_names` (for fine-tuning)."""
        return self._load(num_labels=len(class_names), id2label=dict(enumerate(class_names)),
                          label2id={c: i for i, c in enumerate(class_names)}, ignore_mismatched_sizes=True)

    @torch.inference_mode()
    def features(self, x: torch.Tensor) -> np.ndarray:
        """Frozen features of preprocessed pixel values x [N, 3, H, W]: float32 [N, D]."""
        out = [self.extract_fn(self.model, x[i:i + self.batch_size].to(self.device)).flatten(1).float().cpu()
               for i in range(0, len(x), self.batch_size)]
        feats = torch.cat(out).numpy()
        if not np.isfinite(feats).all():
            raise ZooRankError(f"model '{self.ref.id}' gives NaN or infinite features; its weights are broken")
        return feats


def find_head(model: Any) -> torch.nn.Module | None:
    for name in HEAD_NAMES:
        head = getattr(model, name, None)
        if isinstance(head, torch.nn.Module) and not isinstance(head, torch.nn.Identity):
            return head
    return None


@FEATURE_REGISTRY.register(name="head_input")
def head_input(model: Any, x: torch.Tensor) -> torch.Tensor:
    head = find_head(model)
    if head is None:
        raise ZooRankError(f"{type(model).__name__} has no classification head; use features = pooler or mean_hidden")
    seen: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    try:
        model(pixel_values=x)
    finally:
        handle.remove()
    return seen[0]


@FEATURE_REGISTRY.register(name="pooler")
def pooler(model: Any, x: torch.Tensor) -> torch.Tensor:
    out = getattr(model, "base_model", model)(pixel_values=x)
    pooled = getattr(out, "pooler_output", None)
    if pooled is None:
        raise ZooRankError(f"{type(model).__name__} has no pooled output; use features = head_input or mean_hidden")
    return pooled


@FEATURE_REGISTRY.register(name="mean_hidden")
def mean_hidden(model: Any, x: torch.Tensor) -> torch.Tensor:
    h = model(pixel_values=x, output_hidden_states=True).hidden_states[-1]
    return h.mean(dim=(2, 3)) if h.dim() == 4 else h.mean(dim=1)  # conv maps [B, C, H, W] or tokens [B, T, D]


@FEATURE_REGISTRY.register(name="auto")
def auto(model: Any, x: torch.Tensor) -> torch.Tensor:
    if find_head(model) is not None:
        return head_input(model, x)
    with contextlib.suppress(ZooRankError):
        return pooler(model, x)
    return mean_hidden(model, x)
