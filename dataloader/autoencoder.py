"""The published model autoencoder (`train.py modelautoencoder`): autoencoder.pt + normalizer.npz in one folder.

Written by the trainer and read by serving (`recommend.py add-model`) and evaluation, so that neither
needs the training code to embed a new model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from extractors.vectorizers import RobustNormalizer
from model.model_encoder import ModelAutoEncoder
from utils import io
from utils.artifacts import damaged, read_checkpoint
from utils.errors import ZooRankError

AUTOENCODER_FILE = "autoencoder.pt"
NORMALIZER_FILE = "normalizer.npz"
AE_FILES = (AUTOENCODER_FILE, NORMALIZER_FILE)
RETRAIN = "python train.py modelautoencoder"


def save_autoencoder(folder: Path, model: ModelAutoEncoder, kwargs: dict[str, Any],
                     normalizer: RobustNormalizer) -> None:
    """Publish the weights (with the constructor kwargs) and the normalizer its inputs went through."""
    normalizer.save(folder / NORMALIZER_FILE)
    io.torch_save({"model": model.state_dict(), "kwargs": kwargs}, folder / AUTOENCODER_FILE)


def load_autoencoder(folder: Path) -> tuple[ModelAutoEncoder, RobustNormalizer]:
    """The published autoencoder (eval mode, on the CPU) and its normalizer."""
    path = Path(folder) / AUTOENCODER_FILE
    if not path.is_file():
        raise ZooRankError(f"no trained autoencoder in {folder}; run python train.py modelautoencoder")
    state = read_checkpoint(path, what="autoencoder", rebuild=RETRAIN, keys=("model", "kwargs"))
    kwargs = state["kwargs"]
    try:
        model = ModelAutoEncoder(**{**kwargs, "hidden_dims": tuple(kwargs["hidden_dims"])})
        model.load_state_dict(state["model"])
    except (TypeError, KeyError, ValueError, RuntimeError) as err:
        raise damaged(path, "autoencoder", f"weights do not fit its kwargs: {err}", RETRAIN) from None
    return model.eval(), RobustNormalizer.load(Path(folder) / NORMALIZER_FILE, rebuild=RETRAIN)
