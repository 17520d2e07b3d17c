"""The stages of a preset's world under `<artifacts_dir>/zoo/<preset>/`: datasets, models, CLIP, ground truth.

Every stage is cached: finished datasets, models and (model, dataset) pairs are kept and skipped,
so a second build is instant and an interrupted one continues.
"""
from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from config.layout import Layout, WorldLayout
from config.run import RunConfig
from config.world import WorldConfig
from dataloader.synthetic import DatasetSpec, is_complete, preset_specs, write_preset
from features.jobs import run_jobs
from features.refs import parse_datasets, parse_models
from utils import io
from utils.device import pick_device
from utils.errors import ZooRankError
from utils.log import get_logger
from zoo.archs import ARCH_REGISTRY
from zoo.ground_truth import check_names, run_ground_truth
from zoo.matrix import finish_matrix, merge_shards, shard_path, write_matrix
from zoo.population import ZooModelSpec, get_preset, zoo_specs
from zoo.pretrain import PretrainJob, pretrain, read_marker, write_index

logger = get_logger(__name__)


@dataclass(frozen=True)
class World:
    preset: str
    root: Path
    seed: int
    image_size: int

    @property
    def files(self) -> WorldLayout:
        return WorldLayout(self.root)

    @property
    def datasets_dir(self) -> Path:
        return self.files.datasets_dir

    @property
    def models_dir(self) -> Path:
        return self.files.models_dir

    @property
    def matrix(self) -> Path:
        return self.files.matrix

    def dataset_specs(self) -> list[DatasetSpec]:
        return preset_specs(get_preset(self.preset).data_preset, seed=self.seed, image_size=self.image_size)

    def source_specs(self) -> list[DatasetSpec]:
        return [s for s in self.dataset_specs() if s.role == "source"]


def world_for(world: WorldConfig, run: RunConfig, preset: str | None = None) -> World:
    preset = preset or world.preset
    get_preset(preset)  # unknown presets fail here
    return World(preset, Layout.from_run(run, preset, world).world.root, world.seed, world.image_size)


def stage_datasets(world: World, progress: bool = True, force: bool = False) -> dict[str, Any]:
    return write_preset(world.dataset_specs(), world.datasets_dir, force=force, progress=progress,
                        preset=get_preset(world.preset).data_preset, seed=world.seed)


def model_specs(world: World, architectures: tuple[str, ...] = ("all",), only: str | None = None) -> list[ZooModelSpec]:
    """The preset's zoo, restricted to `architectures` (ARCH_REGISTRY names) and model ids matching `only`."""
    specs = zoo_specs(world.preset, [s.name for s in world.source_specs()], world.seed, world.image_size)
    wanted = {ARCH_REGISTRY.get(a) for a in architectures if a.lower() != "all"}  # RegistryError if unknown
    for s in specs:
        ARCH_REGISTRY.get(s.arch)
    specs = [s for s in specs if not wanted or ARCH_REGISTRY.get(s.arch) in wanted]
    return [s for s in specs if only is None or fnmatch.fnmatch(s.id, only)]


def stage_models(world: World, zoo: Any, run: RunConfig, workers: int = 1, progress: bool = True,
                 force: bool = False, only: str | None = None) -> list[dict[str, Any]]:
    """Pretrain the missing zoo models, then write models/index.json (every finished model of the zoo)."""
    everything = model_specs(world, zoo.architectures)  # unknown architectures fail first
    chosen = {s.id for s in model_specs(world, zoo.architectures, only)}
    if only is not None and not chosen:
        raise ZooRankError(f"--only '{only}' matches no model of preset '{world.preset}'")
    hashes = {s.name: s.spec_hash() for s in world.dataset_specs()}
    missing = [s.name for s in world.source_specs() if not is_complete(world.datasets_dir / s.name, hashes[s.name])]
    if missing:
        raise ZooRankError(f"source dataset(s) {', '.join(missing)} missing in {world.datasets_dir}; "
                           f"run `python -m zoo datasets --preset {world.preset}` first")
    settings = {k: getattr(zoo, k) for k in ("batch_size", "weight_decay", "warmup_fraction", "eval_per_class")}
    digests = {s.id: s.spec_hash(hashes, settings) for s in everything}
    jobs = [PretrainJob(s, str(world.datasets_dir), str(world.models_dir), digests[s.id], settings, run.device)
            for s in everything if s.id in chosen and (force or read_marker(world.models_dir / s.id, digests[s.id]) is None)]
    world.models_dir.mkdir(parents=True, exist_ok=True)
    io.remove_stale_temps(world.models_dir)
    start = time.perf_counter()
    with tqdm(total=len(chosen), initial=len(chosen) - len(jobs), desc="model zoo", unit="model",
              disable=not progress, dynamic_ncols=True) as bar:
        for job, _ in run_jobs(pretrain, jobs, workers if pick_device(run.device).type == "cpu" else 1,
                               run.num_threads):
            bar.set_postfix_str(job.spec.id)
            bar.update()
    entries = [e for s in everything if (e := read_marker(world.models_dir / s.id, digests[s.id])) is not None]
    write_index(world.models_dir, entries, world.preset)
    accs = [e["source_accuracy"] for e in entries]
    params = [e["num_parameters"] for e in entries]
    logger.info("model zoo: %d models (%d families, %d-%d parameters; %d trained, %d cached) in %.1f s; "
                "source accuracy %.2f-%.2f -> %s", len(entries), len({e["family"] for e in entries}),
                min(params, default=0), max(params, default=0), len(jobs), len(chosen) - len(jobs),
                time.perf_counter() - start, min(accs, default=0), max(accs, default=0), world.models_dir)
    return entries


def stage_clip(world: World, cfg: Any = None) -> Path:
    """The small CLIP (zoo/clip.py) on the source datasets' (image, caption) pairs, into <root>/clip/."""
    from zoo.clip import build_clip

    start = time.perf_counter()
    sources = [world.datasets_dir / s.name for s in world.source_specs()]
    path = build_clip(sources, world.files.clip, cfg, seed=world.seed)
    logger.info("CLIP: %s in %.1f s", path, time.perf_counter() - start)
    return path


def stage_ground_truth(world: World, gt: Any, loader: Any, run: RunConfig, models: list[str] | None = None,
                       datasets: list[str] | None = None, output: Path | None = None, shard: tuple[int, int] = (0, 1),
                       workers: int = 1, progress: bool = True) -> tuple[Path, dict[str, Any] | None]:
    """Score the preset's zoo (or `models`) on its target datasets (or `datasets`).

    Writes the matrix (a shard file when sharded) and, unsharded, its spread; returns (file, spread).
    """
    check_names(gt)
    custom = bool(models or datasets)
    models = models or [str(_need(world.models_dir / "index.json", f"python -m zoo models --preset {world.preset}"))]
    datasets = datasets or [str(_need(world.datasets_dir / "index.json", f"python -m zoo datasets --preset {world.preset}"))]
    output = output or gt.output or (Layout.from_run(run).ground_truth / world.matrix.name if custom else world.matrix)
    cache_dir = gt.cache_dir or output.parent / "pairs" / gt.method
    features_dir = (gt.features_dir or output.parent / "features") if gt.keep_features else None
    model_refs, dataset_refs = parse_models(models), parse_datasets(datasets)
    if not model_refs or not dataset_refs:
        raise ZooRankError(f"ground truth needs models and datasets, got {len(model_refs)} and {len(dataset_refs)}")
    io.remove_stale_temps(output.parent, recursive=False)  # the matrix's (run_pairs cleans the cache's)
    performance, meta = run_ground_truth(model_refs, dataset_refs, gt, loader, run, cache_dir, shard, workers, progress,
                                         features_dir)
    meta["preset"] = None if custom else world.preset
    if shard[1] > 1:
        path = write_matrix(shard_path(output, *shard), performance, meta)
        logger.info("shard %d/%d written to %s; join the shards with `python -m zoo merge`", *shard, path)
        return path, None
    return output, finish_matrix(output, performance, meta, _constants(gt, meta["preset"]))


def stage_merge(world: World, gt: Any, files: list[Path] | None = None, output: Path | None = None
                ) -> tuple[Path, dict[str, Any]]:
    """Join shard files into the matrix (see stage_ground_truth for the default output)."""
    output = output or gt.output or world.matrix
    performance, meta = merge_shards(output, files)
    return output, finish_matrix(output, performance, meta, _constants(gt, meta.get("preset")))


def _constants(gt: Any, preset: str | None) -> bool:
    """Also write constants/dataset_model_performance.json? auto: for the default preset's own zoo only."""
    return gt.constants == "on" or (gt.constants == "auto" and preset == "default")


def _need(path: Path, command: str) -> Path:
    if not path.is_file():
        raise ZooRankError(f"{path} does not exist; run `{command}` first")
    return path
