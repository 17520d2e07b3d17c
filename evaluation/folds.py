"""Leave-families-out folds, and the learned rankers trained on each.

Every family of target datasets is the test set of exactly one fold; the family after it (in sorted
order) is that fold's validation set for early stopping, and the rest train the ranker. The ranker of
a fold sees neither the test family's scores nor its tokens. Each fold's ranker is a normal
`TransformerTrainer` run (history, plots, checkpoints, predictions.json) below the benchmark folder,
reused while its configuration and inputs are unchanged; a trained fold's predictions are what its
trainer's `on_fit_end` returned (`trainer.results`), the same as its predictions.json.
"""
from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import ConfigParser, RunConfig
from train.companion import companion_dir
from train.transformer_trainer import TransformerTrainer
from utils import checkpoint as ckpt
from utils.artifacts import read_json
from utils.errors import ZooRankError
from utils.hashing import files_hash, stable_hash
from utils.io import write_json
from utils.log import get_logger

logger = get_logger(__name__)


def read_marker(marker: Path) -> dict:
    """A fold's fold.json, or {} (the fold is retrained) when missing or damaged."""
    if not marker.is_file():
        return {}
    try:
        return read_json(marker, what="fold marker", rebuild="the fold is retrained")
    except ZooRankError as err:
        logger.warning("%s", err)
        return {}


@dataclass(frozen=True)
class Fold:
    family: str  # the held-out test family
    val_family: str
    test: tuple[str, ...]
    val: tuple[str, ...]
    train: tuple[str, ...]


def family_folds(families: dict[str, str]) -> list[Fold]:
    """One fold per family of `families` ({dataset: family}); needs at least 3 families."""
    names = sorted(set(families.values()))
    if len(names) < 3:
        raise ZooRankError(f"leave-families-out needs at least 3 dataset families (test, validation, train), "
                           f"got {len(names)}: {names}")
    folds = []
    for i, fam in enumerate(names):
        val = names[(i + 1) % len(names)]
        pick = lambda f: tuple(sorted(d for d, g in families.items() if g == f))  # noqa: E731
        train = tuple(sorted(d for d, g in families.items() if g not in (fam, val)))
        folds.append(Fold(fam, val, pick(fam), pick(val), train))
    return folds


def file_digest(*paths: Path) -> str:
    return files_hash(p / "index.json" if p.is_dir() else p for p in map(Path, paths))  # a folder of files: its index


def fold_parser(config_path: Path, overrides: list[str], fold: Fold, ranker: str, run_root: Path,
                inputs: dict[str, Path], epochs: int, run_name: str | None = None,
                extra: Sequence[str] = ()) -> ConfigParser:
    """The [transformer] and [ranking_data] of one fold: the ranker, where it writes (run_name, default the
    ranker's name), its held-out families, the benchmark's inputs and a variant's `extra` --set values."""
    sets = [f"run.artifacts_dir={run_root}", f"transformer.model={ranker}", f"transformer.run_name={run_name or ranker}",
            f"ranking_data.test_families={fold.family}", f"ranking_data.val_families={fold.val_family}",
            f"ranking_data.dataset_tokens_dir={inputs['tokens']}", f"ranking_data.model_embeddings={inputs['embeddings']}",
            f"ranking_data.performance_file={inputs['performance']}", f"ranking_data.dataset_index={inputs['index']}"]
    sets += [f"ranking_data.{key}={inputs[name]}" for name, key in (("profiles", "probe_profiles"),
                                                                     ("labels", "model_labels"), ("tasks", "tasks_file"))
             if name in inputs]
    if epochs > 0:
        sets.append(f"transformer.epochs={epochs}")
    return ConfigParser(config_path, list(overrides) + list(extra) + sets)


def train_fold(config_path: Path, overrides: list[str], fold: Fold, ranker: str, out_dir: Path,
               inputs: dict[str, Path], epochs: int, run_name: str | None = None, extra: Sequence[str] = (),
               ) -> tuple[list[dict[str, Any]], TransformerTrainer]:
    """Train (or reuse) the ranker of one fold (a variant: `run_name` and its `extra` --set values); returns its
    per-test-dataset predictions and the trainer (its best weights loaded) for timing; its per-validation-dataset
    predictions are `trainer.results["val"]["datasets"]` (also for a cached fold)."""
    run_name = run_name or ranker
    run_root = out_dir / "folds" / fold.family
    cp = fold_parser(config_path, overrides, fold, ranker, run_root, inputs, epochs, run_name, extra)
    run, resolved = cp.get(RunConfig), cp.resolved()
    # a far companion given as a run folder is an input (its weights); one the trainer owns follows from the config
    spec = resolved["transformer"].get("far_companion") or ""
    companion = ckpt.weights_of(Path(spec)) if spec and not companion_dir(spec, run_root)[1] else None
    key = stable_hash([resolved["transformer"], resolved["ranking_data"], run.seed, run.deterministic,
                       file_digest(*inputs.values()), file_digest(companion) if companion is not None else None])
    trainer = TransformerTrainer.from_config(cp)
    run_dir = trainer.runs_dir / run_name
    marker = run_dir / "fold.json"
    cached = read_marker(marker)
    if cached.get("key") == key and "val_predictions" in cached:
        trainer.raw_model = trainer.build_model()
        try:
            trainer.load_best(run_dir / "checkpoints" / ckpt.BEST)
        except (ZooRankError, RuntimeError) as err:
            # the key covers the configuration and the inputs, not the code: weights written by a model of another
            # shape, or a damaged file, make the cache stale rather than the benchmark fail
            logger.info("fold %s / %s: cached ranker does not load (%s); training it again", fold.family, run_name,
                        str(err).splitlines()[0][:160])
        else:
            trainer.results = {"test": {"datasets": cached["predictions"]},
                               "val": {"datasets": cached["val_predictions"]}}
            logger.info("fold %s / %s: cached ranker in %s", fold.family, run_name, run_dir)
            return cached["predictions"], trainer
    if run_dir.exists():  # another configuration or other inputs: start over
        shutil.rmtree(run_dir)
    trainer.fit()
    preds = trainer.results["test"]["datasets"]
    val = trainer.results.get("val", {}).get("datasets", [])
    write_json(marker, {"key": key, "fold": fold.family, "ranker": ranker, "run_name": run_name, "predictions": preds,
                        "val_predictions": val})
    return preds, trainer


@dataclass(frozen=True)
class FoldJob:
    """One (fold, variant) ranker to train: train_fold's arguments, picklable for a worker process."""
    config_path: Path
    overrides: tuple[str, ...]
    fold: Fold
    ranker: str
    out_dir: Path
    inputs: tuple[tuple[str, Path], ...]
    epochs: int
    run_name: str
    extra: tuple[str, ...]


def _train_job(job: FoldJob) -> None:
    # a worker's epoch bars would interleave with the other's: pretrain_folds' bar counts the rankers instead
    # (the bars write to sys.stderr as it is when they start; the log handlers keep the real stream)
    with contextlib.redirect_stderr(io.StringIO()):
            train_fold(job.config_path, list(job.overrides), job.fold, job.ranker, job.out_dir, dict(job.inputs),
                   job.epochs, job.run_name, job.extra)


def pretrain_folds(jobs: Sequence[FoldJob], workers: int, num_threads: int = 0) -> None:
    """Train the folds' rankers `workers` at a time, each in a single-threaded process, so that the benchmark's
    sequential pass finds every one cached (train_fold's fold.json). The rankers are small: two one-thread
    processes on two cores train about twice as fast as one process with two threads."""
    from tqdm import tqdm

    from features.jobs import run_jobs

    if workers <= 1 or len(jobs) <= 1:
        return
    with tqdm(total=len(jobs), desc="fold rankers", unit="ranker", dynamic_ncols=True) as bar:
        for _ in run_jobs(_train_job, jobs, workers, num_threads):
            bar.update()
