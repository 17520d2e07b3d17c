"""Hardware profiles: measuring tiny real models, importing timm's tables, lookup, constraints, Pareto, CLI."""
import json
import math
import subprocess
import sys

import pytest
from conftest import ROOT, SHARED

from extractors.specs import parse_models
from hardware import (
    Profile,
    apply_constraints,
    cpu_name,
    list_profiles,
    load_profile,
    pareto_front,
    parse_count,
    plot_pareto,
    read_profile,
    slugify,
)
from hardware.profiler import MeasureSettings, profile_models
from hardware.timm_tables import import_timm_tables
from utils.errors import ZooRankError, run_cli

TIMM = SHARED / "data" / "timm_results"
FAST = dict(batch_size=4, warmup=1, repeats=3, max_seconds=5.0)


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    """Three tiny transformers classifiers (two ResNet widths, a ViT) and their JSON index."""
    from transformers import ResNetConfig, ResNetForImageClassification, ViTConfig, ViTForImageClassification

    root = tmp_path_factory.mktemp("zoo")
    for width in (8, 32):
        config = ResNetConfig(embedding_size=width, hidden_sizes=[width, 2 * width, 4 * width], depths=[1, 1, 1],
                              layer_type="basic", num_labels=5)
        ResNetForImageClassification(config).save_pretrained(root / f"resnet-w{width}")
    vit = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, num_labels=5)
    ViTForImageClassification(vit).save_pretrained(root / "vit")
    models = [{"id": "resnet-w8", "path": "resnet-w8", "family": "resnet", "image_size": 32},
              {"id": "resnet-w32", "path": "resnet-w32", "family": "resnet", "image_size": 32},
              {"id": "vit", "path": "vit", "family": "vit"}]  # no image_size: the config's (32)
    (root / "index.json").write_text(json.dumps({"models": models}))
    return root


@pytest.fixture(scope="module")
def timm_dir(tmp_path_factory):
    if not TIMM.is_dir():
        pytest.skip(f"timm tables {TIMM} not available")
    out = tmp_path_factory.mktemp("timm_profiles")
    import_timm_tables(TIMM, out)
    return out


def run_main(argv, capsys):
    """profile_models.main through run_cli, as the command line runs it: (exit code, stdout, stderr)."""
    from profile_models import main

    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: main(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_profile_tiny_models_in_process_and_resume(tiny_zoo, tmp_path):
    specs = parse_models([str(tiny_zoo / "index.json")])
    settings = MeasureSettings(**FAST, isolate=False, num_threads=1)
    run = profile_models(specs, settings, device="cpu", output=tmp_path)
    path = tmp_path / f"{slugify(cpu_name())}.json"
    assert run.profile.path == path and path.is_file() and run.measured == ["resnet-w8", "resnet-w32", "vit"]
    prof = read_profile(path)
    assert prof.device == cpu_name() and prof.kind == "cpu" and prof.source == "measured"
    assert prof.settings["batch_size"] == 4 and prof.torch
    small, wide = prof.models["resnet-w8"], prof.models["resnet-w32"]
    assert 0 < small["gflops"] < wide["gflops"] and small["params"] < wide["params"]
    for entry in prof.models.values():
        assert entry["img_size"] == 32 and entry["batch_size"] == 4
        for key in ("latency_ms", "throughput", "gflops"):
            assert math.isfinite(entry[key]) and entry[key] > 0
        assert entry["peak_memory_mb"] is None  # CPU memory is only measured in a fresh process
    # resume: nothing re-measured, the file is not rewritten; --force re-measures what it is given
    before = path.read_bytes()
    again = profile_models(specs, settings, device="cpu", output=tmp_path)
    assert again.measured == [] and again.skipped == ["resnet-w8", "resnet-w32", "vit"]
    assert path.read_bytes() == before
    forced = profile_models(specs[:1], settings, device="cpu", output=tmp_path, force=True)
    assert forced.measured == ["resnet-w8"] and set(read_profile(path).models) == {"resnet-w8", "resnet-w32", "vit"}


def test_cli_measures_in_a_fresh_process_with_memory(tiny_zoo, tmp_path):
    cmd = [sys.executable, "profile_models.py", "--models", str(tiny_zoo / "resnet-w8"), "--output", str(tmp_path),
           "--batch-size", "2", "--set", "hardware.repeats=2", "--set", "hardware.warmup=1",
           "--set", "hardware.default_image_size=32", "--set", "run.device=cpu"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "1 measured" in proc.stdout and "resnet-w8" in proc.stdout
    entry = load_profile(tmp_path / f"{slugify(cpu_name())}.json").lookup(str(tiny_zoo / "resnet-w8"))
    assert entry["img_size"] == 32 and entry["batch_size"] == 2 and entry["memory_method"] in ("vmhwm", "ru_maxrss")
    assert 0 < entry["peak_memory_mb"] < 2048 and entry["throughput"] > 0


def test_timm_import_devices_and_numbers(timm_dir):
    names = list_profiles("*", timm_dir)
    assert names == ["i7-12700h", "i9-10940x", "rtx-pro-6000-maxq", "rtx3090", "rtx4090", "rtx5090"]
    gpu, cpu = load_profile("rtx4090", timm_dir), load_profile("i9-10940x", timm_dir)
    assert gpu.kind == "gpu" and gpu.source == "timm" and gpu.device == "NVIDIA GeForce RTX 4090"
    assert gpu.settings["files"][0]["file"] == "benchmark-infer-amp-nchw-pt291-cu128-4090.csv"  # newest, eager, amp
    assert cpu.kind == "cpu" and len(gpu) > 1000 and len(cpu) > 1000
    g, c = gpu.lookup("resnet50"), cpu.lookup("resnet50")
    assert g["throughput"] > 10 * c["throughput"] > 0
    assert g["params"] == c["params"] == 25_560_000 and g["gflops"] == pytest.approx(8.22)
    assert g["img_size"] == 224 and g["batch_size"] >= 256 and g["latency_ms"] is None  # GPU tables: batched only
    assert c["batch_size"] == 1 and 1 < c["latency_ms"] < 1000
    assert load_profile("rtx5090", timm_dir).lookup("resnet50")["throughput"] > g["throughput"]
    big = gpu.lookup("resnet50", img_size=288)
    assert big["img_size"] == 288 and big["gflops"] > g["gflops"] and big["throughput"] < g["throughput"]
    assert gpu.lookup("resnet50", img_size=999) is None


def test_tolerant_lookup(timm_dir):
    gpu = load_profile("*4090*", timm_dir)
    ref = gpu.lookup("resnet50")
    for model_id in ("timm/resnet50.a1_in1k", "resnet50.tv_in1k", "RESNET50", "hf-hub:timm/resnet50.a1_in1k"):
        assert gpu.lookup(model_id) == ref and model_id in gpu
    assert gpu.lookup("microsoft/resnet-50") is None and gpu.lookup("resnet50x") is None
    measured = Profile(name="x", device="d", kind="cpu", source="measured", models={
        "resnet50.a1_in1k": {"throughput": 1.0}, "vit_b.one": {"throughput": 2.0}, "vit_b.two": {"throughput": 3.0},
        "org/Model-A": {"throughput": 4.0}})
    assert measured.match("resnet50") == "resnet50.a1_in1k"  # the only tagged entry of that architecture
    assert measured.match("timm/resnet50.a1_in1k") == "resnet50.a1_in1k"
    assert measured.match("vit_b") is None  # two tags: ambiguous, not guessed
    assert measured.match("resnet50.other_tag") is None and measured.match("org/model-a") == "org/Model-A"


def test_load_profile_names_and_errors(timm_dir, tmp_path):
    assert load_profile("NVIDIA GeForce RTX 3090", timm_dir).name == "rtx3090"  # by device name
    assert load_profile(timm_dir / "rtx5090.json").name == "rtx5090"  # by path
    with pytest.raises(ZooRankError, match=r"did you mean 'rtx4090'.*available: i7-12700h"):
        load_profile("rtx4080", timm_dir)
    with pytest.raises(ZooRankError, match="matches 4 profiles"):
        load_profile("rtx*", timm_dir)
    bad = tmp_path / "broken.json"
    bad.write_text('{"device": "x", "models": {')
    with pytest.raises(ZooRankError, match="not valid JSON"):
        load_profile(bad)
    bad.write_text('{"models": []}')
    with pytest.raises(ZooRankError, match="malformed"):
        load_profile(bad)


def test_constraints_keep_drop_unprofiled():
    prof = Profile(name="toy", device="Toy GPU", kind="gpu", source="measured", models={
        "fast": {"latency_ms": 2.0, "throughput": 900.0, "params": 5e6, "peak_memory_mb": 100.0},
        "slow": {"latency_ms": 40.0, "throughput": 50.0, "params": 80e6, "peak_memory_mb": 900.0},
        "no_latency": {"latency_ms": None, "throughput": 500.0, "params": 1e6, "peak_memory_mb": None},
    })
    kept, dropped, unprofiled = apply_constraints(["fast", "slow", "no_latency", "ghost"], prof, max_latency_ms=10,
                                                  min_throughput=100, max_params=parse_count("25M"))
    assert kept == ["fast"]
    assert set(dropped) == {"slow"} and "latency_ms 40 ms > 10 ms" in dropped["slow"]
    assert "throughput 50 img/s < 100 img/s" in dropped["slow"] and "params 8e+07 > 2.5e+07" in dropped["slow"]
    assert unprofiled["ghost"] == "no profile for model ghost on device 'Toy GPU' (profile toy)"
    assert unprofiled["no_latency"].startswith("no latency_ms for model no_latency")
    assert apply_constraints(["fast", "ghost"], prof) == (["fast"], {}, {"ghost": unprofiled["ghost"]})
    with pytest.raises(ZooRankError):
        apply_constraints(["fast"], prof, max_memory_mb=-1)
    with pytest.raises(ZooRankError):
        parse_count("lots")
    assert parse_count("1.5B") == 1.5e9 and parse_count("3000") == 3000


def test_pareto_front_and_plot(tmp_path):
    points = [("a", 0.70, 5.0), ("b", 0.80, 10.0), ("c", 0.75, 12.0), ("d", 0.90, 30.0), ("e", 0.90, 40.0),
              ("f", 0.60, 5.0), ("g", 0.80, 10.0), ("h", None, 1.0), ("i", 0.99, None)]
    assert [p[0] for p in pareto_front(points)] == ["a", "b", "g", "d"]
    assert pareto_front({"x": (1.0, 2.0), "y": (2.0, 1.0)}) == [("y", 2.0, 1.0)]
    assert pareto_front([]) == []
    path = plot_pareto(points, tmp_path / "plots" / "pareto.png", title="toy")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_pareto([], tmp_path / "empty.png").is_file()


def test_cli_bad_inputs_exit_2(tiny_zoo, tmp_path, capsys):
    cfg = ["--set", f"hardware.profiles_dir={tmp_path}", "--set", "run.device=cpu"]
    code, _, err = run_main(["show", "nosuch", *cfg], capsys)
    assert code == 2 and err.startswith("error: unknown hardware profile 'nosuch'") and err.count("\n") == 1
    code, _, err = run_main(["import-timm", "--tables", str(tmp_path / "missing"), *cfg], capsys)
    assert code == 2 and "timm tables folder" in err and "not found" in err
    # a missing model folder fails before anything is measured; the existing profile is untouched
    existing = tmp_path / f"{slugify(cpu_name())}.json"
    existing.write_text(json.dumps({"device": cpu_name(), "kind": "cpu", "source": "measured", "models": {}}))
    before = existing.read_bytes()
    code, _, err = run_main(["--models", str(tiny_zoo / "resnet-w8"), str(tmp_path / "gone"), *cfg], capsys)
    assert code == 2 and "folder" in err and "gone" in err and "not found" in err
    assert existing.read_bytes() == before
    # a corrupt profile: one line, exit 2, the file left as it was
    existing.write_text("{corrupt")
    code, _, err = run_main(["--models", str(tiny_zoo / "resnet-w8"), *cfg], capsys)
    assert code == 2 and "not valid JSON" in err and existing.read_text() == "{corrupt"
    code, _, err = run_main(["show", str(existing), *cfg], capsys)
    assert code == 2 and "not valid JSON" in err
    code, _, err = run_main(["list", *cfg], capsys)
    assert code == 2 and "unreadable profile(s)" in err and existing.stem in err


def test_cli_import_list_show(timm_dir, tmp_path, capsys):
    if not TIMM.is_dir():
        pytest.skip("no timm tables")
    code, out, _ = run_main(["import-timm", "--tables", str(TIMM), "--output", str(tmp_path), "--devices", "rtx4090,i7*"],
                            capsys)
    assert code == 0 and list_profiles("*", tmp_path) == ["i7-12700h", "rtx4090"]
    code, out, _ = run_main(["show", "rtx4090", "--models", "timm/resnet50.a1_in1k", "nope/model",
                             "--set", f"hardware.profiles_dir={tmp_path}"], capsys)
    assert code == 0 and "timm/resnet50.a1_in1k" in out and "25.56" in out and "(not in this profile)" in out
    code, out, _ = run_main(["list", "--set", f"hardware.profiles_dir={tmp_path}"], capsys)
    assert code == 0 and "rtx4090" in out and "timm" in out
