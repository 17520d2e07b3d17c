"""Sampled training tasks: many more ranking problems than the world has datasets, each with exact
ground truth by the ground truth's own linear probe, from the frozen features it kept (features/store.py).

A task is drawn from target datasets only and names every dataset it uses, so a fold trains on a task
only when all of them are among its training datasets: no test or validation data reaches it. Kinds:
  subset    a random subset of one dataset's classes (2 up to all but one)
  fewshot   all classes of one dataset, fewer train images per class
  mixture   classes of 2-4 datasets (families may differ), each (dataset, class) its own label
Its tokens are the datasets' own CLIP tokens of the chosen classes (class means and samples), so they
cost no CLIP pass (dataloader/tasks.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from features.probe import probe_accuracy
from features.store import feature_file, load_features

KINDS = ("subset", "fewshot", "mixture")


@dataclass(frozen=True)
class Task:
    id: str
    kind: str
    parts: tuple[tuple[str, tuple[int, ...]], ...]  # (dataset, class ids) per part
    train_per_class: int  # 0: every train image of the chosen classes

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(d for d, _ in self.parts)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "train_per_class": self.train_per_class,
                "parts": [{"dataset": d, "classes": list(c)} for d, c in self.parts]}

    @classmethod
    def from_json(cls, e: dict[str, Any]) -> Task:
        return cls(e["id"], e["kind"], tuple((p["dataset"], tuple(p["classes"])) for p in e["parts"]),
                   int(e["train_per_class"]))


def sample_tasks(classes: dict[str, int], count: int, seed: int, kinds: tuple[str, ...] = KINDS,
                 fewshot: tuple[int, int] = (10, 40), max_classes: int = 12) -> list[Task]:
    """`count` tasks over datasets {name: number of classes}, seeded. Mixtures take 2-4 datasets and
    2-4 classes of each (at most `max_classes` in all)."""
    rng = np.random.default_rng(seed)
    names = sorted(classes)
    tasks = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == "mixture" and len(names) >= 2:
            picked = rng.choice(len(names), size=min(len(names), int(rng.integers(2, 5))), replace=False)
            parts = []
            for j in sorted(picked):
                k = classes[names[j]]
                take = min(k, int(rng.integers(2, 5)), max(2, max_classes // len(picked)))
                parts.append((names[j], tuple(sorted(rng.choice(k, size=take, replace=False).tolist()))))
            tasks.append(Task(f"task{i:05d}", kind, tuple(parts), 0))
            continue
        name = names[int(rng.integers(len(names)))]
        k = classes[name]
        if kind == "subset" and k > 2:
            take = int(rng.integers(2, min(k - 1, max_classes) + 1))
            chosen = tuple(sorted(rng.choice(k, size=take, replace=False).tolist()))
            tasks.append(Task(f"task{i:05d}", kind, ((name, chosen),), 0))
        else:
            tasks.append(Task(f"task{i:05d}", "fewshot", ((name, tuple(range(k))),),
                              int(rng.integers(fewshot[0], fewshot[1] + 1))))
    return tasks


def _rows(labels: np.ndarray, classes: tuple[int, ...], per_class: int, rng: np.random.Generator) -> np.ndarray:
    if per_class <= 0:  # every image of the classes, in the dataset's order (the ground truth's own fit)
        return np.flatnonzero(np.isin(labels, classes))
    out = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        out.append(rng.permutation(idx)[:per_class] if per_class > 0 else idx)
    return np.concatenate(out)


def task_score(task: Task, features: dict[str, dict[str, np.ndarray]], c: float = 1.0, max_iter: int = 100,
               seed: int = 0) -> float:
    """The linear probe's accuracy of one model on one task, from its kept features {dataset: arrays}."""
    rng = np.random.default_rng([seed, int(task.id.removeprefix("task") or 0)])
    xs, ys, xt, yt = [], [], [], []
    offset = 0
    for dataset, classes in task.parts:
        f = features[dataset]
        remap = {cl: offset + i for i, cl in enumerate(classes)}
        tr = _rows(f["train_labels"], classes, task.train_per_class, rng)
        te = _rows(f["test_labels"], classes, 0, rng)
        xs.append(f["train"][tr]), ys.append([remap[v] for v in f["train_labels"][tr]])
        xt.append(f["test"][te]), yt.append([remap[v] for v in f["test_labels"][te]])
        offset += len(classes)
    return probe_accuracy(np.concatenate(xs), np.concatenate(ys), np.concatenate(xt), np.concatenate(yt), c,
                          max_iter, seed)


def model_task_scores(model_id: str, tasks: list[Task], features_dir: Path, c: float = 1.0, max_iter: int = 100,
                      seed: int = 0) -> list[float]:
    """One model's accuracy on every task (its kept features are read once)."""
    names = sorted({d for t in tasks for d in t.datasets})
    features = {d: load_features(feature_file(features_dir, model_id, d)) for d in names}
    return [task_score(t, features, c, max_iter, seed) for t in tasks]


@dataclass(frozen=True)
class ScoreJob:
    model_id: str
    tasks: tuple[Task, ...]
    features_dir: str
    c: float
    max_iter: int
    seed: int


def _score_job(job: ScoreJob) -> list[float]:
    return model_task_scores(job.model_id, list(job.tasks), Path(job.features_dir), job.c, job.max_iter, job.seed)


def score_tasks(tasks: list[Task], models: list[str], features_dir: Path, cache_dir: Path, digest: str,
                c: float, max_iter: int, seed: int, workers: int, num_threads: int = 0,
                progress: bool = True) -> dict[str, list[float]]:
    """{model: [accuracy per task]}; each model's scores are cached in <cache_dir>/<model>.json under `digest`."""
    from tqdm import tqdm

    from features.jobs import run_jobs
    from features.pairs import _safe
    from utils.artifacts import read_json
    from utils.errors import ZooRankError
    from utils.hashing import stable_hash
    from utils.io import write_json

    out: dict[str, list[float]] = {}
    todo = []
    names = sorted({d for t in tasks for d in t.datasets})
    keys = {}
    for m in models:  # a model's scores are redone when its kept features were rewritten
        files = [feature_file(features_dir, m, d) for d in names]
        keys[m] = stable_hash([digest, [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]])
    for m in models:
        path = cache_dir / f"{_safe(m)}.json"
        try:
            rec = read_json(path, what="task scores", rebuild="they are recomputed") if path.is_file() else {}
        except ZooRankError:
            rec = {}
        if rec.get("digest") == keys[m] and len(rec.get("scores", [])) == len(tasks):
            out[m] = rec["scores"]
        else:
            todo.append(ScoreJob(m, tuple(tasks), str(features_dir), c, max_iter, seed))
    with tqdm(total=len(models), initial=len(out), desc="task ground truth", unit="model", disable=not progress,
              dynamic_ncols=True) as bar:
        for job, scores in run_jobs(_score_job, todo, workers, num_threads):
            write_json(cache_dir / f"{_safe(job.model_id)}.json", {"digest": keys[job.model_id], "scores": scores})
            out[job.model_id] = scores
            bar.update()
    return out
