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
from dataclasses import dataclass, field
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
    TransformerTrainerConfig,
    WorldConfig,
)
from config.layout import Layout
from dataloader import load_dataset_from_config
from dataloader.families import read_families
from dataloader.model_table import ModelTable
from dataloader.performance import read_performance
from dataloader.probe_profiles import read_profiles
from estimators import ESTIMATOR_REGISTRY
from evaluation.budget import parse_budgets
from evaluation.budget_runs import BudgetState, finish_budgets, rank_budgets
from evaluation.caveats import caveat_warning, collect_caveats
from evaluation.estimator_scores import estimator_names, run_estimators
from evaluation.folds import Fold, FoldJob, family_folds, pretrain_folds, train_fold
from evaluation.probe_baseline import ProbeBaseline, rank_probe_baseline
from evaluation.timing import estimator_time, time_ranker, time_tokens, zoo_sizes
from evaluation.variants import Variant, resolve_all
from extractors.dataset import DATASET_EXTRACTOR_REGISTRY
from features.refs import parse_datasets, parse_models
from metrics import ranking_metrics
from metrics.trivial import TRIVIAL_REGISTRY, RankContext
from utils.device import pick_device
from utils.errors import ZooRankError
from utils.log import get_logger

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
    # the probe profiles and the sampled tasks, when the stages made them (the folds' rankers read them)
    for what, p in (("profiles", data.profiles(layout)), ("labels", data.labels(layout)), ("tasks", data.tasks_path(layout))):
        if Path(p).is_file():
            paths[what] = p
    return {k: Path(v).resolve() for k, v in paths.items()}


def benchmark_dir(cp: ConfigParser, preset: str | None = None) -> Path:
    """[benchmark] output_dir, else <artifacts_dir>/benchmark/<preset>."""
    return cp.get(BenchmarkConfig).output_dir or Layout.from_config(cp, preset).benchmark


@dataclass
class Inputs:
    """Everything the methods of one benchmark share: settings, the ground truth, the folds, the models."""

    config_path: Path
    overrides: list[str]
    cp: ConfigParser
    run: RunConfig
    bcfg: BenchmarkConfig
    data: RankingDataConfig
    tokens_cfg: DatasetTokensConfig
    loader: DatasetLoaderConfig
    preset: str
    out: Path
    paths: dict[str, Path]  # performance, index, tokens, embeddings (resolved)
    perf: dict[str, dict[str, float]]
    families: dict[str, str]
    table: ModelTable
    models: list[str]  # ranked by every method: with an embedding and a score on every dataset
    folds: list[Fold]
    dataset_refs: list[Any]
    model_refs: list[Any]
    variants: list[Variant]  # [benchmark] rankers, resolved
    probe_families: dict[str, str]  # probe dataset -> family (strict novelty); empty without probe profiles


@dataclass
class Results:
    """Per method, per test dataset: metrics, predictions and time; and the timing curves."""

    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=lambda: {"tokens_seconds": {}, "ranker_forward_seconds": {}})
    curve: dict[str, dict[int, list[float]]] = field(default_factory=dict)  # method -> zoo size -> seconds

    def add(self, method: str, kind: str, dataset: str, fold: str, true: np.ndarray, pred: np.ndarray,
            names: list[str], seconds: float | None = None, missing: int = 0) -> None:
        entry = self.methods.setdefault(method, {"kind": kind, "datasets": {}})
        entry["datasets"][dataset] = {"fold": fold, "metrics": ranking_metrics(true, pred, ks=KS),
                                      "seconds": seconds, "models": names, "true": true.tolist(),
                                      "predicted": pred.tolist(), "missing_models": missing}

    def add_time(self, method: str, size: int, seconds: float) -> None:
        self.curve.setdefault(method, {}).setdefault(size, []).append(seconds)


def load_inputs(config_path: Path, overrides: list[str], preset: str | None = None) -> Inputs:
    """Read the settings and the earlier stages' products; fail early on a missing input or a bad name."""
    cp = ConfigParser(config_path, overrides)
    run, bcfg, data = cp.get(RunConfig), cp.get(BenchmarkConfig), cp.get(RankingDataConfig)
    variants = resolve_all(bcfg.rankers)
    if (bcfg.budgets or bcfg.far_budgets) and ESTIMATOR_REGISTRY.canonical(bcfg.budget_estimator) not in estimator_names(bcfg.estimators):
        raise ZooRankError(f"[benchmark] budget_estimator '{bcfg.budget_estimator}' is not one of [benchmark] "
                           "estimators; add it there or set budgets = (empty) and far_budgets = (empty)")
    layout = Layout.from_run(run, preset, cp.get(WorldConfig))
    world = layout.world
    paths = _inputs(data, layout)
    perf = read_performance(paths["performance"])
    families = {d: f for d, f in read_families(paths["index"], list(perf)).items() if d in perf}
    table = ModelTable(paths["embeddings"])
    models = sorted(set(table.ids) & set.intersection(*(set(r) for r in perf.values())))
    dataset_refs = [r for r in parse_datasets([str(paths["index"])]) if r.id in families]
    if not world.models_index.is_file():
        raise ZooRankError(f"benchmark input {world.models_index} not found: the estimators need the world's models; "
                           f"build the world first (python -m zoo build --preset {layout.preset})")
    model_refs = [r for r in parse_models([str(world.models_index)]) if r.id in models]
    if len(model_refs) < len(models):
        raise ZooRankError(f"{len(models) - len(model_refs)} ranked models are not in {world.models_index}; "
                           "the estimators need every model's weights")
    probe_families = {}
    if "profiles" in paths:
        every = read_families(paths["index"], [])
        probe_families = {str(p): every.get(str(p), str(p)) for p in read_profiles(paths["profiles"])["probes"]}
    return Inputs(Path(config_path), list(overrides), cp, run, bcfg, data, cp.get(DatasetTokensConfig),
                  cp.get(DatasetLoaderConfig), layout.preset, benchmark_dir(cp, preset), paths, perf, families, table,
                  models, family_folds(families), dataset_refs, model_refs, variants, probe_families)


def estimator_split(inp: Inputs) -> tuple[str, int]:
    """(split, images per class) the estimators see: by default exactly the images the ranker's dataset
    tokens come from."""
    per_class = inp.tokens_cfg.per_class if inp.bcfg.images_per_class is None else inp.bcfg.images_per_class
    return inp.bcfg.estimator_split or inp.data.token_split, per_class


def score_estimators(inp: Inputs) -> dict[tuple[str, str], dict[str, Any]]:
    """Every estimator on every (model, test dataset) pair (cached per pair)."""
    start = time.perf_counter()
    split, per_class = estimator_split(inp)
    records = run_estimators(inp.model_refs, inp.dataset_refs, inp.bcfg, inp.loader, inp.run, inp.out / "pairs",
                             split, per_class, inp.tokens_cfg.seed, inp.bcfg.workers, inp.bcfg.progress)
    logger.info("estimators: %d pairs in %.1f s", len(records), time.perf_counter() - start)
    return records


def rank_trivial(inp: Inputs, fold: Fold, results: Results) -> None:
    """The trivial rankers on the fold's test datasets, from its training datasets' scores."""
    train_perf = {d: inp.perf[d] for d in fold.train}
    log_params = dict(zip(inp.table.ids, inp.table.log_params))
    for d in fold.test:
        true = np.array([inp.perf[d][m] for m in inp.models])
        for name in inp.bcfg.trivial:
            ctx = RankContext(d, inp.models, train_perf, log_params, inp.run.seed)
            results.add(TRIVIAL_REGISTRY.canonical(name), "trivial", d, fold.family, true,
                        TRIVIAL_REGISTRY.get(name)(ctx), inp.models, 0.0)


def rank_estimators(inp: Inputs, fold: Fold, records: dict[tuple[str, str], dict[str, Any]],
                    subsets: dict[int, list[int]], results: Results) -> None:
    """The estimators' scores on the fold's test datasets (models an estimator could not score are left out),
    and their time for each zoo size."""
    estimators = estimator_names(inp.bcfg.estimators)
    for d in fold.test:
        for est in estimators:
            got = [m for m in inp.models if records[(m, d)]["scores"][est] is not None]
            if len(got) >= 2:
                results.add(est, "estimator", d, fold.family, np.array([inp.perf[d][m] for m in got]),
                            np.array([records[(m, d)]["scores"][est] for m in got]), got,
                            estimator_time(records, inp.models, d, est), len(inp.models) - len(got))
            for s, idx in subsets.items():
                results.add_time(est, s, estimator_time(records, [inp.models[i] for i in idx], d, est))


def time_fold_tokens(inp: Inputs, fold: Fold, extractor: Any, results: Results) -> dict[str, Any]:
    """Tokenize the fold's first `timing_datasets` test datasets (0: all), timed: {dataset: tokens}."""
    sources = {r.id: r.source for r in inp.dataset_refs}
    tokens: dict[str, Any] = {}
    if extractor is None:  # nothing to time
        return tokens
    for d in fold.test[: inp.bcfg.timing_datasets or None]:
        ds = load_dataset_from_config(inp.loader, source=sources[d], split=inp.data.token_split)
        tokens[d], results.timing["tokens_seconds"][d] = time_tokens(ds, extractor, inp.tokens_cfg)
    return tokens


def fold_jobs(inp: Inputs) -> list[FoldJob]:
    """Every (fold, variant) ranker, with the --set values rank_fold_rankers trains it with."""
    jobs = []
    for fold in inp.folds:
        # strict novelty is validated as it is tested: no probe of the validation family either, so that early
        # stopping picks the epoch that ranks best without a resembling probe
        exclude = sorted(p for p, f in inp.probe_families.items() if f in (fold.family, fold.val_family))
        runs_dir = Layout(inp.out / "folds" / fold.family).transformer_runs  # where train_fold's runs go
        jobs += [FoldJob(inp.config_path, tuple(inp.overrides), fold, v.ranker, inp.out, tuple(inp.paths.items()),
                         inp.bcfg.ranker_epochs, v.name, tuple(v.overrides(exclude, runs_dir))) for v in inp.variants]
    return jobs


def pretrain_fold_rankers(inp: Inputs) -> None:
    """On CPU, the folds' rankers [benchmark] workers at a time (one thread each); cached ones cost a key check.
    The far companions first: the variants that read them load their fold runs."""
    workers = inp.bcfg.workers if pick_device(inp.run.device).type == "cpu" else 1
    companions = {v.companion for v in inp.variants if v.companion}
    jobs = fold_jobs(inp)
    pretrain_folds([j for j in jobs if j.run_name in companions], workers, inp.run.num_threads)
    pretrain_folds([j for j in jobs if j.run_name not in companions], workers, inp.run.num_threads)


def rank_fold_rankers(inp: Inputs, fold: Fold, tokens: dict[str, Any], subsets: dict[int, list[int]],
                      results: Results) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Train (or reuse) each ranker variant on the fold, score its test datasets, and time it on the timed ones;
    returns {variant: (test predictions, validation predictions)}."""
    out = {}
    for variant, job in zip(inp.variants, [j for j in fold_jobs(inp) if j.fold == fold]):
        ranker = variant.name
        preds, trainer = train_fold(job.config_path, list(job.overrides), fold, job.ranker, job.out_dir,
                                    dict(job.inputs), job.epochs, job.run_name, job.extra)
        out[ranker] = (preds, (trainer.results or {}).get("val", {}).get("datasets", []))
        method = f"ranker:{ranker}"
        for p in preds:
            order = {m: i for i, m in enumerate(p["models"])}
            pred = np.array([p["predicted"][order[m]] for m in inp.models])
            results.add(method, "ranker", p["dataset"], fold.family,
                        np.array([inp.perf[p["dataset"]][m] for m in inp.models]), pred, inp.models)
        time_ranker_on(inp, trainer, method, ranker, tokens, subsets, results)
    return out


def time_ranker_on(inp: Inputs, trainer: Any, method: str, ranker: str, tokens: dict[str, Any],
                   subsets: dict[int, list[int]], results: Results) -> None:
    """A ranker's time to rank: tokenizing the dataset plus its forward pass over all models and each zoo size."""
    table = trainer.model_table
    rows = [table.row[m] for m in inp.models]
    tok_seconds = results.timing["tokens_seconds"]
    for d, dataset_tokens in tokens.items():
        _, fwd = time_ranker(trainer.raw_model, dataset_tokens, table.tokens[rows], inp.bcfg.timing_repeats)
        results.timing["ranker_forward_seconds"].setdefault(ranker, {})[d] = fwd
        results.methods[method]["datasets"][d]["seconds"] = tok_seconds[d] + fwd
        for s, idx in subsets.items():
            _, fwd_s = time_ranker(trainer.raw_model, dataset_tokens, table.tokens[[rows[i] for i in idx]],
                                   inp.bcfg.timing_repeats)
            results.add_time(method, s, tok_seconds[d] + fwd_s)


def assemble(inp: Inputs, records: dict[tuple[str, str], dict[str, Any]], caveats: dict[str, Any], results: Results,
             sizes: list[int], seconds: float, budget: dict[str, Any] | None = None) -> dict[str, Any]:
    """The raw results (results.json): per method and dataset, the folds, the timings and the settings."""
    split, per_class = estimator_split(inp)
    timing = {**results.timing,
              "time_vs_models": {m: {str(s): float(np.mean(v)) for s, v in by.items()} for m, by in results.curve.items()},
              "sizes": sizes}
    return {"preset": inp.preset, "seed": inp.run.seed, "models": inp.models, "families": inp.families,
            "folds": [{"family": f.family, "val_family": f.val_family, "test": list(f.test), "val": list(f.val),
                       "train": list(f.train)} for f in inp.folds],
            "methods": results.methods, "caveats": caveats, "timing": timing, "budget": budget,
            "settings": {"benchmark": inp.cp.resolved()["benchmark"], "images_per_class": per_class,
                         "same_images_as_tokens": inp.bcfg.images_per_class is None and split == inp.data.token_split,
                         "estimator_split": split, "estimator_images": {
                d: records[(inp.models[0], d)]["n_images"] for d in inp.families}},
            "output_dir": str(inp.out), "seconds": seconds}


def run_benchmark(config_path: Path, overrides: list[str], preset: str | None = None) -> dict[str, Any]:
    """Run every method on every fold; returns the raw results (per method, per dataset, timings)."""
    inp = load_inputs(config_path, overrides, preset)
    logger.info("benchmark '%s': %d models x %d datasets, %d folds (families %s)", inp.preset, len(inp.models),
                len(inp.dataset_refs), len(inp.folds), ", ".join(f.family for f in inp.folds))
    start = time.perf_counter()
    records = score_estimators(inp)
    caveats = collect_caveats(records, estimator_names(inp.bcfg.estimators))
    if warning := caveat_warning(caveats, len(records)):
        logger.warning(warning)
    sizes = zoo_sizes(len(inp.models), inp.bcfg.timing_sizes)
    rng = np.random.default_rng(inp.run.seed)
    subsets = {s: sorted(rng.choice(len(inp.models), size=s, replace=False).tolist()) for s in sizes}
    results = Results()
    probe_base = probe_baseline(inp)
    # the CLIP is loaded for the rows whose time includes a new dataset's tokens: the rankers and the probe baseline
    timed = bool(inp.bcfg.rankers) or (probe_base is not None and inp.bcfg.probe_baseline)
    extractor = DATASET_EXTRACTOR_REGISTRY.get(inp.tokens_cfg.extractor)(inp.tokens_cfg) if timed else None
    budgets = None
    if inp.bcfg.budgets or inp.bcfg.far_budgets:
        budgets = BudgetState(parse_budgets(inp.bcfg.budgets), inp.bcfg.budget_ranker,
                              ESTIMATOR_REGISTRY.canonical(inp.bcfg.budget_estimator),
                              far_budgets=parse_budgets(inp.bcfg.far_budgets),
                              nearest=probe_base.nearest if probe_base is not None else None,
                              hidden=(lambda d: probe_base.hidden_nearest(d, inp.families[d]))
                              if probe_base is not None else None,
                              far_quantile=inp.cp.get(TransformerTrainerConfig).far_quantile)
    pretrain_fold_rankers(inp)
    for fold in inp.folds:
        rank_trivial(inp, fold, results)
        rank_estimators(inp, fold, records, subsets, results)
        tokens = time_fold_tokens(inp, fold, extractor, results)
        preds = rank_fold_rankers(inp, fold, tokens, subsets, results)
        if probe_base is not None and inp.bcfg.probe_baseline:
            rank_probe_baseline(inp, fold, probe_base, results)
        if budgets is not None:
            test, val = preds[budgets.ranker]
            rank_budgets(inp, fold, val, test, records, budgets, results)
    budget = finish_budgets(budgets, inp.out) if budgets is not None else None
    if budget is not None:
        logger.info("budgeted re-ranking: headline K = %s (validation weighted tau %s)", budget["chosen_k"],
                    ", ".join(f"K={k}: {v:.3f}" for k, v in budget["val_weighted_tau_rank_none"].items()))
    return assemble(inp, records, caveats, results, sizes, time.perf_counter() - start, budget)


def probe_baseline(inp: Inputs) -> ProbeBaseline | None:
    """The probes' accuracies and tokens, for the training-free probe ranker ([benchmark] probe_baseline) and the
    +far budget rows ([benchmark] far_budgets), when either is on and the probe profiles exist."""
    if not (inp.bcfg.probe_baseline or inp.bcfg.far_budgets):
        return None
    if "profiles" not in inp.paths:
        logger.warning("no probe profiles (%s): the probe_similarity and budget +far rows are left out; run the probes stage "
                       "(python extract_probe_profiles.py)", inp.data.profiles(Layout.from_run(inp.run, inp.preset)))
        return None
    return ProbeBaseline(inp.paths["profiles"], inp.paths["tokens"], inp.paths["index"], inp.data.token_split,
                         inp.models)
