"""A timm network from a bare weights file (`arch` names it), shaped like a transformers model for ModelHandle.

A world file's `[model x] source = x.safetensors` with `arch = resnet18` (a timm architecture) is
built with `timm.create_model(arch, pretrained=False)` and loaded from the file; its classifier is
dropped (num_classes=0), so the features are timm's pre-logits. `pixel_values` in, a transformers
model output out: the FEATURE_REGISTRY readers and the fine-tuning loop treat it like any other
model. Its preprocessing is a transformers image processor built from timm's data config (mean,
std, input size; the entry's image_size wins), so preprocessed images are shared and cached alike.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from utils.errors import ZooRankError


class TimmModel(nn.Module):
    """`timm_model` behind the transformers calling convention (`model(pixel_values=x)`)."""

    def __init__(self, timm_model: nn.Module) -> None:
        super().__init__()
        self.timm = timm_model

    def forward(self, pixel_values: torch.Tensor, output_hidden_states: bool = False, **_: Any) -> Any:
        from transformers.modeling_outputs import ImageClassifierOutputWithNoAttention

        hidden = self.timm.forward_features(pixel_values)
        pooled = self.timm.forward_head(hidden, pre_logits=True)
        logits = self.timm.get_classifier()(pooled) if self.timm.num_classes else pooled
        out = ImageClassifierOutputWithNoAttention(logits=logits, hidden_states=(hidden,) if output_hidden_states else None)
        out["pooler_output"] = pooled  # the `pooler` feature reader looks for it
        return out


def _weights(path: Path, model_id: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as err:
        raise ZooRankError(f"model '{model_id}': {path} cannot be read ({str(err)[:150]}); replace the file") from None


def load_timm(model_id: str, path: str, arch: str, num_classes: int = 0) -> TimmModel:
    """`arch` with the weights of `path`; the classifier is new (num_classes > 0) or dropped (0)."""
    import timm

    if not timm.is_model(arch):
        raise ZooRankError(f"model '{model_id}': '{arch}' is not a timm architecture; set arch to one of "
                           "timm.list_models() (e.g. resnet18)")
    model = timm.create_model(arch, pretrained=False, num_classes=num_classes)
    state = _weights(Path(path), model_id)
    body = set(timm.create_model(arch, pretrained=False, num_classes=0).state_dict()) if num_classes else set(
        model.state_dict())
    missing = sorted(body - set(state))
    try:
        if missing:
            raise RuntimeError(f"{len(missing)} tensors missing, e.g. {missing[0]}")
        model.load_state_dict({k: v for k, v in state.items() if k in body}, strict=False)
    except RuntimeError as err:  # missing tensors or other shapes: another architecture or size
        first = (str(err).strip().splitlines() or [""])[-1].strip()[:160]
        raise ZooRankError(f"model '{model_id}': {Path(path).name} does not fit timm '{arch}' ({first}); "
                           "check its arch") from None
    return TimmModel(model)


def timm_processor(arch: str, image_size: int | None) -> Any:
    """A transformers image processor doing timm's preprocessing for `arch` (resize, rescale, normalize)."""
    import timm
    from transformers import ViTImageProcessor

    pretrained = timm.models.get_pretrained_cfg(arch)
    cfg = timm.data.resolve_data_config(pretrained_cfg=pretrained.to_dict() if pretrained is not None else {})
    side = image_size or cfg["input_size"][-1]
    return ViTImageProcessor(do_resize=True, size={"height": side, "width": side}, image_mean=list(cfg["mean"]),
                             image_std=list(cfg["std"]))
