"""`python pipeline.py --world my_world.ini` on a world of the user's own, end to end, then `recommend.py --world`.

The world (tests/own_world.py) is made with the real libraries, as a user would: five tiny transformers
models of four architecture families (ResNet, ViT, ConvNeXt, MobileNetV2) and one timm network, each
trained briefly on its own data; six target datasets in three families (five save_to_disk folders, one
ImageFolder tree) and a probe dataset; open_clip's CLIP class from a model config.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT
from own_world import TARGETS, build_world, save_dataset, train

from config.world_file import read_world_file
from stages.world import WORLD_STAGE_NAMES
from utils.errors import ConfigError

pytestmark = pytest.mark.slow
STAGES = list(WORLD_STAGE_NAMES)  # world, ground_truth, vectors, tokens, probes, tasks, autoencoder, ...
# small learned models, few epochs and estimators: the whole chain in about a minute on 2 cores
TINY = """model_autoencoder.hidden_dims = 64
model_autoencoder.code_dim = 16
model_autoencoder.epochs = 15
model_autoencoder.batch_size = 4
model_autoencoder.val_fraction = 0.2
model_autoencoder.warmup_steps = 2
transformer.d_model = 32
transformer.heads = 2
transformer.encoder_layers = 1
transformer.decoder_layers = 1
transformer.epochs = 4
transformer.batch_size = 4
transformer.warmup_steps = 2
ranking_data.items_per_epoch = 8
benchmark.estimators = logme, leep, nce
benchmark.ranker_epochs = 3
benchmark.timing_repeats = 1
benchmark.workers = 1
vectorizer.size = 2048
tasks.count = 20
tasks.workers = 1
probes.workers = 1
"""


def pipeline(art, world, *argv, timeout=600):
    cmd = [sys.executable, str(ROOT / "pipeline.py"), "--world", str(world), "--set", f"run.artifacts_dir={art}",
           "--set", "world.progress=false", "--set", "benchmark.progress=false", *argv]
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("[")]
    return proc, {ln.split()[1]: ln for ln in lines}


def recommend(art, *argv):
    cmd = [sys.executable, str(ROOT / "recommend.py"), *argv, "--set", f"run.artifacts_dir={art}"]
    return subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("own_world")
    world_file = build_world(root / "inputs", TINY)
    art = root / "art"
    proc, lines = pipeline(art, world_file)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return root, world_file, art, lines


def test_every_stage_runs_into_the_worlds_own_folder(world):
    root, _, art, lines = world
    assert list(lines) == STAGES and all(" done in " in ln for ln in lines.values()), lines
    assert "6 models, 6 target datasets in 3 families, 1 probe datasets" in lines["world"]
    assert "6 models x 6 datasets" in lines["ground_truth"] and "6 model vectors" in lines["vectors"]
    assert "6 models x 1 probes" in lines["probes"]  # the world's probe dataset, never a target
    assert [p.name for p in art.iterdir()] == ["worlds"]  # nothing of the world outside its folder
    own = art / "worlds" / "mine"
    matrix = json.loads((own / "world" / "dataset_model_performance.json").read_text())
    perf = matrix["performance"]
    assert sorted(perf) == sorted(TARGETS)  # the ImageFolder tree too; the probe dataset is no target
    models = {"resnet-colour", "vit-stripes", "convnext-square", "mobilenet-colour", "resnet-stripes", "timm-square"}
    assert all(set(scores) == models and all(0 <= s <= 1 for s in scores.values()) for scores in perf.values())
    # the models learned something their data share with the targets: each family has a clear best
    assert max(perf["colour-flat"].values()) > 0.6 and max(perf["stripes-fine"].values()) > 0.6
    vectors = json.loads((own / "model_vectors" / "index.json").read_text())
    assert {m["id"]: m["extractor"] for m in vectors["models"]}["timm-square"] == "state_dict"
    tokens = json.loads((own / "dataset_tokens" / "index.json").read_text())
    # the probe dataset too: the probe ranker and the probe baseline relate each target to it
    assert sorted(d["dataset"] for d in tokens["datasets"]) == sorted([*TARGETS, "checker"])
    assert all("own-clip" in d["extractor"] for d in tokens["datasets"])
    index = json.loads((own / "world" / "datasets" / "index.json").read_text())
    assert {d["name"]: d["family"] for d in index["datasets"]} == {n: t[0] for n, t in TARGETS.items()}
    assert [d["name"] for d in json.loads((own / "world" / "datasets" / "probes.json").read_text())["datasets"]] == [
        "checker"]
    report = json.loads((own / "benchmark" / "report.json").read_text())
    assert {"ranker:ranking_transformer", "logme", "leep", "nce", "random"} <= set(report["summary"])
    assert sorted(d for f in report["meta"]["folds"] for d in f["test"]) == sorted(TARGETS)
    assert (own / "benchmark" / "report.md").is_file()


def test_recommend_ranks_the_worlds_models_for_a_new_dataset(world):
    root, world_file, art, _ = world
    new = root / "inputs" / "data" / "new-stripes"
    for by in (str(world_file), "mine"):  # the file, or its name once the pipeline has run
        proc = recommend(art, "--world", by, "--dataset", str(new), "--split", "test", "--json")
        assert proc.returncode == 0, proc.stderr[-2000:]
        result = json.loads(proc.stdout)
        assert {m["id"] for m in result["models"]} == {
            "resnet-colour", "vit-stripes", "convnext-square", "mobilenet-colour", "resnet-stripes", "timm-square"}
        assert result["ranker"]["run"].startswith(str(art / "worlds" / "mine" / "models" / "transformer" / "runs"))
        assert "own-clip" in result["dataset"]["settings"]["extractor"]  # the world's CLIP made its tokens
    proc = recommend(art, "--world", "other", "--dataset", str(new))
    assert proc.returncode == 2 and "no world of that name" in proc.stderr and "mine" in proc.stderr


def test_second_run_is_cached_and_a_new_model_redoes_only_what_it_touches(world):
    root, world_file, art, _ = world
    proc, lines = pipeline(art, world_file, timeout=120)
    assert proc.returncode == 0 and all(" cached " in ln for ln in lines.values()), lines
    own = art / "worlds" / "mine"
    before = {p: p.stat().st_mtime_ns for p in [*(own / "model_vectors" / "vectors").glob("*.npz"),
                                                 *(own / "world" / "pairs").rglob("*.json"),
                                                 *(own / "dataset_tokens" / "tokens").glob("*.npz")]}
    import transformers as tf

    model = tf.AutoModelForImageClassification.from_config(
        tf.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_labels=4))
    train(model, "square", 1, seed=11)
    model.save_pretrained(root / "inputs" / "models" / "resnet-square")
    text = world_file.read_text().replace("[settings]", "[model resnet-square]\nsource = ./models/resnet-square\n\n"
                                                      "[settings]")
    world_file.write_text(text)
    proc, lines = pipeline(art, world_file)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [s for s, ln in lines.items() if " done in " in ln] == [s for s in STAGES if s != "tokens"], lines
    assert "7 models, 6 target datasets" in lines["world"] and "7 models x 6 datasets" in lines["ground_truth"]
    # every earlier vector, ground-truth pair and token set is the same file, untouched
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    assert len(list((own / "model_vectors" / "vectors").glob("*.npz"))) == 7
    assert len(list((own / "world" / "pairs" / "linear_probe" / "resnet-square").glob("*.json"))) == 6


def bad_world(root, good, name, change):
    path = root / f"{name}.ini"
    path.write_text(change(good.read_text()))
    return path


def test_bad_world_file_is_one_line_exit_2_and_keeps_the_finished_stages(world, tmp_path):
    root, world_file, art, _ = world
    state_file = art / "worlds" / "mine" / "pipeline" / "mine" / "state.json"
    state = state_file.read_text()
    inputs = root / "inputs"
    broken = inputs / "models" / "broken"  # a config transformers cannot read, with real weights
    shutil.copytree(inputs / "models" / "resnet-colour", broken)
    (broken / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    one = save_dataset(inputs / "data" / "one-class", "colour", 0, 3)
    import datasets

    data = datasets.load_from_disk(str(one))
    datasets.DatasetDict({s: data[s].filter(lambda e: e["label"] == 0) for s in data}).save_to_disk(
        str(inputs / "data" / "one-class-only"))
    cases = {
        "unknown key": (lambda t: t.replace("token_per_class", "tokens_per_class"),
                        "[world]: unknown key 'tokens_per_class'; did you mean 'token_per_class'?"),
        "model that cannot be loaded": (lambda t: t + "\n[model broken]\nsource = ./models/broken\n",
                                        "model 'broken' cannot be loaded"),
        "dataset with one class": (lambda t: t + "\n[dataset one]\nsource = ./data/one-class-only\nfamily = colour\n",
                                   "has a single class; it needs at least two; fix or remove [dataset one]"),
    }
    for case, (change, needle) in cases.items():
        path = bad_world(inputs, world_file, case.replace(" ", "_"), change)
        proc, _ = pipeline(art, path, timeout=180)
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert proc.returncode == 2 and len(errors) == 1 and needle in errors[0], (case, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, case
        assert state_file.read_text() == state, f"{case}: the finished stages' state changed"
    proc, lines = pipeline(art, world_file, timeout=120)  # the world as it was: nothing to redo
    assert proc.returncode == 0 and all(" cached " in ln for ln in lines.values()), lines


def small_world_text() -> str:
    """A world file of one model and the six targets, no probe dataset (nothing is read but the file)."""
    good = ("[world]\nname = w\nclip_model = own-clip\nclip_pretrained = ./clip\n\n[model vit-stripes]\n"
            "source = ./models/vit-stripes\n\n")
    for name, (task, _, _) in TARGETS.items():
        good += f"[dataset {name}]\nsource = ./data/{name}\nfamily = {task}\n\n"
    return good


def test_a_world_without_probe_datasets_trains_and_benchmarks_the_weights_only_rankers(tmp_path):
    """No probe datasets, no profiles: the world's settings switch the default probe ranker to the weights-only
    one (and the benchmark to the weights-only rows); with a probe dataset the defaults stay."""
    from config import BenchmarkConfig, ConfigParser, RankingDataConfig, TransformerTrainerConfig
    from config.world_plan import world_layout, world_overrides

    def resolved(text):
        (tmp_path / "w.ini").write_text(text)
        wf = read_world_file(tmp_path / "w.ini")
        cp = ConfigParser(ROOT / "config.ini", world_overrides(wf, world_layout(tmp_path / "art", wf)))
        return cp.get(TransformerTrainerConfig), cp.get(RankingDataConfig), cp.get(BenchmarkConfig)

    ranker, data, bench = resolved(small_world_text())
    assert ranker.model == "ranking_transformer" and "probe" not in data.model_token_parts and not data.tasks
    assert set(bench.rankers) == {"ranking_transformer", "custom_similarity"} and not bench.budgets
    ranker, data, bench = resolved(small_world_text() + "[dataset checker]\nsource = ./data/checker\nrole = probe\n")
    assert ranker.model == "probe_ranker" and "probe" in data.model_token_parts and data.tasks
    assert "probe_ranker" in bench.rankers and bench.budgets


@pytest.mark.parametrize("change, needle", [
    (lambda t: t.replace("[dataset stripes-wide]\nsource = ./data/stripes-wide\nfamily = stripes\n", ""),
     "family 'stripes' has a single dataset ('stripes-fine')"),
    (lambda t: t.replace("family = square\n", "", 1), "[dataset square-bright]: missing 'family'"),
    (lambda t: t.replace("clip_model = own-clip\n", ""), "[world]: missing 'clip_model'"),
    (lambda t: t + "\n[model vit-stripes]\nsource = ./models/vit-stripes\n", "[model vit-stripes] is listed twice"),
    (lambda t: t + "\n[dataset a]\nsource = x\nrole = source\n", "role 'source' is not one of target, probe"),
    (lambda t: t + "\n[modle x]\nsource = y\n", "unknown section [modle x]"),
    (lambda t: t.replace("family = colour", "family = colour\nfamilly = colour", 1), "unknown key 'familly'"),
])
def test_world_file_checks_name_the_item(change, needle, tmp_path):
    good = small_world_text()
    (tmp_path / "good.ini").write_text(good)
    assert len(read_world_file(tmp_path / "good.ini").targets) == 6
    path = tmp_path / "bad.ini"
    path.write_text(change(good))
    with pytest.raises(ConfigError, match=None) as err:
        read_world_file(path)
    assert needle in str(err.value), str(err.value)
