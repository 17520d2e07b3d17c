"""Shared interface, errors and input checks for transferability estimators.

Every estimator takes plain NumPy arrays (labels [N], features [N, D], source_probs [N, C_s]) and
returns one float where higher means "this model should transfer better".
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from utils.errors import ZooRankError

INPUTS = frozenset({"features", "source_probs"})


class EstimatorInputError(ZooRankError):
    """Inputs an estimator cannot score: wrong shapes, NaN/inf, fewer than two classes."""


class MissingInputError(EstimatorInputError):
    """The estimator needs an input this model does not provide (e.g. no source classifier head)."""


def check_labels(labels: np.ndarray, name: str) -> np.ndarray:
    """Class labels [N] as contiguous ints 0..K-1 (K >= 2).

    Arbitrary integer ids are remapped so that a class id missing from the data does not become an
    empty class (which would shift LogME's per-class mean and break LEEP's normalisation).
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise EstimatorInputError(f"{name}: labels must have shape [N], got {y.shape}")
    if y.size == 0:
        raise EstimatorInputError(f"{name}: labels are empty")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise EstimatorInputError(f"{name}: labels must be integer class ids, got non-integer values")
    elif y.dtype.kind not in "iub":
        raise EstimatorInputError(f"{name}: labels must be integer class ids, got dtype {y.dtype}")
    classes, y = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise EstimatorInputError(f"{name}: needs at least 2 classes, got {len(classes)}")
    return y.astype(np.int64)


def check_matrix(x: np.ndarray, what: str, n: int, name: str) -> np.ndarray:
    """A finite float64 [N, ·] matrix whose rows match the N labels."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise EstimatorInputError(f"{name}: {what} must have shape [N, D], got {x.shape}")
    if x.shape[0] != n:
        raise EstimatorInputError(f"{name}: {what} has {x.shape[0]} rows but there are {n} labels")
    if x.shape[1] == 0:
        raise EstimatorInputError(f"{name}: {what} has no columns")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise EstimatorInputError(f"{name}: {what} contains NaN or inf")
    return x


def check_probs(p: np.ndarray, n: int, name: str) -> np.ndarray:
    p = check_matrix(p, "source_probs", n, name)
    # Logits passed by mistake are the usual error; 1e-3 leaves room for float16/float32 softmax.
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise EstimatorInputError(
            f"{name}: source_probs rows must be probabilities summing to 1 (apply softmax to logits)"
        )
    return p


class Estimator:
    """Base class: validates inputs, then calls `_score` on clean float64 arrays.

    Subclasses set `requires` and implement `_score(labels, features, source_probs) -> float`.
    """

    requires: ClassVar[frozenset[str]] = frozenset({"features"})
    name: ClassVar[str] = "estimator"

    def score(
        self,
        labels: np.ndarray,
        features: np.ndarray | None = None,
        source_probs: np.ndarray | None = None,
    ) -> float:
        """Score one model on one dataset.

        labels: [N] integer class ids; features: [N, D]; source_probs: [N, C_s] softmax outputs of
        the model's own (source) classifier head. Returns a float, higher = better transfer.
        """
        if features is None and "features" in self.requires:
            raise MissingInputError(f"{self.name} needs the model's features [N, D], none were given")
        if source_probs is None and "source_probs" in self.requires:
            raise MissingInputError(
                f"{self.name} needs source-class probabilities, but the model has no source classifier "
                f"head, so {self.name} cannot be computed"
            )
        y = self._check_labels(labels)
        n = len(y)
        f = check_matrix(features, "features", n, self.name) if "features" in self.requires else None
        p = check_probs(source_probs, n, self.name) if "source_probs" in self.requires else None
        value = float(self._score(y, f, p))
        if not np.isfinite(value):
            raise EstimatorInputError(f"{self.name}: score is not finite ({value}); inputs are degenerate")
        return value

    def caveat(self, n: int, d: int) -> str | None:
        """Why a score from N samples of D-dim features should not be trusted; None: no reason.

        A benchmark gathers these per pair into one warning and its report, rather than a warning
        per score.
        """
        return None

    def _check_labels(self, labels: np.ndarray) -> np.ndarray:
        return check_labels(labels, self.name)

    def _score(self, labels: np.ndarray, features: np.ndarray | None, source_probs: np.ndarray | None) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


def one_hot(labels: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """[N] ints -> [N, K] float64 indicator matrix."""
    k = int(labels.max()) + 1 if num_classes is None else num_classes
    return np.eye(k, dtype=np.float64)[labels]
