"""Ground-truth transfer matrix (python -m zoo ground-truth / merge) on the tiny world of test_zoo.

Real models and datasets: the tiny zoo's checkpoints, its synthetic datasets, plus hand-made
folders for a bare transformers backbone and for broken inputs.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image
from test_zoo import cli, tiny_world
from transformers import AutoModel, ViTConfig

from utils.errors import ZooRankError, run_cli
from utils.shards import parse_shard
from zoo.__main__ import main
from zoo.matrix import load_matrix
from zoo.spread import matrix_spread


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Path:
    return tiny_world(tmp_path_factory.getbasetemp())


def targets(world: Path) -> list[str]:
    data = json.loads((world / "datasets" / "index.json").read_text())
    return [d["name"] for d in data["datasets"] if d["role"] == "target"]


def model_ids(world: Path) -> list[str]:
    return [m["id"] for m in json.loads((world / "models" / "index.json").read_text())["models"]]


def pair_files(world: Path) -> dict[str, int]:
    return {str(p.relative_to(world)): p.stat().st_mtime_ns for p in (world / "pairs").rglob("*.json")}


def exit_code_and_error(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: main(argv))
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(err) == 1
    return info.value.code, err[0]


# --------------------------------------------------------------------------------------- matrix
def test_matrix_has_every_pair_above_chance_mostly(world):
    performance, meta = load_matrix(world / "dataset_model_performance.json")
    assert list(performance) == targets(world) == meta["datasets"]
    assert meta["models"] == model_ids(world)
    assert meta["metric"] == "accuracy" and meta["split"] == "test" and meta["method"] == "linear_probe"
    assert meta["preset"] == "tiny" and meta["num_pairs"] == 8 * len(targets(world))
    records = [json.loads(p.read_text()) for p in (world / "pairs" / "linear_probe").rglob("*.json")]
    assert len(records) == meta["num_pairs"]
    for r in records:
        assert performance[r["dataset"]][r["model"]] == r["score"] and 0 <= r["score"] <= 1
    # 64 pairs of tiny models whose training differs in the last bits between CPUs: bounds a few
    # standard errors below what any machine gives (measured: 75% above, mean margin 0.19 +- 0.03)
    above = np.mean([r["score"] > r["chance"] for r in records])
    margin = np.mean([r["score"] - r["chance"] for r in records])
    assert above >= 0.6, f"only {above:.0%} of the pairs beat the majority class"
    assert margin >= 0.1, f"the probes beat the majority class by only {margin:.3f} on average"
    spread = json.loads((world / "dataset_model_performance.spread.json").read_text())
    assert spread == matrix_spread(performance) and spread["distinct_winners"] >= 2
    assert spread["mean_kendall_tau"] < 0.8


def test_resume_recomputes_only_the_missing_pair(world):
    before, perf_before = pair_files(world), load_matrix(world / "dataset_model_performance.json")[0]
    victim = next(k for k in sorted(before) if k.endswith(f"/{targets(world)[1]}.json"))
    (world / victim).unlink()
    assert main(cli("ground-truth", artifacts=world.parent.parent)) == 0
    after = pair_files(world)
    assert {k for k in after if after[k] != before.get(k)} == {victim}
    assert load_matrix(world / "dataset_model_performance.json")[0] == perf_before


def test_shards_merged_equal_one_run(world, tmp_path, capsys):
    models = [str(world / "models" / m) for m in model_ids(world)[:3]]
    data = [str(world / "datasets" / d) for d in targets(world)[:3]]
    args = ["--models", *models, "--datasets", *data]
    single, sharded = tmp_path / "one" / "gt.json", tmp_path / "shards" / "gt.json"
    assert main(cli("ground-truth", *args, "--output", str(single), artifacts=tmp_path)) == 0
    assert main(cli("ground-truth", *args, "--output", str(sharded), "--shard", "1/2", artifacts=tmp_path)) == 0
    code, err = exit_code_and_error(cli("merge", "--output", str(sharded), artifacts=tmp_path), capsys)
    assert code == 2 and "miss 5 pair(s)" in err  # shard 0 of 2 (pairs 0, 2, 4, 6, 8) not run yet
    # this shard's 3 models are scored by a pool of 2 worker processes (the default build's path)
    assert main(cli("ground-truth", *args, "--output", str(sharded), "--shard", "0/2", "--workers", "2",
                    artifacts=tmp_path)) == 0
    assert main(cli("merge", "--output", str(sharded), artifacts=tmp_path)) == 0
    one, meta_one = load_matrix(single)
    merged, meta_merged = load_matrix(sharded)
    assert merged == one and sum(len(v) for v in one.values()) == 9
    assert meta_merged == meta_one
    assert len(list((tmp_path / "shards" / "pairs").rglob("*.json"))) == 9


def test_parse_shard_from_arguments_and_slurm():
    assert parse_shard(None, {}) == (0, 1)
    assert parse_shard("2/5", {}) == (2, 5)
    env = {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "8"}
    assert parse_shard(None, env) == (3, 8)
    for bad in ("5/5", "x/2", "3"):
        with pytest.raises(ZooRankError, match="shard"):
            parse_shard(bad, {})


# ------------------------------------------------------------------------------ other models, methods
def test_bare_backbone_without_processor_and_finetune(world, tmp_path):
    """A hub-style backbone (no head, no image processor) works unchanged; so does --method finetune."""
    backbone = tmp_path / "tiny-vit-backbone"
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=64)
    AutoModel.from_config(config).save_pretrained(backbone)
    dataset = str(world / "datasets" / targets(world)[0])
    out = tmp_path / "gt.json"
    assert main(cli("ground-truth", "--models", str(backbone), "--datasets", dataset, "--output", str(out),
                    artifacts=tmp_path)) == 0
    assert 0 <= load_matrix(out)[0][targets(world)[0]]["tiny-vit-backbone"] <= 1
    zoo_model = str(world / "models" / model_ids(world)[0])
    ft = tmp_path / "ft.json"
    assert main(cli("ground-truth", "--method", "finetune", "--models", zoo_model, "--datasets", dataset,
                    "--output", str(ft), artifacts=tmp_path)) == 0
    perf, meta = load_matrix(ft)
    assert meta["method"] == "finetune" and 0 <= perf[targets(world)[0]][model_ids(world)[0]] <= 1
    assert (tmp_path / "pairs" / "finetune").is_dir()


# ------------------------------------------------------------------------------------ bad inputs
def single_class_dataset(path: Path) -> Path:
    feats = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["only"])})
    img = [Image.new("RGB", (32, 32), (i * 20, 0, 0)) for i in range(6)]
    split = datasets.Dataset.from_dict({"image": img, "label": [0] * 6}, features=feats)
    datasets.DatasetDict({"train": split, "test": split}).save_to_disk(str(path))
    return path


def test_bad_inputs_fail_with_one_line_and_keep_results(world, tmp_path, capsys):
    good_model = str(world / "models" / model_ids(world)[0])
    good_data = str(world / "datasets" / targets(world)[0])
    out = tmp_path / "kept.json"
    shutil.copy(world / "dataset_model_performance.json", out)
    kept = out.read_bytes()
    no_weights = tmp_path / "no-weights"
    shutil.copytree(good_model, no_weights)
    (no_weights / "model.safetensors").unlink()
    corrupt = tmp_path / "corrupt-data"
    shutil.copytree(good_data, corrupt)
    for arrow in corrupt.rglob("*.arrow"):
        arrow.write_bytes(b"not an arrow file")
    cases = {  # the good dataset comes first: the bad one must be caught before any pair is scored
        "missing-data": ([good_model], [good_data, str(tmp_path / "missing-data")]),
        "no-weights": ([good_model, str(no_weights)], [good_data]),
        "corrupt-data": ([good_model], [good_data, str(corrupt)]),
        "single-class": ([good_model], [good_data, str(single_class_dataset(tmp_path / "single-class"))]),
    }
    for name, (models, data) in cases.items():
        argv = cli("ground-truth", "--models", *models, "--datasets", *data, "--output", str(out),
                   artifacts=tmp_path)
        code, err = exit_code_and_error(argv, capsys)
        assert code == 2 and name in err, (name, err)
    assert "single class" in err
    assert out.read_bytes() == kept and not (tmp_path / "pairs").exists()
    code, err = exit_code_and_error(cli("ground-truth", "--method", "magic", artifacts=tmp_path), capsys)
    assert code == 2 and "magic" in err


def test_spread_command_and_flat_matrix_format(tmp_path, capsys):
    flat = {"_metadata": {"metric": "accuracy"}, "d1": {"a": 0.9, "b": 0.5, "c": 0.1},
            "d2": {"a": 0.2, "b": 0.6, "c": 0.8}}
    (tmp_path / "m.json").write_text(json.dumps(flat))
    perf, meta = load_matrix(tmp_path / "m.json")
    assert meta == {"metric": "accuracy"} and set(perf) == {"d1", "d2"}
    spread = matrix_spread(perf)
    assert spread["distinct_winners"] == 2 and spread["mean_kendall_tau"] == pytest.approx(-1.0)
    assert spread["per_dataset"]["d1"]["range"] == pytest.approx(0.8)
    assert main(["spread", str(tmp_path / "m.json")]) == 0
    assert "2 distinct winners" in capsys.readouterr().out
