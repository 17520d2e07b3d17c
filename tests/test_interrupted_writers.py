"""Every writer SIGKILLed at several points, then run again: it completes with the results of an
uninterrupted run (bit-equal arrays, equal JSON up to timings and the root folder) and leaves no temp file.

Writers: model vectors, dataset tokens, ground-truth pairs, add-model, both trainers (--resume auto).
Inputs: the tiny world of test_zoo and the tiny CLIP / trainer settings of test_recommend. Each kill
point is the moment the first, a middle or the last output of the uninterrupted run appears.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT
from test_recommend import HELD_OUT, make_clip, sets
from test_zoo import tiny_world

from utils import io

ADDED = [HELD_OUT, "007-mobilenet-v2-w8d1-colors"]  # kept out of the zoo, put back by add-model
TIMINGS = re.compile(r"seconds|time|_at$|elapsed|duration")  # keys of when and how long
STAMP = re.compile(r"\d{8}_\d{6}")
TEMP = re.compile(r"^\..+\.tmp$")


@dataclass(frozen=True)
class Writer:
    argv: Callable[[dict, Path], list[str]]  # (context, artifacts folder) -> command line
    progress: Callable[[Path], int]  # outputs written so far below the artifacts folder
    copy: tuple[str, ...] = ()  # the reference artifacts' inputs each run starts from
    resume: tuple[str, ...] = ()  # extra arguments of the second run


def _count(pattern: str) -> Callable[[Path], int]:
    return lambda art: len(list(art.glob(pattern)))


def _epochs(trainer: str) -> Callable[[Path], int]:
    def epochs(art: Path) -> int:
        hist = art / "models" / trainer / "runs" / "run" / "history.json"
        try:
            return len(json.loads(hist.read_text())["epochs"])
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return 0
    return epochs


def _py(script: str, *argv: str) -> list[str]:
    return [sys.executable, str(ROOT / script), *argv]


def _sets(ctx: dict, art: Path, *extra: str) -> list[str]:
    out = sets({**ctx, "art": art}) + ["--set", f"model_autoencoder.epochs={ctx['ae_epochs']}"]
    return out + [a for p in extra for a in ("--set", p)]


def _train(name: str, section: str) -> Callable[[dict, Path], list[str]]:
    return lambda ctx, art: _py("train.py", name, *_sets(ctx, art, f"{section}.run_name=run"))


WRITERS = {
    "model_vectors": Writer(lambda ctx, art: _py("extract_model_vectors.py", "--models", str(ctx["zoo"]), *_sets(ctx, art)),
                            _count("model_vectors/vectors/*.npz")),
    "dataset_tokens": Writer(lambda ctx, art: _py("extract_dataset_tokens.py", "--datasets", str(ctx["targets"]),
                                                  *_sets(ctx, art)), _count("dataset_tokens/tokens/*.npz")),
    "ground_truth": Writer(lambda ctx, art: [sys.executable, "-m", "zoo", "ground-truth", "--workers", "1", "--preset",
                                             "tiny", "--no-progress", "--models", str(ctx["world"] / "models" / "index.json"),
                                             "--datasets", str(ctx["gt_targets"]), "--output",
                                             str(art / "gt" / "matrix.json"), "--set", f"run.artifacts_dir={art}",
                                             "--set", "world.clip=false"], _count("gt/pairs/*/*/*.json")),
    "add_model": Writer(lambda ctx, art: _py("recommend.py", "add-model", *ctx["added"], *_sets(ctx, art)),
                        _count("added_models/vectors/*.npz"), copy=("model_vectors", "models/autoencoder")),
    "modelautoencoder": Writer(_train("modelautoencoder", "model_autoencoder"), _epochs("autoencoder"),
                               copy=("model_vectors",), resume=("--resume", "auto")),
    "transformer": Writer(_train("transformer", "transformer"), _epochs("transformer"),
                          copy=("model_vectors", "dataset_tokens", "models/autoencoder"), resume=("--resume", "auto")),
}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> dict:
    """The inputs and, per writer, the artifacts of an uninterrupted run ("ref/<writer>")."""
    world = tiny_world(tmp_path_factory.getbasetemp())
    base = tmp_path_factory.mktemp("interrupted")
    out = {"world": world, "clip": make_clip(base / "clip"), "ae_epochs": 24}
    models = json.loads((world / "models" / "index.json").read_text())["models"]
    zoo = [{**m, "path": str(world / "models" / m["path"])} for m in models if m["id"] not in ADDED]
    out["added"] = [str(world / "models" / m["path"]) for m in models if m["id"] in ADDED]
    assert len(out["added"]) == len(ADDED)
    (base / "zoo.json").write_text(json.dumps({"models": zoo}))
    datasets = json.loads((world / "datasets" / "index.json").read_text())["datasets"]
    targets = [{**d, "path": str(world / "datasets" / d["path"])} for d in datasets if d["role"] == "target"]
    (base / "targets.json").write_text(json.dumps({"datasets": targets}))
    (base / "gt_targets.json").write_text(json.dumps({"datasets": targets[:2]}))  # 16 pairs are enough here
    out.update(zoo=base / "zoo.json", targets=base / "targets.json", gt_targets=base / "gt_targets.json", base=base)
    art = base / "ref"  # one artifacts folder: each writer's reference run reads the ones before it
    for name in ("model_vectors", "dataset_tokens", "modelautoencoder", "transformer", "add_model", "ground_truth"):
        _run(WRITERS[name].argv(out, art))
        out[f"count/{name}"] = WRITERS[name].progress(art)
        assert out[f"count/{name}"] > 0, name
    out["ref"] = art
    return out


def _normal(obj, roots: tuple[str, ...]):
    """JSON without timings and time stamps, with the artifacts folder named <ART>."""
    if isinstance(obj, dict):
        return {k: _normal(v, roots) for k, v in obj.items() if not TIMINGS.search(k)}
    if isinstance(obj, list):
        return [_normal(v, roots) for v in obj]
    if isinstance(obj, str):
        for root in roots:
            obj = obj.replace(root, "<ART>")
        return STAMP.sub("<STAMP>", obj)  # the best weights' file name holds when it was written
    return obj


def _load(path: Path, root: Path):
    roots = (str(root),)
    if path.suffix == ".json":
        return _normal(json.loads(path.read_text()), roots)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: (_normal(json.loads(str(data[k])), roots) if k in ("metadata", "meta") else data[k]) for k in data}
    if path.suffix == ".pt":
        state = torch.load(path, map_location="cpu", weights_only=True)
        return state.get("model", state) if isinstance(state, dict) else state
    return None


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    return a == b


# what a writer's results are: its JSON, NPZ and final weights (not logs, plots, events, last-but-one checkpoints)
RESULTS = ("*.json", "*.npz", "autoencoder.pt", "checkpoints/last.pt")


def _results(art: Path, outputs: tuple[str, ...]) -> dict[str, Path]:
    found = {}
    for folder in outputs:
        for pattern in RESULTS:
            for p in (art / folder).rglob(pattern):
                if not TEMP.match(p.name):
                    found[str(p.relative_to(art))] = p
    return found


OUTPUTS = {"model_vectors": ("model_vectors",), "dataset_tokens": ("dataset_tokens",), "ground_truth": ("gt",),
           "add_model": ("added_models",), "modelautoencoder": ("models/autoencoder",),
           "transformer": ("models/transformer",)}


def _start_and_kill(argv: list[str], progress: Callable[[Path], int], art: Path, at: int) -> subprocess.Popen:
    proc = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while progress(art) < at and proc.poll() is None:
        assert time.time() < deadline, "the writer is too slow to reach the kill point"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return proc


@pytest.mark.parametrize("point", ["first", "middle", "last"])
@pytest.mark.parametrize("name", list(WRITERS))
def test_killed_writer_completes_like_an_uninterrupted_run(ctx, tmp_path, name, point):
    writer = WRITERS[name]
    total = ctx[f"count/{name}"]
    at = {"first": 1, "middle": max(1, total // 2), "last": total}[point]
    art = tmp_path / "art"
    for folder in writer.copy:
        shutil.copytree(ctx["ref"] / folder, art / folder, ignore=shutil.ignore_patterns("events.*"))
    argv = writer.argv(ctx, art)
    killed = _start_and_kill(argv, writer.progress, art, at)
    out_dir = art / OUTPUTS[name][0]
    assert killed.returncode in (-signal.SIGKILL, 0), killed.stderr.read()[-3000:]
    if point == "first":
        assert killed.returncode == -signal.SIGKILL, "finished before the first kill point"
    # what a kill between the temp write and the rename leaves
    planted = io.temp_path(out_dir / "planted.json", killed.pid)
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text("{")
    _run(argv + list(writer.resume))
    assert not planted.exists(), "a killed writer's temp file was not removed"
    assert not [p for p in art.rglob(".*") if TEMP.match(p.name)], "temp files left"
    ref, got = _results(ctx["ref"], OUTPUTS[name]), _results(art, OUTPUTS[name])
    assert sorted(got) == sorted(ref)
    for key in ref:
        want, have = _load(ref[key], ctx["ref"]), _load(got[key], art)
        assert _same(want, have), f"{key} differs from the uninterrupted run: {have!r:.1500} != {want!r:.1500}"


def test_stale_temps_only_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    (tmp_path / "sub").mkdir()
    stale_file = io.temp_path(tmp_path / "sub" / "a.npz", dead_pid)
    stale_file.write_bytes(b"x")
    stale_dir = io.temp_path(tmp_path / "model", dead_pid)
    stale_dir.mkdir()
    (stale_dir / "weights.bin").write_bytes(b"x")
    mine = io.temp_path(tmp_path / "b.json", os.getpid())
    mine.write_text("{")
    other_host = tmp_path / f".c.json.tmp.elsewhere.{dead_pid}.tmp"
    other_host.write_text("{")
    old = tmp_path / f".d.json.tmp.elsewhere.{dead_pid}.tmp"
    old.write_text("{")
    os.utime(old, (time.time() - io.STALE_AFTER_S - 60,) * 2)
    unrelated = [tmp_path / ".hidden.tmp", tmp_path / "x.tmp", tmp_path / ".index.lock"]
    for p in unrelated:
        p.write_text("")
    assert sorted(io.remove_stale_temps(tmp_path, recursive=False)) == sorted([stale_dir, old])
    assert io.remove_stale_temps(tmp_path) == [stale_file]
    assert mine.exists() and other_host.exists() and all(p.exists() for p in unrelated)
    assert not stale_file.exists() and not stale_dir.exists() and not old.exists()
    assert io.remove_stale_temps(tmp_path / "missing") == []
    with io.atomic_open(tmp_path / "e.json", "w") as fh:  # a live writer's temp is left alone
        assert io.remove_stale_temps(tmp_path) == []
        fh.write("{}")
    assert (tmp_path / "e.json").read_text() == "{}"
