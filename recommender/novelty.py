"""Is a new dataset farther from the probe collection than every dataset the ranker learned from
(metrics/novelty.py)? Then its ranking is outside the ranker's experience: recommend.py says so, and --budget K
spends the estimator on every candidate there, as the benchmark's budget:K=<K>+far rows measure.

Only rankers that hold probe datasets (probe_ranker) can tell; for the others the check is skipped. A ranker
trained with [transformer] far_fallback holds its threshold and has already ranked a far dataset by the models'
general quality (model/probe_ranker.py); for an older one the threshold is worked out from its split.json.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dataloader.dataset_tokens import DatasetTokenDataset
from metrics.novelty import far_threshold, nearest_probe_cosine
from model.probe_ranker import probe_means
from recommender.ranker import Ranker
from utils import log
from utils.errors import ZooRankError

logger = log.get_logger(__name__)


def held_probe_means(state: dict[str, Any]) -> np.ndarray | None:
    """The mean token [P, D] of each probe dataset a ranker holds; None for a ranker without probes."""
    if "probe_tokens" not in state or "probe_mask" not in state:
        return None
    return probe_means(state["probe_tokens"], state["probe_mask"]).numpy()


def far_reading(state: dict[str, Any]) -> str:
    """What a ranker with the far fallback ranks a far dataset by (model/probe_ranker.py)."""
    parts = ["the models' general quality"]
    parts += ["their weights-only ranking"] * ("companion_columns" in state)
    parts += ["what they were trained to name (their labels)"] * ("label_columns" in state)
    return "ranked by " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0])


def novelty(ranker: Ranker, tokens: np.ndarray, tokens_dir: Path) -> dict[str, Any] | None:
    """{nearest_cosine, threshold, far, fallback, ranked_by} of the dataset's tokens [T, D]; None when the ranker has no probes
    or its training datasets' tokens are not at hand (said once)."""
    means = held_probe_means(ranker.state)
    if means is None:
        return None
    if "far_threshold" in ranker.state:
        near, threshold = nearest_probe_cosine(tokens, means), float(ranker.state["far_threshold"])
        return {"nearest_cosine": near, "threshold": threshold, "far": near < threshold, "fallback": True,
                "ranked_by": far_reading(ranker.state)}
    try:
        split = json.loads((ranker.run / "split.json").read_text())
        names = split["train"]
        reader = DatasetTokenDataset(tokens_dir, ranker.data.token_split, names)
        threshold = far_threshold(nearest_probe_cosine(reader.by_name(n)["tokens"].numpy(), means) for n in names)
    except (OSError, ValueError, KeyError, TypeError, ZooRankError) as err:
        logger.warning("novelty check skipped: the ranker's training datasets' tokens are not readable (%s)", err)
        return None
    near = nearest_probe_cosine(tokens, means)
    return {"nearest_cosine": near, "threshold": threshold, "far": near < threshold, "fallback": False,
            "ranked_by": "its ranking is a guess here"}
