"""The embedded world (python -m zoo): the tiny preset built once, its model zoo and its caching.

The build is real: synthetic datasets on disk, transformers models pretrained and saved with
save_pretrained, the linear-probe matrix; tests read them back with the libraries' own loaders.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import torch
from transformers import AutoImageProcessor, AutoModel, AutoModelForImageClassification

from utils import io
from utils.errors import RegistryError, ZooRankError, run_cli
from zoo.__main__ import main
from zoo.archs import ARCH_REGISTRY, build_config
from zoo.population import ZOO_PRESETS, zoo_specs

ROOT = Path(__file__).resolve().parent.parent
_WORLDS: dict[Path, Path] = {}
INDEX_KEYS = {"id", "path", "family", "architecture", "num_parameters", "sources", "epochs", "lr", "seed",
              "source_accuracy", "spec_hash"}


def cli(command: str, *argv: str, artifacts: Path) -> list[str]:
    """argv for zoo's main() on the tiny preset, writing below `artifacts`, no CLIP, quiet, in-process
    (a worker pool only pays off for the whole zoo: `--workers 2` in argv wins)."""
    return [command, "--workers", "1", *argv, "--preset", "tiny", "--no-progress",
            "--set", f"run.artifacts_dir={artifacts}", "--set", "world.clip=false"]


def tiny_world(base: Path) -> Path:
    """Build the tiny world once per test session (both test modules share it); returns its root."""
    if base not in _WORLDS:
        artifacts = base / "zoo_artifacts"
        assert main(cli("build", artifacts=artifacts)) == 0
        _WORLDS[base] = artifacts / "zoo" / "tiny"
    return _WORLDS[base]


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Path:
    return tiny_world(tmp_path_factory.getbasetemp())


def index(world: Path) -> dict:
    return json.loads((world / "models" / "index.json").read_text())


def mtimes(folder: Path, pattern: str) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.glob(pattern)}


# ------------------------------------------------------------------------------------------- zoo
def test_presets_are_deterministic_and_large_enough():
    sources = ["src_a", "src_b", "src_c", "src_d", "src_e", "src_f"]
    default = zoo_specs("default", sources)
    assert default == zoo_specs("default", sources)
    assert len(default) >= 48 and len({s.id for s in default}) == len(default)
    assert len({s.arch for s in default}) >= 4
    assert len({s.sources for s in default}) >= 12 and len({(s.width, s.depth) for s in default}) >= 6
    assert zoo_specs("default", sources, seed=1) != default
    tiny = zoo_specs("tiny", sources[:4])
    assert len(tiny) == 8 and len({s.arch for s in tiny}) == 4
    for preset in ZOO_PRESETS.values():
        assert all(a in ARCH_REGISTRY for a in preset.archs)


@pytest.mark.parametrize("arch", ARCH_REGISTRY.list())
def test_every_architecture_builds_a_small_classifier(arch):
    config = build_config(arch, 16, 1, 32, ["a", "b", "c"])
    model = AutoModelForImageClassification.from_config(config).eval()
    assert 5_000 < sum(p.numel() for p in model.parameters()) < 1_000_000
    assert model(pixel_values=torch.zeros(2, 3, 32, 32)).logits.shape == (2, 3)


def test_tiny_world_layout_and_index(world):
    data = json.loads((world / "datasets" / "index.json").read_text())
    roles = [d["role"] for d in data["datasets"]]
    assert roles.count("source") == 4 and roles.count("target") >= 6
    idx = index(world)
    assert idx["preset"] == "tiny" and len(idx["models"]) == 8
    assert len({m["family"] for m in idx["models"]}) == 4
    sources = {d["name"] for d in data["datasets"] if d["role"] == "source"}
    for m in idx["models"]:
        assert INDEX_KEYS <= set(m), m
        folder = world / "models" / m["path"]
        assert {"config.json", "model.safetensors", "preprocessor_config.json"} <= {p.name for p in folder.iterdir()}
        assert set(m["sources"]) <= sources and 0 <= m["source_accuracy"] <= 1
    assert len({tuple(m["sources"]) for m in idx["models"]}) >= 4  # different pretraining data


def test_zoo_models_load_with_auto_classes(world):
    test = datasets.load_from_disk(str(world / "datasets" / "tgt_shapes_clutter"))["test"]
    image = test[0]["image"]
    seen = set()
    for m in index(world)["models"]:
        if m["family"] in seen:
            continue
        seen.add(m["family"])
        path = world / "models" / m["path"]
        model = AutoModelForImageClassification.from_pretrained(path).eval()
        assert sum(p.numel() for p in model.parameters()) == m["num_parameters"]
        assert type(model).__name__ == m["architecture"]
        pixels = AutoImageProcessor.from_pretrained(path)(images=image, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            assert model(pixel_values=pixels).logits.shape == (1, m["num_labels"])
            base = AutoModel.from_pretrained(path).eval()
            assert base(pixel_values=pixels, output_hidden_states=True).hidden_states[-1].shape[0] == 1
    assert len(seen) == 4


def test_second_build_is_cached(world):
    models, pairs = mtimes(world / "models", "*/model.safetensors"), mtimes(world, "pairs/**/*.json")
    data = mtimes(world / "datasets", "*/zoorank.json")
    assert main(cli("build", artifacts=world.parent.parent)) == 0  # cached: the files below are untouched
    assert mtimes(world / "models", "*/model.safetensors") == models and len(models) == 8
    assert mtimes(world, "pairs/**/*.json") == pairs and len(pairs) >= 48
    assert mtimes(world / "datasets", "*/zoorank.json") == data


def test_interrupted_zoo_continues(world):
    """A killed build leaves a temp folder and misses a model: only that model is trained again."""
    idx = index(world)
    victim = idx["models"][2]["id"]
    before = mtimes(world / "models", "*/model.safetensors")
    stale = io.temp_path(world / "models" / victim, 999999999)  # a temp folder of a dead process
    stale.mkdir()
    (world / "models" / victim / "zoorank_model.json").unlink()  # marker gone: not finished
    assert main(cli("models", artifacts=world.parent.parent)) == 0
    after = mtimes(world / "models", "*/model.safetensors")
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {f"{victim}/model.safetensors"} and not stale.exists()
    assert [(m["id"], m["spec_hash"]) for m in index(world)["models"]] == [(m["id"], m["spec_hash"]) for m in idx["models"]]


def test_unknown_architecture_is_one_line_exit_2(tmp_path, capsys):
    argv = cli("models", "--set", "zoo.architectures=resnet,transformerzz", artifacts=tmp_path)
    with pytest.raises(RegistryError, match="unknown architecture 'transformerzz'"):
        main(argv)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: main(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown architecture 'transformerzz'")


def test_models_stage_needs_the_datasets(tmp_path):
    with pytest.raises(ZooRankError, match="python -m zoo datasets --preset tiny"):
        main(cli("models", artifacts=tmp_path))


def test_cli_subprocess_exit_code(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    argv = cli("ground-truth", "--models", str(tmp_path / "no_such_model"), "--datasets", str(tmp_path / "nope"),
               artifacts=tmp_path)
    proc = subprocess.run([sys.executable, "-m", "zoo", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: model 'no_such_model'"), lines
