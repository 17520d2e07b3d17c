"""Probe profiles, kept ground-truth features, sampled tasks and the probe-reading ranker, on the tiny
world (real tiny transformers models, real datasets on disk) and on arrays."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT
from test_zoo import tiny_world

from dataloader.probe_profiles import ProbeProfiles, read_profiles
from dataloader.tasks import task_tokens, usable
from features.profiles import STATS, profile_stats
from features.store import feature_file, load_features
from features.tasks import Task, sample_tasks, task_score
from metrics.probe_similarity import probe_similarity_scores
from model.probe_ranker import ProbeRanker
from utils.errors import ZooRankError


def script(name, *argv, art):
    cmd = [sys.executable, str(ROOT / name), "--set", f"run.artifacts_dir={art}", "--set", "world.preset=tiny",
           *argv]
    return subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def profiles(world, tmp_path_factory):
    art = tmp_path_factory.mktemp("probes")
    proc = script("extract_probe_profiles.py", "--models", str(world / "models" / "index.json"), "--set",
                  f"world.root={world}", "--set", "probes.train_per_class=12", "--set", "probes.test_per_class=10",
                  "--set", "probes.workers=1", "--set", "probes.progress=false", art=art)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return art, world, proc


def test_profile_stats_tell_informative_features_from_noise():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 30)
    good = rng.normal(size=(120, 16)) + 3 * np.eye(4, 16)[y]
    noise = rng.normal(size=(120, 16))
    a, b = profile_stats(good[::2], y[::2], good[1::2], y[1::2]), profile_stats(noise[::2], y[::2], noise[1::2], y[1::2])
    assert set(a) == set(STATS)
    assert a["accuracy"] > 0.9 > 0.5 > b["accuracy"]
    assert a["centroid_accuracy"] > b["centroid_accuracy"] + 0.3 and a["logme"] > b["logme"]
    assert 0 < b["effective_rank"] <= 1 and a["effective_rank"] < b["effective_rank"]  # 4 strong directions


def test_profiles_cover_every_model_on_every_source_and_are_cached(profiles):
    art, world, proc = profiles
    data = read_profiles(art / "probe_profiles" / "profiles.npz")
    models = json.loads((world / "models" / "index.json").read_text())["models"]
    entries = json.loads((world / "datasets" / "index.json").read_text())["datasets"]
    probes = [d["name"] for d in entries if d["role"] in ("source", "probe")]  # the sources and the probe datasets
    sources = [d["name"] for d in entries if d["role"] == "source"]
    assert sorted(data["ids"]) == sorted(m["id"] for m in models)
    assert list(data["probes"]) == probes and list(data["stats"]) == list(STATS)
    assert len(probes) > len(sources) and data["profiles"].shape == (len(models), len(probes), len(STATS))
    acc = data["profiles"][..., 0]
    assert ((0 <= acc) & (acc <= 1)).all() and acc.std() > 0.02  # models differ
    # a model pretrained on a source probes it better than the models that never saw it
    # (pooled over the sources: the tiny world's briefly trained models are too noisy source by source)
    gaps = []
    for src in sources:
        j = probes.index(src)
        seen = [i for i, m in enumerate(data["ids"]) if src in next(e for e in models if e["id"] == m)["sources"]]
        if seen and len(seen) < len(models):
            gaps.append(acc[seen, j].mean() - np.delete(acc[:, j], seen).mean())
    assert gaps and np.mean(gaps) > 0, gaps
    pairs = sorted((art / "probe_profiles" / "pairs").rglob("*.json"))
    before = {p: p.stat().st_mtime_ns for p in pairs}
    again = script("extract_probe_profiles.py", "--models", str(world / "models" / "index.json"), "--set",
                   f"world.root={world}", "--set", "probes.train_per_class=12", "--set", "probes.test_per_class=10",
                   "--set", "probes.progress=false", art=art)
    assert again.returncode == 0 and {p: p.stat().st_mtime_ns for p in pairs} == before


def test_sharded_profiles_merge_to_the_same_file(profiles, tmp_path):
    art, world, _ = profiles
    common = ["--models", str(world / "models" / "index.json"), "--set", f"world.root={world}",
              "--set", "probes.train_per_class=12", "--set", "probes.test_per_class=10", "--set", "probes.workers=1",
              "--set", "probes.progress=false"]
    for i in range(2):
        assert script("extract_probe_profiles.py", *common, "--shard", f"{i}/2", art=tmp_path).returncode == 0
    assert not (tmp_path / "probe_profiles" / "profiles.npz").exists()
    assert script("extract_probe_profiles.py", *common, "--merge", art=tmp_path).returncode == 0
    a = read_profiles(art / "probe_profiles" / "profiles.npz")
    b = read_profiles(tmp_path / "probe_profiles" / "profiles.npz")
    assert list(a["ids"]) == list(b["ids"]) and np.array_equal(a["profiles"], b["profiles"])


def test_probe_columns_are_on_the_zoos_scale_and_a_missing_model_is_named(profiles):
    art, _, _ = profiles
    path = art / "probe_profiles" / "profiles.npz"
    p = ProbeProfiles(path)
    data = read_profiles(path)
    block = p.block(list(data["ids"]))
    assert block.shape == (len(data["ids"]), len(p.probes) * len(STATS))
    np.testing.assert_allclose(block.mean(0), 0, atol=1e-4)
    strict = ProbeProfiles(path, exclude=[p.probes[0]])
    assert strict.probes == p.probes[1:] and strict.block(list(data["ids"])).shape[1] == block.shape[1] - len(STATS)
    with pytest.raises(ZooRankError, match="no probe profile for model"):
        p.block(["not-a-model"])
    with pytest.raises(ZooRankError, match="probe_exclude"):
        ProbeProfiles(path, exclude=["nope"])


def test_kept_features_give_a_whole_dataset_task_its_ground_truth_exactly(world):
    matrix = json.loads((world / "dataset_model_performance.json").read_text())["performance"]
    features = world / "features"
    checked = 0
    for dataset, scores in list(matrix.items())[:3]:
        for model in list(scores)[:3]:
            f = load_features(feature_file(features, model, dataset))
            k = int(f["train_labels"].max()) + 1
            task = Task("task00000", "subset", ((dataset, tuple(range(k))),), 0)
            assert task_score(task, {dataset: f}) == pytest.approx(scores[model], abs=1e-12)
            checked += 1
    assert checked == 9


def test_sampled_tasks_are_of_the_kinds_asked_and_a_fold_uses_only_its_datasets():
    classes = {"a": 5, "b": 3, "c": 10, "d": 2}
    tasks = sample_tasks(classes, 90, seed=1)
    assert tasks == sample_tasks(classes, 90, seed=1) and tasks != sample_tasks(classes, 90, seed=2)
    assert {t.kind for t in tasks} == {"subset", "fewshot", "mixture"}
    for t in tasks:
        assert all(len(c) >= 2 and max(c) < classes[d] for d, c in t.parts)
        if t.kind == "mixture":
            assert 2 <= len(t.parts) <= 4 and len(set(t.datasets)) == len(t.parts)
        if t.kind == "fewshot":
            assert 10 <= t.train_per_class <= 40
    entries = [{**t.to_json(), "scores": {}} for t in tasks]
    kept = usable(entries, ["a", "b"])
    assert kept and all({p["dataset"] for p in e["parts"]} <= {"a", "b"} for e in kept)
    assert len(kept) < len(entries)


def test_task_tokens_are_the_datasets_tokens_of_the_chosen_classes():
    class Tokens:
        def by_name(self, name):
            labels = np.array([0, 1, 2, 0, 1, 2, 0])
            types = np.array([0, 0, 0, 1, 1, 1, 1])
            base = 10.0 if name == "x" else 20.0
            return {"tokens": torch.arange(7, dtype=torch.float32)[:, None] + base, "token_labels": labels,
                    "token_types": types}

    task = {"parts": [{"dataset": "x", "classes": [0, 2]}, {"dataset": "y", "classes": [1]}]}
    out = task_tokens(task, Tokens())
    assert out[:, 0].tolist() == [10, 12, 21, 13, 15, 16, 24]  # class means first, then the samples


def test_training_free_probe_ranker_follows_the_most_similar_probe():
    probes = np.eye(3, 8)
    acc = np.array([[0.9, 0.1, 0.5], [0.1, 0.9, 0.5], [0.5, 0.5, 0.9]])  # model i is best on probe i
    for j in range(3):
        target = probes[j][None] + 0.01
        assert np.argmax(probe_similarity_scores(target, probes, acc)) == j


def test_probe_ranker_scores_each_model_on_its_own_and_rebuilds_from_its_state():
    torch.manual_seed(0)
    probes, mask = torch.randn(3, 5, 8), torch.ones(3, 5, dtype=torch.bool)
    cfg = type("Cfg", (), {"d_model": 16, "heads": 2, "dropout": 0.0})()
    model = ProbeRanker.from_config(cfg, 8, 4 + 3 * 2, probe_tokens=probes, probe_mask=mask, probe_start=4,
                                    probe_stats=2).eval()
    data, dmask = torch.randn(1, 6, 8), torch.ones(1, 6, dtype=torch.bool)
    models = torch.randn(1, 7, 10)
    full = model(data, dmask, models, torch.ones(1, 7, dtype=torch.bool))
    part = model(data, dmask, models[:, [2, 5]], torch.ones(1, 2, dtype=torch.bool))
    torch.testing.assert_close(part[0], full[0, [2, 5]])  # no attention between candidates
    changed = models.clone()
    changed[0, 0, 4:] += 1.0  # another profile changes that model's score only
    after = model(data, dmask, changed, torch.ones(1, 7, dtype=torch.bool))
    assert not torch.isclose(after[0, 0], full[0, 0]) and torch.equal(after[0, 1:], full[0, 1:])
    state = model.state_dict()
    again = ProbeRanker.from_config(cfg, 8, 10, **ProbeRanker.probe_kwargs(state))
    again.load_state_dict(state)
    torch.testing.assert_close(again.eval()(data, dmask, models, torch.ones(1, 7, dtype=torch.bool)), full)
    with pytest.raises(ValueError, match="probe"):
        ProbeRanker.from_config(cfg, 8, 10)
