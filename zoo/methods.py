"""`METHOD_REGISTRY`: how one (model, dataset) pair is scored; each returns test accuracy and details.

`linear_probe` (default): frozen features, standardized with train statistics only, multinomial
logistic regression (sklearn, lbfgs) fit on the train split, accuracy on the test split
(features/probe.py). It also hands back the frozen features (`_features`: train, test), which the
ground truth keeps for the sampled training tasks.
`finetune`: the whole model with a new head, trained a few epochs on the train split, accuracy on
the test split.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from features.handle import ModelHandle
from features.probe import probe_accuracy
from utils.registry import Registry
from zoo.training import accuracy, fit_classifier

METHOD_REGISTRY = Registry("ground-truth method")


@METHOD_REGISTRY.register(name="linear_probe")
def linear_probe(handle: ModelHandle, x_train: torch.Tensor, y_train: np.ndarray, x_test: torch.Tensor,
                 y_test: np.ndarray, class_names: list[str], cfg: Any, seed: int) -> dict[str, Any]:
    f_train, f_test = handle.features(x_train), handle.features(x_test)
    score = probe_accuracy(f_train, y_train, f_test, y_test, cfg.probe_c, cfg.probe_max_iter, seed)
    return {"score": score, "feature_dim": int(f_train.shape[1]), "_features": (f_train, f_test)}


@METHOD_REGISTRY.register(name="finetune")
def finetune(handle: ModelHandle, x_train: torch.Tensor, y_train: np.ndarray, x_test: torch.Tensor,
             y_test: np.ndarray, class_names: list[str], cfg: Any, seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)  # the new head's initialisation
    model = handle.classifier(class_names)
    fit_classifier(model, x_train, y_train, cfg.finetune_epochs, cfg.finetune_lr, min(64, cfg.batch_size), seed,
                   handle.device)
    return {"score": accuracy(model, x_test, y_test, cfg.batch_size, handle.device)}
