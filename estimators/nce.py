"""NCE: Negative Conditional Entropy (Tran et al., ICCV 2019).

-H(Y | Z) between target labels Y and the hard source labels Z = argmax of the model's source head.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from estimators import ESTIMATOR_REGISTRY
from estimators.base import Estimator


def nce(source_labels: np.ndarray, labels: np.ndarray) -> float:
    """source_labels: [N] ints in [0, C_s) (argmax of the source head); labels: [N] ints in [0, C_t).

    Returns -H(Y | Z) in nats (<= 0, higher is better).
    """
    z = np.asarray(source_labels, dtype=np.int64)
    y = np.asarray(labels, dtype=np.int64)
    c_t, c_s = int(y.max()) + 1, int(z.max()) + 1
    joint = np.bincount(y * c_s + z, minlength=c_t * c_s).reshape(c_t, c_s) / len(y)
    p_z = np.broadcast_to(joint.sum(axis=0, keepdims=True), joint.shape)
    nz = joint > 0  # 0 * log 0 = 0, and unused source classes have p(z) = 0
    return float(np.sum(joint[nz] * np.log(joint[nz] / p_z[nz])))


@ESTIMATOR_REGISTRY.register(name="nce")
class NCE(Estimator):
    """NCE on the argmax of the model's source-class probabilities; needs a source classifier head."""

    requires: ClassVar[frozenset[str]] = frozenset({"source_probs"})
    name: ClassVar[str] = "nce"

    def _score(self, labels, features, source_probs):
        return nce(np.argmax(source_probs, axis=1), labels)
