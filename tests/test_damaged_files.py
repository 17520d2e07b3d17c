"""Every artifact kind x every kind of damage x every command that reads it: one `error:` line naming the
damaged file, exit code 2, no traceback, and no file of the artifacts folder changed (the damaged one
included: a reader never "repairs" or deletes what it cannot read).

The artifacts are those of test_recommend's tiny world (vectors, tokens, autoencoder, ranker), built once
for the module; each case damages one file, runs the command in this process as run_cli runs it, checks
the folder's checksums and puts the file back byte for byte (and its mtime: runs are picked by it).
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT
from test_recommend import HELD_OUT, dataset, sets
from test_recommend import setup as recommend_setup  # noqa: F401  (the module fixture this one builds on)
from test_zoo import cli

import evaluate_model_autoencoder
import recommend
from config.layout import Layout
from utils.errors import run_cli
from zoo.__main__ import main as zoo_main

Damage = Callable[[bytes], bytes]
# train.py, loaded by path: the name `train` is the package of the trainers
_spec = importlib.util.spec_from_file_location("train_script", ROOT / "train.py")
train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train)


# ---------------------------------------------------------------------------------------------- damages
def _rng_bytes(n: int) -> bytes:
    return np.random.default_rng(0).integers(0, 256, max(n, 64), dtype=np.uint8).tobytes()


BYTE_DAMAGES: dict[str, Damage] = {
    "truncated": lambda b: b[: len(b) // 2],
    "random": lambda b: _rng_bytes(len(b)),
    "zeros": lambda b: b"\0" * len(b),
    "empty": lambda b: b"",
}


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npz_damage(fn: Callable[[dict[str, np.ndarray], str], None]) -> Callable[[bytes, str], bytes]:
    def damage(raw: bytes, key: str) -> bytes:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        fn(arrays, key)
        return _npz(arrays)
    return damage


def _object_array(arrays: dict[str, np.ndarray], key: str) -> None:
    arrays[key] = np.array([{"pickled": 1}] * max(1, len(arrays[key])), dtype=object)


def _wrong_dtype(arrays: dict[str, np.ndarray], key: str) -> None:
    arrays[key] = arrays[key].astype(str)


def _wrong_shape(arrays: dict[str, np.ndarray], key: str) -> None:
    arrays[key] = arrays[key].reshape(1, -1) if arrays[key].ndim == 1 else arrays[key].ravel()


def _nan(arrays: dict[str, np.ndarray], key: str) -> None:
    arrays[key] = arrays[key].copy()
    arrays[key].flat[0] = np.nan


NPZ_DAMAGES = {
    "missing_key": _npz_damage(lambda a, k: a.pop(k)),
    "object_array": _npz_damage(_object_array),
    "wrong_dtype": _npz_damage(_wrong_dtype),
    "wrong_shape": _npz_damage(_wrong_shape),
    "nan": _npz_damage(_nan),
}


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


CKPT_DAMAGES = {
    "not_a_dict": lambda raw: _torch_bytes([torch.zeros(2)]),
    "missing_key": lambda raw: _torch_bytes({"kwargs": {}}),
}


def _gt(fn: Callable[[dict], None]) -> Damage:
    def damage(raw: bytes) -> bytes:
        data = json.loads(raw)
        fn(data)
        return json.dumps(data).replace('"__NAN__"', "NaN").encode()
    return damage


def _set_score(value) -> Callable[[dict], None]:
    def fn(data: dict) -> None:
        table = data.get("performance", data)
        row = next(r for d, r in table.items() if isinstance(r, dict) and not d.startswith("_"))
        row[next(iter(row))] = value
    return fn


JSON_DAMAGES = {
    "not_utf8": lambda raw: raw[:10] + b"\xff\xfe" + raw[12:],
    "list": lambda raw: b"[1, 2, 3]",
    "score_string": _gt(_set_score("high")),
    "score_nan": _gt(_set_score("__NAN__")),
}
INI_DAMAGES = {
    "not_utf8": lambda raw: raw.replace(b"[run]", b"[run]\n; caf\xe9", 1),
    "random": BYTE_DAMAGES["random"],
    "zeros": BYTE_DAMAGES["zeros"],
}


# ---------------------------------------------------------------------------------------------- world
@pytest.fixture(scope="module")
def world(recommend_setup):  # noqa: F811
    """test_recommend's artifacts plus the files this module damages that it does not own: a copy of the
    ground truth, a copy of config.ini, added models' embeddings and a copy of one zoo model."""
    setup = dict(recommend_setup)
    art, layout = setup["art"], Layout(setup["art"])
    shutil.copy(setup["world"] / "dataset_model_performance.json", art / "performance.json")
    shutil.copy(ROOT / "config.ini", art / "config.ini")
    layout.added_models.mkdir(parents=True, exist_ok=True)
    if not (layout.added_models / "embeddings.npz").exists():  # any valid embeddings file: it is damaged anyway
        shutil.copy(layout.embeddings, layout.added_models / "embeddings.npz")
    model = art / "model-copy"
    if not model.exists():
        shutil.copytree(setup["world"] / "models" / HELD_OUT, model)
    setup["sets"] = sets(setup) + ["--set", f"ranking_data.performance_file={art / 'performance.json'}"]
    setup["target"] = dataset(setup, setup["targets"][0])
    return setup


def files(w: dict, kind: str) -> Path:
    art, layout = w["art"], Layout(w["art"])
    return {
        "embeddings": layout.embeddings,
        "normalizer": layout.autoencoder / "normalizer.npz",
        "vector": sorted((layout.model_vectors / "vectors").glob("*.npz"))[0],
        "tokens": sorted((layout.dataset_tokens / "tokens").glob("*.npz"))[0],
        "added_embeddings": layout.added_models / "embeddings.npz",
        "autoencoder": layout.autoencoder / "autoencoder.pt",
        "ranker": max(layout.transformer_runs.glob("*/checkpoints/best.pt"), key=lambda p: p.stat().st_mtime),
        "ground_truth": art / "performance.json",
        "ini": art / "config.ini",
        "safetensors": art / "model-copy" / "model.safetensors",
    }[kind]


NPZ_KEY = {"embeddings": "embeddings", "normalizer": "median", "vector": "vector", "tokens": "tokens",
           "added_embeddings": "embeddings"}


def commands(w: dict) -> dict[str, Callable[[], int | None]]:
    s, art = w["sets"], w["art"]
    return {
        "rank": lambda: recommend.main(["--dataset", w["target"], *s]),
        "add-model": lambda: recommend.main(["add-model", str(w["world"] / "models" / HELD_OUT), *s]),
        "evaluate_model_autoencoder": lambda: evaluate_model_autoencoder.main(
            ["--out", str(art / "never-written"), *s]),
        "train_modelautoencoder": lambda: train.main(["modelautoencoder", *s]),
        "train_transformer": lambda: train.main(["transformer", *s]),
        "rank_with_config": lambda: recommend.main(["--config", str(art / "config.ini"), "--dataset", w["target"], *s]),
        "train_with_config": lambda: train.main(["transformer", "--config", str(art / "config.ini"), *s]),
        "zoo_ground_truth": lambda: zoo_main(cli("ground-truth", "--models", str(art / "model-copy"), "--datasets",
                                                 w["target"], "--output", str(art / "never-written.json"),
                                                 artifacts=art / "zoo-scratch")),
    }


READERS = {  # artifact kind -> (damages, the commands that read it)
    "embeddings": ("npz", ["rank", "add-model", "evaluate_model_autoencoder", "train_transformer"]),
    "normalizer": ("npz", ["add-model", "evaluate_model_autoencoder"]),
    "vector": ("npz", ["train_modelautoencoder", "add-model"]),
    "tokens": ("npz", ["train_transformer"]),
    "added_embeddings": ("npz", ["rank"]),
    "autoencoder": ("ckpt", ["add-model", "evaluate_model_autoencoder"]),
    "ranker": ("ckpt", ["rank"]),
    "ground_truth": ("json", ["train_transformer", "evaluate_model_autoencoder"]),
    "ini": ("ini", ["rank_with_config", "train_with_config"]),
    "safetensors": ("bytes", ["zoo_ground_truth"]),
}
DAMAGES = {
    "npz": [*BYTE_DAMAGES, *NPZ_DAMAGES],
    "ckpt": [*BYTE_DAMAGES, *CKPT_DAMAGES],
    "json": [*BYTE_DAMAGES, *JSON_DAMAGES],
    "ini": list(INI_DAMAGES),
    "bytes": list(BYTE_DAMAGES),
}
# add-model reads only the metadata of a zoo vector (to compare settings): damaged arrays are not its concern
METADATA_ONLY = {("vector", "add-model")}
CASES = [pytest.param(kind, damage, cmd, id=f"{kind}-{damage}-{cmd}")
         for kind, (family, cmds) in READERS.items() for damage in DAMAGES[family] for cmd in cmds
         if (kind, cmd) not in METADATA_ONLY or damage in BYTE_DAMAGES]


def damaged_bytes(kind: str, damage: str, raw: bytes) -> bytes:
    family = READERS[kind][0]
    if damage in BYTE_DAMAGES and family != "ini":
        return BYTE_DAMAGES[damage](raw)
    if family == "npz":
        return NPZ_DAMAGES[damage](raw, NPZ_KEY[kind])
    return {"ckpt": CKPT_DAMAGES, "json": JSON_DAMAGES, "ini": INI_DAMAGES}[family][damage](raw)


def checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".lock"}


# ---------------------------------------------------------------------------------------------- matrix
@pytest.mark.parametrize("kind, damage, cmd", CASES)
def test_damaged_file_is_one_line_exit_2_and_nothing_changes(world, kind, damage, cmd, capsys):
    path = files(world, kind)
    raw, stat = path.read_bytes(), path.stat()
    bad = damaged_bytes(kind, damage, raw)
    assert bad != raw
    try:
        path.write_bytes(bad)
        before = checksums(world["art"])
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            run_cli(commands(world)[cmd])
        err = capsys.readouterr().err
        after = checksums(world["art"])
    finally:
        path.write_bytes(raw)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "Traceback" not in err
    assert info.value.code == 2 and len(lines) == 1, err[-2000:]
    assert path.name in lines[0], lines[0]
    assert after == before, sorted(set(after.items()) ^ set(before.items()))


def test_a_damaged_file_is_named_by_a_subprocess_too(world):
    """The same promise through `python recommend.py`: what a user runs (stderr, exit code)."""
    import subprocess

    path = files(world, "embeddings")
    raw, stat = path.read_bytes(), path.stat()
    try:
        path.write_bytes(raw[:20000] if len(raw) > 20000 else raw[: len(raw) // 2])
        proc = subprocess.run([sys.executable, str(ROOT / "recommend.py"), "--dataset", world["target"],
                               *world["sets"]], cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        path.write_bytes(raw)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and str(path) in lines[0] and "python train.py modelautoencoder" in lines[0]


def test_a_damaged_pair_record_is_recomputed_with_a_warning(tmp_path, caplog):
    from features.pairs import cached_pair
    from features.refs import Ref

    record = tmp_path / "m" / "d.json"
    record.parent.mkdir()
    for bad in (b"{trunc", b"\xff\xfe", b"[1, 2]", b""):
        record.write_bytes(bad)
        with caplog.at_level("WARNING"):
            assert cached_pair(record, Ref("m", "m", "fp"), Ref("d", "d", "fp"), "digest") is None
    assert str(record) in caplog.text and "recomputed" in caplog.text


@pytest.mark.parametrize("score", ['"high"', "NaN", "Infinity", "null", "true"])
def test_a_bad_ground_truth_score_names_file_dataset_and_model(tmp_path, score):
    from dataloader.performance import read_performance
    from utils.errors import ZooRankError

    path = tmp_path / "perf.json"
    path.write_text('{"performance": {"ds_a": {"m1": 0.5, "m2": ' + score + "}}}")
    with pytest.raises(ZooRankError) as info:
        read_performance(path)
    assert all(part in str(info.value) for part in (str(path), "'ds_a'", "'m2'", "python -m zoo build"))
