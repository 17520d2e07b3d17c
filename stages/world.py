"""The stages of a world the user describes (`pipeline.py --world my_world.ini`, config/world_file.py).

The preset chain with its first stage split in two: `world` (python -m zoo prepare: check the models and
datasets, write the world's indexes) and `ground_truth` (python -m zoo ground-truth on those indexes,
cached per pair). The extraction stages hang on the inputs they read, not on the world stage: a new
dataset leaves the model vectors (and so the autoencoder) alone, a new model the dataset tokens; their
scripts' own caches then compute only what is new or changed (`prepare` dropped what changed).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from config.layout import Layout
from stages import PY, STAGES, Stage, _read, _world_summary


def _prepared(p: Layout) -> str:
    s = _read(p.world.root / "summary.json") or {}
    return (f"{s.get('models', '?')} models, {s.get('targets', '?')} target datasets in {s.get('families', '?')} "
            f"families, {s.get('probes', '?')} probe datasets ({len(s.get('redo', []))} changed)")


def _tokens_argv(p: Layout) -> list[str]:
    probes = [str(p.world.probes_index)] if p.world.probes_index.is_file() else []
    return [PY, "extract_dataset_tokens.py", "--datasets", str(p.world.datasets_index), *probes]


def world_stages(world_file: Path, probes: bool = True) -> tuple[Stage, ...]:
    """STAGES for the world in `world_file`; a stage added to STAGES later runs here too, unchanged.
    `probes`: the world has probe datasets (role = probe); without, there is no probes stage."""
    f = str(world_file)
    by_name = {s.name: s for s in STAGES}
    prepare = Stage("world", ("ground_truth", "dataset_loader", "extractor"), (),
                    lambda p: [PY, "-m", "zoo", "prepare", "--world", f], _prepared, inputs="all")
    ground_truth = Stage("ground_truth", ("ground_truth", "dataset_loader"), ("world",),
                         lambda p: [PY, "-m", "zoo", "ground-truth", "--models", str(p.world.models_index),
                                    "--datasets", str(p.world.datasets_index)], _world_summary)
    bench, report = by_name["benchmark"], by_name["report"]
    own = {"vectors": replace(by_name["vectors"], after=(), inputs="models"),
           # the probe datasets' tokens too: the probe ranker and the probe baseline relate a target to them
           "tokens": replace(by_name["tokens"], after=(), inputs="tokens", argv=_tokens_argv),
           # the profiles read the models and the probe datasets ([probes] datasets: the world's probes.json)
           "probes": replace(by_name["probes"], after=(), inputs="profiles") if "probes" in by_name else None,
           # the labels read the models' configs (and the tokens' CLIP, [dataset_tokens])
           "labels": replace(by_name["labels"], after=(), inputs="models"),
           # sampled tasks are scored from the features the ground truth kept
           "tasks": replace(by_name["tasks"], after=("ground_truth",)) if "tasks" in by_name else None,
           "transformer": replace(by_name["transformer"], after=(*by_name["transformer"].after, "ground_truth")),
           "benchmark": replace(bench, after=(*bench.after, "ground_truth"),
                                argv=lambda p: [PY, "benchmark.py", "run"]),
           "report": replace(report, argv=lambda p: [PY, "benchmark.py", "report"])}
    out: list[Stage] = []
    for s in STAGES:
        out += [prepare, ground_truth] if s.name == "world" else [own.get(s.name) or s]
    if not probes:
        out = [replace(s, after=tuple(a for a in s.after if a != "probes")) for s in out if s.name != "probes"]
    return tuple(out)


WORLD_STAGE_NAMES = tuple(s.name for s in world_stages(Path("world.ini")))
