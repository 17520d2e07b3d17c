"""What a world file (config/world_file.py) means to the scripts: its folders, the --set values that point
every stage at them, and the fingerprints of its inputs that the pipeline's stage keys hash."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config.layout import Layout
from config.ranking import WEIGHTS_ONLY
from config.world_file import WorldFile, read_world_file, split_list
from utils.errors import ConfigError
from utils.hashing import stable_hash


def world_layout(artifacts_dir: Path, wf: WorldFile) -> Layout:
    """Where the world's products go: <artifacts_dir>/worlds/<name>/ (config/layout.py)."""
    return Layout(Path(artifacts_dir)).for_world(wf.name)


def world_overrides(wf: WorldFile, layout: Layout) -> list[str]:
    """--set values that point every script at this world's inputs and folders, then the file's [settings]."""
    o, world = wf.options, layout.world
    val = split_list(o["val_families"]) or wf.families()[-1:]
    sets = [f"run.artifacts_dir={layout.artifacts_dir}", f"world.root={world.root}",
            f"dataset_tokens.clip_model={o['clip_model']}", f"dataset_tokens.clip_pretrained={o['clip_pretrained']}",
            f"dataset_tokens.clip_model_config={o['clip_model_config']}",
            f"dataset_tokens.per_class={o['token_per_class']}",
            f"ground_truth.method={o['method']}", f"ground_truth.train_per_class={o['train_per_class']}",
            f"ground_truth.test_per_class={o['test_per_class']}", f"ground_truth.output={world.matrix}",
            "ground_truth.constants=off",
            f"ranking_data.dataset_index={world.datasets_index}", f"ranking_data.performance_file={world.matrix}",
            f"ranking_data.val_families={','.join(val)}", "ranking_data.test_families=",
            f"benchmark.output_dir={layout.benchmark}"]
    if wf.probes:  # the probe collection (extract_probe_profiles.py): the world's probe datasets only
        sets.append(f"probes.datasets={world.probes_index}")
    else:  # no probe datasets, no profiles: the weights-only rankers, in training and in the benchmark
        sets += [*WEIGHTS_ONLY, "transformer.model=ranking_transformer",
                 "benchmark.rankers=ranking_transformer,custom_similarity", "benchmark.probe_baseline=false",
                 "benchmark.budgets=", "benchmark.far_budgets="]
    return sets + wf.settings


def stat_digest(source: str) -> str:
    """Cheap fingerprint of a local file or folder (names, sizes, mtimes); a hub id is itself."""
    path = Path(source)
    if not path.exists():
        return f"hub:{source}"
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return stable_hash([(str(p.relative_to(path.parent)), p.stat().st_size, p.stat().st_mtime_ns) for p in files])


def _index_digests(index: str) -> dict[str, Any]:
    """An index's entries with the fingerprints of the local models they point at."""
    try:
        data = json.loads(Path(index).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {index: stat_digest(index)}  # python -m zoo prepare names what is wrong with it
    entries = data.get("models", []) if isinstance(data, dict) else data
    out: dict[str, Any] = {index: stat_digest(index)}
    for e in entries if isinstance(entries, list) else []:
        src = str(e.get("path") or e.get("source") or e.get("id")) if isinstance(e, dict) else str(e)
        local = Path(index).parent / src
        out[src] = stat_digest(str(local) if local.exists() else src)
    return out


def input_keys(wf: WorldFile) -> dict[str, Any]:
    """Cache-key material of the world's inputs: models (and indexes), target datasets, probe datasets."""
    models: dict[str, Any] = {m["id"]: [m, stat_digest(m["path"])] for m in wf.models}
    for index in wf.model_indexes:
        models |= _index_digests(index)
    probes = {d["name"]: [d, stat_digest(d["path"])] for d in wf.probes}
    targets = {d["name"]: [d, stat_digest(d["path"])] for d in wf.targets}
    return {"models": models, "targets": targets,
            "probes": probes, "profiles": {"models": models, "probes": probes},
            "tokens": {"targets": targets, "probes": probes}}


def world_sets(world: str, artifacts_dir: Path) -> list[str]:
    """The --set values of a world by its file (my_world.ini) or by its name (after pipeline.py --world ran)."""
    path = Path(world).expanduser()
    if path.suffix == ".ini" or path.is_file():
        wf = read_world_file(path)
        return world_overrides(wf, world_layout(artifacts_dir, wf))
    record = Layout(Path(artifacts_dir)).for_world(world).world.record
    try:
        return list(json.loads(record.read_text(encoding="utf-8"))["overrides"])
    except FileNotFoundError:
        known = sorted(p.parent.parent.name for p in (Path(artifacts_dir) / "worlds").glob("*/world/world.json"))
        raise ConfigError(f"--world {world}: no world of that name under {artifacts_dir}/worlds (worlds: "
                          f"{', '.join(known) or 'none'}); run python pipeline.py --world FILE first, or pass the file") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"--world {world}: {record} is damaged; run python pipeline.py --world FILE again") from None
