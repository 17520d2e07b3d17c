"""The linear probe, the one scoring method shared by the ground truth, the probe profiles and the
sampled training tasks: frozen features standardized with train statistics only, multinomial
logistic regression (sklearn, lbfgs) fit on the train rows, accuracy on the test rows."""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def probe_accuracy(f_train: np.ndarray, y_train: np.ndarray, f_test: np.ndarray, y_test: np.ndarray,
                   c: float = 1.0, max_iter: int = 100, seed: int = 0) -> float:
    """f_train [N, D], y_train [N], f_test [M, D], y_test [M] -> test accuracy in [0, 1]. The features' dtype
    is kept (the ground truth's are float32: float64 would move some accuracies by one test image)."""
    scaler = StandardScaler().fit(f_train)
    clf = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
    # Accuracy is settled long before the loss: stopping at 100 iterations changes it by < 0.1% on
    # average (checked on the default world) and halves the cost, so the cap is not a failure.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scaler.transform(f_train), y_train)
    pred = clf.predict(scaler.transform(f_test))
    return float((pred == np.asarray(y_test)).mean())
