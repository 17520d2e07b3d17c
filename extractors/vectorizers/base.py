"""The vectorizer interface: a stream of (name, tensor) pairs in, one fixed-size float32 vector out."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import torch

NON_VECTOR_KEYS = ("normalizer_clip", "read_ahead")  # settings that do not change the vectors


@dataclasses.dataclass
class VectorResult:
    vector: np.ndarray  # float32 [size]
    names: list[str]  # tensors used, in the vectorizer's (natural-name) order
    shapes: list[tuple[int, ...]]
    roles: list[str]  # per tensor: its role(s), "+"-joined when a fused tensor was split
    info: dict[str, Any] = dataclasses.field(default_factory=dict)  # num_params, dtypes, ...


class Vectorizer:
    """Base class: `vectorize(named_tensors)` -> VectorResult; `layout()` names every dimension."""

    name: ClassVar[str] = "vectorizer"
    version: ClassVar[int] = 1  # part of the resume fingerprint: bump when the output changes

    def __init__(self, config: Any) -> None:
        self.config = config  # config.extraction.VectorizerConfig

    def vectorize(self, named: Iterable[tuple[str, torch.Tensor]]) -> VectorResult:
        raise NotImplementedError

    def layout(self) -> list[str]:
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        """Settings that change the vectors; a resumed run must match them."""
        cfg = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in NON_VECTOR_KEYS}
        return {"vectorizer": self.name, "version": self.version, **cfg}


def fit_to_size(values: np.ndarray, size: int) -> np.ndarray:
    """float32 [size]: `values` zero-padded or truncated."""
    out = np.zeros(size, dtype=np.float32)
    n = min(size, values.size)
    out[:n] = values[:n]
    return out
