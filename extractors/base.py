"""What every extractor shares: the model entry, the error type, dtype rules and name ordering.

An extractor turns one `ModelSpec` into a stream of `(name, tensor)` pairs, one tensor at a time, so a
vectorizer never needs the whole model in memory. Tensors come in any order; vectorizers sort by
`natural_key(name)`, which makes the result independent of file layout and of how the model was read.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import torch

from utils.errors import ZooRankError

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)
BUFFER_LEAVES = ("running_mean", "running_var", "num_batches_tracked")


class ExtractionError(ZooRankError):
    """A model that cannot be turned into a vector: not loadable, NaN/inf weights, unsupported dtype."""


@dataclasses.dataclass
class ModelSpec:
    """One model to vectorize. `source` is a hub id, a local folder or file, or an open_clip name."""

    id: str
    source: str
    extractor: str | None = None  # overrides [extractor] name for this model
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # arch, pretrained, task, revision...
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)  # the zoo entry, kept in the outputs


def natural_key(name: str) -> tuple:
    """Sort key where "layer.10" comes after "layer.2" (depth order for the usual naming schemes)."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def keep_tensor(model_id: str, name: str, dtype: torch.dtype | str, include_buffers: bool = True) -> bool:
    """True for a floating-point parameter to vectorize, False for a buffer to skip; raise otherwise.

    Integer and bool tensors are buffers (position ids, BatchNorm counters, masks) unless they are
    named like weights, in which case the checkpoint is quantized and not supported.
    """
    leaf = name.rsplit(".", 1)[-1]
    if not include_buffers and leaf in BUFFER_LEAVES:
        return False
    if dtype in FLOAT_DTYPES:
        return True
    if dtype in INT_DTYPES and leaf not in ("weight", "bias", "qweight"):
        return False
    raise ExtractionError(
        f"model '{model_id}': tensor '{name}' has unsupported dtype {str(dtype).replace('torch.', '')} "
        "(supported: float16, bfloat16, float32, float64)"
    )


def dedupe(model_id: str, named: Iterator[tuple[str, torch.Tensor]], include_buffers: bool = True):
    """Yield the kept tensors of a state dict, each storage once (tied weights appear under one name)."""
    seen: set[tuple] = set()
    for name, tensor in named:
        if not keep_tensor(model_id, name, tensor.dtype, include_buffers):
            continue
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.stride())
        if tensor.numel() and key in seen:
            continue
        seen.add(key)
        yield name, tensor.detach()


class Extractor:
    """Base class. Subclasses implement `tensors(spec)`; errors are raised as `ExtractionError`."""

    name: ClassVar[str] = "extractor"

    def __init__(self, config: Any) -> None:
        self.config = config  # config.extraction.ExtractorConfig

    def tensors(self, spec: ModelSpec) -> Iterator[tuple[str, torch.Tensor]]:
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        """Settings of this extractor that change the vectors (recorded; resume compares them)."""
        return {"include_buffers": self.config.include_buffers}

    def fail(self, spec: ModelSpec, err: BaseException | str) -> ExtractionError:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return ExtractionError(f"model '{spec.id}' ({self.name}): cannot load '{spec.source}': {reason}")
