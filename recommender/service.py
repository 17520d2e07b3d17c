"""`python recommend.py --dataset ...`: tokenize the dataset, score every candidate with the trained ranker,
apply the device limits, and collect what the table, the JSON and the CSV show.

Every candidate is scored in one pass (the ranker's scores are relative to the candidate set, as in
training, where each item held a dataset's full candidate list); the limits filter afterwards.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from config import DatasetLoaderConfig, DatasetTokensConfig
from config.layout import Layout
from hardware import Profile, load_profile, plot_pareto, slugify
from hardware.pareto import pareto_front
from recommender.budget import annotate, apply_budget
from recommender.candidates import Candidates, load_candidates
from recommender.constraints import (
    Limits,
    apply_limits,
    hardware_entry,
    missing_note,
    pareto_axis,
    pareto_value,
)
from recommender.dataset import tokenize_dataset, training_token_settings
from recommender.novelty import novelty
from recommender.ranker import Ranker, find_run
from utils import log
from utils.errors import ZooRankError

logger = log.get_logger(__name__)


@dataclasses.dataclass
class Settings:
    artifacts_dir: Path
    added_dir: Path  # models registered with add-model
    zoo_vectors: Path  # the zoo's extract_model_vectors.py folder (exact parameter counts)
    ranker: Path | None = None  # run folder or checkpoint; None: the newest run
    profile: str | None = None  # device profile name, device name or path
    profiles_dir: Path | None = None
    limits: Limits = dataclasses.field(default_factory=Limits)
    only_profiled: bool = False
    top_k: int = 0  # 0: all
    pareto_plot: Path | None = None  # where --pareto draws; None: no Pareto front
    budget: int = 0  # --budget K: the estimator re-scores the ranker's top K, fused (0: the ranker alone)
    fusion_file: Path | None = None  # the benchmark's fusion.json (the fusion weight a); None: a = 0.5


def rank_candidates(ranker: Ranker, candidates: Candidates, tokens: np.ndarray) -> list[tuple[str, float]]:
    """(model id, score) best first; ties keep the table order."""
    scores = ranker.score(tokens, candidates.table.tokens)
    order = np.argsort(-scores, kind="stable")
    return [(candidates.table.ids[i], float(scores[i])) for i in order]


def _notes(ranker: Ranker, candidates_file: Path, tokens_dir: Path, dataset: dict[str, Any]) -> list[str]:
    notes = []
    if not dataset["labelled"]:
        notes.append(f"dataset has no labels; tokens from {dataset['sampling'].split(': ', 1)[1]}")
    if candidates_file.stat().st_mtime > ranker.checkpoint.stat().st_mtime:
        notes.append(f"the model embeddings {candidates_file} are newer than the ranker: if the autoencoder was "
                     "retrained, retrain the ranker (python train.py transformer)")
    same_clip = "set [dataset_tokens] extractor / clip_model / clip_pretrained as for the training tokens"
    fixes = {"extractor": same_clip, "extractor_fingerprint": same_clip,
             "token_mode": "--set dataset_tokens.tokens={}", "per_class": "--set dataset_tokens.per_class={}"}
    trained = training_token_settings(tokens_dir)
    if "extractor_fingerprint" in trained:  # the CLIP by content: a moved or copied CLIP is the same one
        trained.pop("extractor")
    for key, value in trained.items():
        if dataset["settings"][key] != value:  # the tokens are not made as the ranker learned them
            notes.append(f"dataset tokens made with {key} = {dataset['settings'][key]}, the ranker's training "
                         f"tokens with {value}: {fixes[key].format(value)}")
    return notes


def _pareto(rows: list[dict[str, Any]], profile: Profile, plot: Path, title: str) -> dict[str, Any]:
    metric, axis = pareto_axis(profile, [r["id"] for r in rows])
    points = [(r["id"], r["score"], pareto_value(hardware_entry(profile, r["id"]), metric)) for r in rows]
    front = pareto_front(points)
    plot_pareto(points, plot, title=title, xlabel=axis, ylabel="predicted score")
    return {"metric": metric, "axis": axis, "plot": str(plot),
            "front": [{"id": m, "score": s, metric: v} for m, s, v in front],
            "not_on_plot": [m for m, _, v in points if v is None]}


def assemble(ranked: list[tuple[str, float]], candidates: Candidates, profile: Profile | None,
             settings: Settings) -> dict[str, Any]:
    """Rows of the kept models (best first, `rank` among them, `rank_all` among every candidate),
    the dropped and the unprofiled ones with the reason, and the Pareto front when asked for."""
    ids = [m for m, _ in ranked]
    kept, dropped, unprofiled = apply_limits(ids, candidates.params, profile, settings.limits, settings.only_profiled)
    info = {m: {"id": m, "score": s, "rank_all": i + 1, "params": candidates.params[m],
                "added": m in candidates.added} for i, (m, s) in enumerate(ranked)}
    rows = []
    for rank, m in enumerate(kept, 1):
        entry = hardware_entry(profile, m) if profile is not None else None
        hw = entry or dict.fromkeys(("latency_ms", "throughput", "batch_size", "peak_memory_mb", "gflops"))
        note = missing_note(entry, settings.limits) if m in unprofiled else ""
        rows.append({"rank": rank, **info[m], **hw, "note": note})
    where = None if profile is None else {"name": profile.name, "device": profile.device, "kind": profile.kind,
                                          "source": profile.source}
    return {"device_profile": where, "constraints": settings.limits.active(), "num_candidates": len(ids),
            "added_models": list(candidates.added),
            "models": rows, "num_kept": len(rows), "dropped": [{**info[m], "reason": why} for m, why in dropped.items()],
            "unprofiled": [{"id": m, "note": missing_note(hardware_entry(profile, m), settings.limits), "reason": why}
                           for m, why in unprofiled.items()]}


def recommend(loader_cfg: DatasetLoaderConfig, tokens_cfg: DatasetTokensConfig, settings: Settings) -> dict[str, Any]:
    """The whole recommendation for one dataset split (see the module docstring)."""
    run, checkpoint = find_run(settings.ranker, settings.artifacts_dir)  # cheap checks first, the CLIP last
    logger.info("ranker: run %s (%s)", run, checkpoint.name)
    profile = load_profile(settings.profile, settings.profiles_dir) if settings.profile else None
    settings.limits.check(profile)
    if settings.pareto_plot is not None and profile is None:
        raise ZooRankError("--pareto needs a device: add --device-profile NAME (python profile_models.py list)")
    ranker = Ranker(run, checkpoint)
    candidates = load_candidates(ranker.data, settings.artifacts_dir, settings.added_dir, settings.zoo_vectors)
    tokens, dataset = tokenize_dataset(loader_cfg, tokens_cfg)
    ranked = rank_candidates(ranker, candidates, tokens)
    layout = Layout(settings.artifacts_dir)
    far = novelty(ranker, tokens, ranker.data.tokens_dir(layout))
    if far is not None and far["far"]:
        logger.warning("%s is farther from every probe dataset than any dataset the ranker learned from (nearest-probe "
                       "cosine %.3f < %.3f): %s; %s", dataset["name"], far["nearest_cosine"], far["threshold"],
                       far["ranked_by"],
                       "the budget scores every candidate with the estimator" if settings.budget
                       else "--budget K scores every candidate with the estimator")
    budget = None
    if settings.budget:
        ranked, budget = apply_budget(ranked, settings.budget, settings.fusion_file or Path("fusion.json"),
                                      [settings.zoo_vectors, settings.added_dir], loader_cfg, tokens_cfg,
                                      far=far is not None and far["far"])
    result = {"dataset": dataset, "ranker": {"run": str(run), "checkpoint": str(checkpoint)},
              **assemble(ranked, candidates, profile, settings), "budget": budget, "novelty": far}
    if budget is not None:
        annotate(result["models"] + result["dropped"], budget)
        budget.pop("ranker_scores")
    result["notes"] = _notes(ranker, ranker.data.embeddings(layout), ranker.data.tokens_dir(layout), dataset)
    result["pareto"] = None
    if settings.pareto_plot is not None and profile is not None:
        title = f"{dataset['name']} on {profile.device}"
        result["pareto"] = _pareto(result["models"], profile, settings.pareto_plot, title)
    if settings.top_k:
        result["models"] = result["models"][: settings.top_k]
    return result


def default_plot(artifacts_dir: Path, dataset: str, profile: str) -> Path:
    return Layout(artifacts_dir).recommend / f"pareto_{slugify(dataset)}_{slugify(profile)}.png"
