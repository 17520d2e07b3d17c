"""The benchmark: learned rankers vs transferability estimators vs trivial rankers, leave-families-out.

Every family of target datasets is held out once (evaluation/folds.py). On each held-out dataset,
every method ranks the same candidate models, scored against the same ground truth: the rankers
trained on the other families, the estimators from each model's features of the dataset's train
split, the trivial rankers from the other families' scores. The autoencoder that makes the model
tokens never sees a dataset or a score (only model weights), so one autoencoder serves every fold;
the ranker, its early stopping and every score normalization see only the fold's training families.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from config import (
    BenchmarkConfig,
    ConfigParser,
    DatasetLoaderConfig,
    DatasetTokensConfig,
    RankingDataConfig,
    RunConfig,
    WorldConfig,
)
from config.layout import Layout
from dataloader import load_dataset_from_config
from dataloader.families import read_families
from dataloader.model_table import ModelTable
from dataloader.performance import read_performance
from evaluation.caveats import caveat_warning, collect_caveats
from evaluation.estimator_scores import estimator_names, run_estimators
from evaluation.folds import family_folds, train_fold
from evaluation.timing import estimator_time, time_ranker, time_tokens, zoo_sizes
from evaluation.trivial import TRIVIAL_REGISTRY, RankContext
from extractors.dataset import DATASET_EXTRACTOR_REGISTRY
from features.refs import parse_datasets, parse_models
from metrics import ranking_metrics
from utils.errors import ZooRankError
from utils.log import get_logger
from zoo.build import world_for

logger = get_logger(__name__)
KS = (1, 3)


def _inputs(data: RankingDataConfig, layout: Layout) -> dict[str, Path]:
    paths = {"performance": Path(data.performance_file), "index": data.dataset_index,
             "tokens": data.tokens_dir(layout), "embeddings": data.embeddings(layout)}
    if paths["index"] is None:
        raise ZooRankError("[ranking_data] dataset_index is not set: the benchmark needs the datasets' families")
    for what, p in paths.items():
        probe = p / "index.json" if what == "tokens" else p
        if not probe.is_file():
            raise ZooRankError(f"benchmark input {probe} not found; run the earlier stages first "
                               "(python pipeline.py, or python -m zoo build, extract_model_vectors.py, "
                               "extract_dataset_tokens.py, train.py modelautoencoder)")
    return {k: Path(v).resolve() for k, v in paths.items()}


def benchmark_dir(cp: ConfigParser, preset: str | None = None) -> Path:
    """[benchmark] output_dir, else <artifacts_dir>/benchmark/<preset>."""
    return cp.get(BenchmarkConfig).output_dir or Layout.from_config(cp, preset).benchmark


def run_benchmark(config_path: Path, overrides: list[str], preset: str | None = None) -> dict[str, Any]:
    """Run every method on every fold; returns the raw results (per method, per dataset, timings)."""
    cp = ConfigParser(config_path, overrides)
    run, bcfg, tcfg = cp.get(RunConfig), cp.get(BenchmarkConfig), cp.get(RankingDataConfig)
    world = world_for(cp.get(WorldConfig), run, preset)
    out = benchmark_dir(cp, preset)
    inputs = _inputs(tcfg, Layout.from_run(run, preset, cp.get(WorldConfig)))
    perf = read_performance(inputs["performance"])
    families = {d: f for d, f in read_families(inputs["index"], list(perf)).items() if d in perf}
    table = ModelTable(inputs["embeddings"])
    models = sorted(set(table.ids) & set.intersection(*(set(r) for r in perf.values())))
    folds = family_folds(families)
    dataset_refs = [r for r in parse_datasets([str(inputs["index"])]) if r.id in families]
    model_refs = [r for r in parse_models([str(world.files.models_index)]) if r.id in models]
    if len(model_refs) < len(models):
        raise ZooRankError(f"{len(models) - len(model_refs)} ranked models are not in {world.models_dir}/index.json; "
                           "the estimators need every model's weights")
    logger.info("benchmark '%s': %d models x %d datasets, %d folds (families %s)", world.preset, len(models),
                len(dataset_refs), len(folds), ", ".join(f.family for f in folds))
    start = time.perf_counter()
    tok_cfg = cp.get(DatasetTokensConfig)
    # by default the estimators see exactly the images the ranker's dataset tokens come from
    per_class = tok_cfg.per_class if bcfg.images_per_class is None else bcfg.images_per_class
    split = bcfg.estimator_split or tcfg.token_split
    records = run_estimators(model_refs, dataset_refs, bcfg, cp.get(DatasetLoaderConfig), run, out / "pairs",
                             split, per_class, tok_cfg.seed, bcfg.workers, bcfg.progress)
    estimators = estimator_names(bcfg.estimators)
    logger.info("estimators: %d pairs in %.1f s", len(records), time.perf_counter() - start)
    caveats = collect_caveats(records, estimators)
    if warning := caveat_warning(caveats, len(records)):
        logger.warning(warning)

    loader = cp.get(DatasetLoaderConfig)
    extractor = DATASET_EXTRACTOR_REGISTRY.get(tok_cfg.extractor)(tok_cfg) if bcfg.rankers else None
    sources = {r.id: r.source for r in dataset_refs}
    log_params = dict(zip(table.ids, table.log_params))
    methods: dict[str, dict[str, Any]] = {}

    def add(method: str, kind: str, dataset: str, fold: str, true: np.ndarray, pred: np.ndarray,
            names: list[str], seconds: float | None = None, missing: int = 0) -> None:
        entry = methods.setdefault(method, {"kind": kind, "datasets": {}})
        entry["datasets"][dataset] = {"fold": fold, "metrics": ranking_metrics(true, pred, ks=KS),
                                      "seconds": seconds, "models": names, "true": true.tolist(),
                                      "predicted": pred.tolist(), "missing_models": missing}

    timing: dict[str, Any] = {"tokens_seconds": {}, "ranker_forward_seconds": {}}
    sizes = zoo_sizes(len(models), bcfg.timing_sizes)
    rng = np.random.default_rng(run.seed)
    subsets = {s: sorted(rng.choice(len(models), size=s, replace=False).tolist()) for s in sizes}
    curve: dict[str, dict[int, list[float]]] = {}
    for fold in folds:
        train_perf = {d: perf[d] for d in fold.train}
        for d in fold.test:
            true = np.array([perf[d][m] for m in models])
            for name in bcfg.trivial:
                ctx = RankContext(d, models, train_perf, log_params, run.seed)
                add(TRIVIAL_REGISTRY.canonical(name), "trivial", d, fold.family, true,
                    TRIVIAL_REGISTRY.get(name)(ctx), models, 0.0)
            for est in estimators:
                got = [m for m in models if records[(m, d)]["scores"][est] is not None]
                if len(got) >= 2:
                    add(est, "estimator", d, fold.family, np.array([perf[d][m] for m in got]),
                        np.array([records[(m, d)]["scores"][est] for m in got]), got,
                        estimator_time(records, models, d, est), len(models) - len(got))
                for s, idx in subsets.items():
                    curve.setdefault(est, {}).setdefault(s, []).append(
                        estimator_time(records, [models[i] for i in idx], d, est))
        timed = fold.test[: bcfg.timing_datasets]
        tokens = {}
        for d in timed:
            ds = load_dataset_from_config(loader, source=sources[d], split=tcfg.token_split)
            tokens[d], timing["tokens_seconds"][d] = time_tokens(ds, extractor, tok_cfg)
        for ranker in bcfg.rankers:
            preds, trainer = train_fold(config_path, overrides, fold, ranker, out, inputs, bcfg.ranker_epochs)
            method = f"ranker:{ranker}"
            mtable = trainer._data()[0]["train"].models
            rows = [mtable.row[m] for m in models]
            for p in preds:
                order = {m: i for i, m in enumerate(p["models"])}
                pred = np.array([p["predicted"][order[m]] for m in models])
                add(method, "ranker", p["dataset"], fold.family, np.array([perf[p["dataset"]][m] for m in models]),
                    pred, models)
            for d in timed:
                _, fwd = time_ranker(trainer.raw_model, tokens[d], mtable.tokens[rows], bcfg.timing_repeats)
                timing["ranker_forward_seconds"].setdefault(ranker, {})[d] = fwd
                methods[method]["datasets"][d]["seconds"] = timing["tokens_seconds"][d] + fwd
                for s, idx in subsets.items():
                    _, fwd_s = time_ranker(trainer.raw_model, tokens[d], mtable.tokens[[rows[i] for i in idx]],
                                           bcfg.timing_repeats)
                    curve.setdefault(method, {}).setdefault(s, []).append(timing["tokens_seconds"][d] + fwd_s)
    timing["time_vs_models"] = {m: {str(s): float(np.mean(v)) for s, v in by.items()} for m, by in curve.items()}
    timing["sizes"] = sizes
    return {"preset": world.preset, "seed": run.seed, "models": models, "families": families,
            "folds": [{"family": f.family, "val_family": f.val_family, "test": list(f.test), "val": list(f.val),
                       "train": list(f.train)} for f in folds],
            "methods": methods, "caveats": caveats, "timing": timing,
            "settings": {"benchmark": cp.resolved()["benchmark"], "images_per_class": per_class,
                         "same_images_as_tokens": bcfg.images_per_class is None and split == tcfg.token_split,
                         "estimator_split": split, "estimator_images": {
                d: records[(models[0], d)]["n_images"] for d in families}},
            "output_dir": str(out), "seconds": time.perf_counter() - start}
