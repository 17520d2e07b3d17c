"""`recommend.py --budget K`: the ranker shortlists its top K, the estimator (LogME by default) scores each of
them on the new dataset from that model's frozen features, and the benchmark's fusion combines both
(metrics/fusion.py; a from the benchmark's fusion.json, fitted on validation families).

The estimator sees the dataset's class-balanced sample the tokens come from ([dataset_tokens] per_class and
seed), as in the benchmark; each shortlisted model is loaded from the source its vector index records.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from estimators import ESTIMATOR_REGISTRY
from extractors.store import INDEX
from features.handle import ModelHandle
from features.images import load_split, preprocess
from features.refs import Ref
from metrics.fusion import fused_scores
from utils import log
from utils.device import pick_device
from utils.errors import ZooRankError
from utils.index import read_index

logger = log.get_logger(__name__)
DEFAULT_A = 0.5


def check_budget(value: Any) -> int:
    """--budget as a number of models >= 0 (0: the ranker alone); anything else is one clear line."""
    try:
        k = int(str(value).strip())
    except ValueError:
        k = -1
    if k < 0 or str(value).strip().lstrip("+") != str(k):
        raise ZooRankError(f"--budget must be a whole number of models >= 0 (0: the ranker alone), got '{value}'")
    return k


def model_sources(vector_dirs: list[Path]) -> dict[str, Ref]:
    """id -> where its weights are, from the vector indexes of the zoo and of the added models."""
    refs: dict[str, Ref] = {}
    for folder in vector_dirs:
        if (folder / INDEX).is_file():
            for e in read_index(folder / INDEX, "models", "model vector index"):
                if e.get("id") and e.get("source"):
                    refs[e["id"]] = Ref(e["id"], str(e["source"]), str(e.get("fingerprint", "")), e.get("arch"))
    return refs


def read_fusion(path: Path, k: int) -> tuple[float, str, str]:
    """(a, estimator, where a comes from): the mean a of the benchmark's K nearest to `k` (fusion.json), else
    a = 0.5 and LogME, said once."""
    try:
        fusion = json.loads(Path(path).read_text())
        alpha = {(10**9 if key == "all" else int(key)): float(v) for key, v in fusion["alpha_mean"].items()}
        near = min(alpha, key=lambda key: (abs(key - k), key))
        label = "all" if near == 10**9 else str(near)
        return alpha[near], fusion.get("estimator", "logme"), f"{path} (K={label}, mean over its folds)"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        logger.warning("no benchmark fusion weights at %s (python benchmark.py writes them): fusing with a = %.1f",
                       path, DEFAULT_A)
        return DEFAULT_A, "logme", f"default {DEFAULT_A} (no {path})"


def estimator_scores(ids: list[str], refs: dict[str, Ref], loader_cfg: Any, tokens_cfg: Any,
                     estimator: str) -> dict[str, float | None]:
    """The estimator's score of each model on the dataset's class-balanced sample."""
    missing = [m for m in ids if m not in refs]
    if missing:
        raise ZooRankError(f"--budget: no weights source for {', '.join(missing[:3])} in the model vector indexes; "
                           "re-extract them (extract_model_vectors.py / recommend.py add-model)")
    split = load_split(str(loader_cfg.path), loader_cfg.split, loader_cfg, tokens_cfg.per_class, tokens_cfg.seed)
    if split.labels is None or len(set(np.asarray(split.labels).tolist())) < 2:
        raise ZooRankError("--budget scores the shortlist with labels: the dataset needs a label column with at "
                           "least 2 classes (or leave --budget out)")
    est = ESTIMATOR_REGISTRY.get(estimator)()
    device = pick_device("auto")
    out: dict[str, float | None] = {}
    for m in ids:
        handle = ModelHandle(refs[m], device)
        feats = handle.features(preprocess(handle.processor, split.images))
        out[m] = float(est.score(np.asarray(split.labels), features=feats, source_probs=None))
    return out


def rescore(ranked: list[tuple[str, float]], k: int, estimates: dict[str, float | None],
            a: float) -> list[tuple[str, float]]:
    """(id, final score) in the fused order: the ranker's top k re-ranked, the rest below in its order."""
    ids = [m for m, _ in ranked]
    ranker = np.array([s for _, s in ranked])
    est = np.array([np.nan if estimates.get(m) is None else estimates[m] for m in ids], dtype=np.float64)
    final = fused_scores(ranker, est, k, a)
    order = np.argsort(-final, kind="stable")
    return [(ids[i], float(final[i])) for i in order]


def apply_budget(ranked: list[tuple[str, float]], k: int, fusion_file: Path, vector_dirs: list[Path],
                 loader_cfg: Any, tokens_cfg: Any, far: bool = False) -> tuple[list[tuple[str, float]], dict[str, Any]]:
    """The fused ranking and what the result records of it (K, the estimator, a and where it came from, both
    scores per model). far (recommender/novelty.py): the estimator alone on every candidate."""
    k = min(k, len(ranked))
    a, estimator, where = read_fusion(fusion_file, k)
    estimator = ESTIMATOR_REGISTRY.canonical(estimator)
    if far:
        k, a, where = len(ranked), 0.0, "the dataset is far from every probe: the estimator alone on every candidate"
    top = [m for m, _ in ranked[:k]]
    logger.info("budget: %s on the ranker's top %d", estimator, k)
    estimates = estimator_scores(top, model_sources(vector_dirs), loader_cfg, tokens_cfg, estimator)
    info = {"k": k, "estimator": estimator, "a": a, "a_from": where, "far": far, "shortlist": top,
            "ranker_scores": dict(ranked), "estimator_scores": estimates}
    return rescore(ranked, k, estimates, a), info


def annotate(rows: list[dict[str, Any]], info: dict[str, Any]) -> None:
    """Each row's ranker score, estimator score (shortlisted models only) and whether it was shortlisted."""
    for r in rows:
        r["ranker_score"] = info["ranker_scores"][r["id"]]
        r["estimator_score"] = info["estimator_scores"].get(r["id"])
        r["shortlisted"] = r["id"] in info["estimator_scores"]
