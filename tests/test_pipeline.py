"""`python pipeline.py --preset tiny` end to end, as a user runs it: every stage a real subprocess, the
benchmark report with every method, stage caching and --from.

The tiny world's datasets, models and ground truth come from the session's tiny world (built by
test_zoo's fixture, copied here); the pipeline's world stage adds the CLIP and reuses the rest
through the zoo's own cache, so that what it skips is exactly what a second user run would skip.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from test_zoo import tiny_world

from estimators import ESTIMATOR_REGISTRY

STAGES = ["world", "vectors", "tokens", "probes", "labels", "tasks", "autoencoder", "transformer", "benchmark", "report"]


def pipeline(art, *argv, timeout=900):
    cmd = [sys.executable, str(ROOT / "pipeline.py"), "--preset", "tiny", "--set", f"run.artifacts_dir={art}",
           "--set", "world.progress=false", "--set", "benchmark.progress=false", *argv]
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("[")]
    return proc, {ln.split()[1]: ln for ln in lines}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    art = tmp_path_factory.mktemp("pipeline") / "art"
    shutil.copytree(tiny_world(tmp_path_factory.getbasetemp()), art / "zoo" / "tiny")
    proc, lines = pipeline(art)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return art, proc, lines


def test_every_stage_runs_once_with_a_summary_line(run):
    art, proc, lines = run
    assert list(lines) == STAGES
    assert all(" done in " in ln for ln in lines.values()), lines
    assert "8 models x 8 datasets" in lines["world"] and "8 model vectors" in lines["vectors"]
    assert "8 models, 8 with named classes" in lines["labels"]
    assert "weighted tau rank=None" in lines["transformer"]
    state = json.loads((art / "tiny" / "pipeline" / "tiny" / "state.json").read_text())
    assert set(state) == set(STAGES) and all(len(s["key"]) == 16 for s in state.values())
    # the world's CLIP was trained by the world stage and the tokens came from it
    assert (art / "zoo" / "tiny" / "clip").is_dir()
    assert json.loads((art / "tiny" / "dataset_tokens" / "index.json").read_text())["count"] >= 8


def test_report_has_every_method_on_every_dataset_once(run):
    art, _, _ = run
    out = art / "benchmark" / "tiny"
    report = json.loads((out / "report.json").read_text())
    variants = ("ranking_transformer", "custom_similarity", "probe_ranker", "probe_no_labels", "probe_alone",
                "probe_weights", "probe_no_tasks", "probe_ranker_strict", "probe_no_labels_strict", "probe_alone_strict")
    expected = (set(ESTIMATOR_REGISTRY.list()) | {f"ranker:{v}" for v in variants}
                | {"mean_train_score", "num_params", "random", "probe_similarity", "probe_similarity_strict"}
                | {f"budget:K={k}" for k in ("0", "4", "8", "12", "24", "all")} | {"budget:K=0+far", "budget:K=4+far"})
    assert set(report["summary"]) == expected
    datasets = set(report["methods"]["logme"]["datasets"])
    assert len(datasets) == 8
    for name, entry in report["methods"].items():
        assert set(entry["datasets"]) == datasets, name  # same test datasets for every method
        for row in entry["datasets"].values():
            assert -1 <= row["metrics"]["weighted_tau_rank_none"] <= 1
            assert row["metrics"]["top1_regret"] >= 0
    # every dataset is tested in exactly one fold, and that fold's ranker never saw its family
    folds = report["meta"]["folds"]
    assert sorted(d for f in folds for d in f["test"]) == sorted(datasets)
    for f in folds:
        for ranker in ("ranking_transformer", "custom_similarity"):
            run_dir = out / "folds" / f["family"] / "models" / "transformer" / "runs" / ranker
            split = json.loads((run_dir / "split.json").read_text())
            assert sorted(split["test"]) == sorted(f["test"])
            assert not set(split["train"] + split["val"]) & set(f["test"])
            assert (run_dir / "history.json").is_file() and (run_dir / "checkpoints" / "best.pt").is_file()
    # the ranker's time counts the dataset's CLIP tokens; the estimators' every model's forward pass
    s = report["summary"]
    assert s["ranker:ranking_transformer"]["seconds_per_dataset"] > 0 and s["logme"]["seconds_per_dataset"] > 0
    assert set(report["timing"]["time_vs_models"]["logme"]) == {"2", "4", "8"}
    # by default the estimators score exactly the images the dataset tokens were made from
    results = json.loads((out / "results.json").read_text())
    tokens = {e["dataset"]: e["num_images"] for e in
              json.loads((art / "tiny" / "dataset_tokens" / "index.json").read_text())["datasets"]}
    assert results["settings"]["estimator_images"] == {d: tokens[d] for d in results["settings"]["estimator_images"]}
    # budgeted re-ranking: K = 0 is the budget ranker itself; the headline K and every fold's a are recorded
    methods = report["methods"]
    for d in datasets:
        assert methods["budget:K=0"]["datasets"][d]["predicted"] == methods["ranker:probe_ranker"]["datasets"][d]["predicted"]
    fusion = json.loads((out / "fusion.json").read_text())
    assert fusion == report["budget"] and fusion["chosen_k"] in fusion["budgets"]
    assert set(fusion["alpha"]["4"]) == {f["family"] for f in folds} and 0 <= fusion["alpha_mean"]["4"] <= 1
    # strict novelty: the fold's ranker saw no probe dataset of its held-out or validation family
    families = json.loads((art / "zoo" / "tiny" / "datasets" / "index.json").read_text())["datasets"]
    probe_family = {e["name"]: e["family"] for e in families if e["role"] in ("source", "probe")}
    for f in folds:
        cfg = (out / "folds" / f["family"] / "models" / "transformer" / "runs" / "probe_ranker_strict" / "config.ini")
        line = next(ln for ln in cfg.read_text().splitlines() if ln.startswith("probe_exclude"))
        assert sorted(json.loads(line.split("=", 1)[1])) == sorted(p for p, fam in probe_family.items()
                                                                   if fam in (f["family"], f["val_family"]))
    assert set(report["task_dependence"]["logme"]) == {f["family"] for f in folds} | {"all"}
    md = (out / "report.md").read_text()
    assert "Ablation" in md and "Headline K" in md and "Task dependence" in md
    assert "rank=None" in md and "rank=True" in md and "scipy.stats.weightedtau" in md
    assert all(f"| {name} |" in md for name in expected)
    for plot in ("weighted_tau.png", "predicted_vs_true.png", "time_vs_models.png"):
        assert (out / "plots" / plot).stat().st_size > 5000


def test_far_rows_give_the_estimator_the_targets_farther_than_the_training_data(run):
    """budget:K=<K>+far: each fold's threshold is the least nearest-probe cosine of its training datasets, or the
    median of their nearest with their own family's probes hidden where higher ([transformer] far_quantile,
    recomputed here from the token files); a far target gets LogME's order over every model, a near one
    the K row's prediction. recommend.py's novelty check on the fold's ranker draws the same line."""
    import numpy as np

    from dataloader.dataset_tokens import DatasetTokenDataset
    from dataloader.model_labels import ModelLabels
    from dataloader.model_table import ModelTable
    from dataloader.performance import read_performance
    from dataloader.probe_profiles import ProbeProfiles, read_profiles
    from metrics.fusion import zscore
    from metrics.general_quality import fit_reading
    from recommender import Ranker
    from recommender.novelty import novelty

    art, _, _ = run
    out = art / "benchmark" / "tiny"
    report = json.loads((out / "report.json").read_text())
    methods, far = report["methods"], report["budget"]["far"]
    index = json.loads((art / "zoo" / "tiny" / "datasets" / "index.json").read_text())["datasets"]
    probe_family = {e["name"]: e["family"] for e in index if e["role"] in ("source", "probe")}
    reader = DatasetTokenDataset(art / "tiny" / "dataset_tokens", "train")
    probes = [str(p) for p in read_profiles(next((art / "tiny").rglob("profiles.npz")))["probes"]]

    def unit_tokens(tokens):
        t = tokens.astype(np.float64).mean(0)
        return t / np.linalg.norm(t)

    def unit_mean(name):
        return unit_tokens(reader.by_name(name)["tokens"].numpy())

    means = np.stack([unit_mean(p) for p in probes])
    folds = report["meta"]["folds"]
    nearest = {d: float((means @ unit_mean(d)).max()) for f in folds for d in f["train"] + f["val"] + f["test"]}
    family = {e["name"]: e["family"] for e in index}

    def hidden(d):  # the nearest probe of another family than d's own
        others = [j for j, p in enumerate(probes) if probe_family.get(p, p) != family.get(d, d)]
        return float((means[others] @ unit_mean(d)).max()) if others else None

    seen_far = 0
    for f in folds:
        # below every training dataset, or below the median of their nearest with their own family's probes hidden
        threshold = min(nearest[d] for d in f["train"])
        hid = [h for h in map(hidden, f["train"]) if h is not None]
        threshold = max(threshold, float(np.quantile(hid, 0.5))) if hid else threshold
        assert far[f["family"]]["threshold"] == pytest.approx(threshold, abs=1e-6)
        for d in f["test"]:
            assert (d in far[f["family"]]["far"]) == (nearest[d] < threshold)
            row = methods["budget:K=0+far"]["datasets"][d]
            if nearest[d] < threshold:
                seen_far += 1
                logme = methods["logme"]["datasets"][d]
                assert logme["models"] == row["models"] and row["estimated"] == len(row["models"])
                assert np.argsort(row["predicted"], kind="stable").tolist() == np.argsort(logme["predicted"], kind="stable").tolist()
            else:
                assert row["predicted"] == methods["budget:K=0"]["datasets"][d]["predicted"] and row["estimated"] == 0
        run_dir = out / "folds" / f["family"] / "models" / "transformer" / "runs" / "probe_ranker"
        ranker = Ranker(run_dir, run_dir / "checkpoints" / "best.pt")
        own = reader.by_name(f["test"][0])["tokens"].numpy()
        check = novelty(ranker, own, art / "tiny" / "dataset_tokens")
        assert check["threshold"] == pytest.approx(threshold, abs=1e-5) and check["fallback"]
        # the general quality is the mix reading ([transformer] general_quality), fitted on the fold's training
        # datasets only: recomputed here from the profiles, the ground truth and the run's split
        split = json.loads((run_dir / "split.json").read_text())
        perf = read_performance(art / "zoo" / "tiny" / "dataset_model_performance.json")
        table = ProbeProfiles(next((art / "tiny").rglob("profiles.npz")))
        ids = [m for m in table.by_id if all(m in perf[d] for d in split["train"])]
        coef, bias, used = fit_reading("mix", table.block(ids).reshape(len(ids), len(probes), -1).astype(np.float64),
                                       np.array([[perf[d][m] for m in ids] for d in split["train"]]),
                                       [split["families"].get(d, d) for d in split["train"]],
                                       [probe_family.get(p, p) for p in probes], 0.03)
        assert used == "mix" and np.allclose(ranker.state["fallback"].numpy(), np.append(coef, bias), atol=1e-4)
        assert check["far"] == (nearest[f["test"][0]] < threshold)
        assert novelty(ranker, -own, art / "tiny" / "dataset_tokens")["far"]  # unlike every probe: far
        # the ranker itself ranks a far target by the models' general quality plus its far companion, the fold's
        # weights-only ranker (the benchmark's custom_similarity run), plus the cosine of the target's mean token with
        # each model's label vector (the labels stage's labels.npz): z-scores over the candidates, weighted
        companion_dir = run_dir.parent / "custom_similarity"
        assert (run_dir / "companion.ini").read_text() == (companion_dir / "config.ini").read_text()
        companion = Ranker(companion_dir, companion_dir / "checkpoints" / "best.pt")
        weights = ModelTable(next((art / "tiny").rglob("embeddings.npz")), ("embedding", "log_params"))
        weight = float(ranker.state["companion_weight"])  # [transformer] far_companion_weight
        assert weight == 0.25 and float(ranker.state["label_weight"]) == 0.4  # [transformer] far_label_weight
        labels = ModelLabels(art / "tiny" / "model_labels" / "labels.npz")

        def labelled(target, models, labels=labels):
            return zscore(labels.block(models).astype(np.float64) @ unit_tokens(target))
        for d in f["test"]:
            row = methods["ranker:probe_ranker"]["datasets"][d]
            if nearest[d] >= threshold:
                continue
            general = table.block(row["models"]).astype(np.float64) @ ranker.state["fallback"][:-1].numpy()
            other = companion.score(reader.by_name(d)["tokens"].numpy(),
                                    weights.tokens[[weights.row[m] for m in row["models"]]])
            expected = zscore(general) + weight * zscore(other) + 0.4 * labelled(reader.by_name(d)["tokens"].numpy(),
                                                                                  row["models"])
            assert np.allclose(row["predicted"], expected, atol=1e-4)
            # the same ranker without labels (probe_no_labels) ranks it otherwise: the labels term is read
            plain = methods["ranker:probe_no_labels"]["datasets"][d]["predicted"]
            assert np.allclose(plain, zscore(general) + weight * zscore(other), atol=1e-3)
        # and recommend.py's ranker, rebuilt from the run folder alone, on a target unlike every probe
        models = methods["ranker:probe_ranker"]["datasets"][f["test"][0]]["models"]
        full = ModelTable(next((art / "tiny").rglob("embeddings.npz")), ("embedding", "log_params", "probe", "labels"),
                          probes=table, labels=labels)
        general = table.block(models).astype(np.float64) @ ranker.state["fallback"][:-1].numpy()
        other = companion.score(-own, weights.tokens[[weights.row[m] for m in models]])
        got = ranker.score(-own, full.tokens[[full.row[m] for m in models]])
        assert np.allclose(got, zscore(general) + weight * zscore(other) + 0.4 * labelled(-own, models), atol=1e-4)
    assert (seen_far > 0) == any(v["far"] for v in far.values())


def test_recommend_ranks_with_the_pipelines_probe_ranker_and_an_added_model_like_its_twin(run, tmp_path):
    """The pipeline's ranker is the config's default, the probe ranker; recommend.py ranks with it, and a zoo model
    added again under another id (add-model computes its probe profile on the zoo's probes) gets its twin's score."""
    import numpy as np

    from config import ConfigParser, RankingDataConfig, TransformerTrainerConfig
    from dataloader.model_labels import ModelLabels
    from stages import preset_layout, stage_overrides
    from stages.runner import preset_overrides

    art, _, _ = run
    sets = [a for s in [*stage_overrides(preset_layout(art, "tiny")), *preset_overrides("tiny"),
                        f"recommend.added_models_dir={tmp_path / 'added'}"] for a in ("--set", s)]
    twin = "002-vit-w16d1-letters"
    shutil.copytree(art / "zoo" / "tiny" / "models" / twin, tmp_path / "twin-copy")
    cmd = [sys.executable, str(ROOT / "recommend.py")]
    proc = subprocess.run([*cmd, "add-model", str(tmp_path / "twin-copy"), *sets], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "probe profiles:" in proc.stdout and "labels:" in proc.stdout, proc.stderr[-2000:]
    assert (tmp_path / "added" / "profiles.npz").is_file()
    zoo_labels = ModelLabels(art / "tiny" / "model_labels" / "labels.npz")
    added_labels = ModelLabels(tmp_path / "added" / "labels.npz")  # the twin names the same classes
    assert np.allclose(added_labels.block(["twin-copy"]), zoo_labels.block([twin])) and zoo_labels.block([twin]).any()
    target = json.loads((art / "benchmark" / "tiny" / "report.json").read_text())["meta"]["folds"][0]["test"][0]
    proc = subprocess.run([*cmd, "--dataset", str(art / "zoo" / "tiny" / "datasets" / target), "--split", "train",
                           "--json", *sets], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    config = ConfigParser(Path(result["ranker"]["run"]) / "config.ini", ignore_unknown_sections=True)
    assert config.get(TransformerTrainerConfig).model == "probe_ranker"
    assert "probe" in config.get(RankingDataConfig).model_token_parts
    scores = {m["id"]: m["score"] for m in result["models"]}
    assert result["added_models"] == ["twin-copy"] and scores["twin-copy"] == pytest.approx(scores[twin], abs=1e-6)
    assert len(set(round(s, 6) for s in scores.values())) > 2  # a ranking, not a constant
    novelty = result["novelty"]
    assert novelty is not None and novelty["far"] == (novelty["nearest_cosine"] < novelty["threshold"])
    assert novelty["ranked_by"] == ("ranked by the models' general quality, their weights-only ranking and what they "
                                    "were trained to name (their labels)")
    # the ranker's run folder holds its far companion's config; without it: one line, exit 2
    copy = tmp_path / "ranker-copy"
    shutil.copytree(result["ranker"]["run"], copy)
    (copy / "companion.ini").unlink()
    proc = subprocess.run([*cmd, "--dataset", str(art / "zoo" / "tiny" / "datasets" / target), "--split", "train",
                           "--ranker", str(copy), *sets], cwd=ROOT, capture_output=True, text=True, timeout=300)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1 and "companion.ini" in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_console_is_quiet_and_the_run_logs_and_report_say_the_rest(run):
    art, proc, _ = run
    assert " : INFO : " not in proc.stderr
    assert proc.stderr.count("unreliable") <= 1  # h_score's N <= D: once per run, the pairs are in the report
    report = json.loads((art / "benchmark" / "tiny" / "report.json").read_text())
    if report["caveats"]:
        assert "Unreliable scores" in (art / "benchmark" / "tiny" / "report.md").read_text()
    for trainer in ("autoencoder", "transformer"):
        logs = list((art / "tiny" / "models" / trainer / "runs").glob("*/train.log"))
        assert logs and all("epoch 1/" in f.read_text() and "run folder" in f.read_text() for f in logs)


def test_second_run_is_cached_and_a_change_redoes_only_what_it_affects(run):
    art, _, _ = run
    proc, lines = pipeline(art, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert all(" cached " in ln for ln in lines.values()), lines
    # a cached fold ranker whose weights no longer load (a damaged file; weights of a model built by other code)
    # is trained again; the others stay cached
    best = sorted((art / "benchmark" / "tiny" / "folds").glob("*/models/transformer/runs/probe_ranker/checkpoints/best.pt"))
    damaged, renamed, kept = best[0], best[1], best[2:]
    damaged.write_bytes(damaged.read_bytes()[:100])
    state = torch.load(renamed, weights_only=True)
    state["model"]["unexpected_buffer"] = torch.zeros(1)
    torch.save(state, renamed)
    before = {p: p.stat().st_mtime_ns for p in kept}
    proc, lines = pipeline(art, "--set", "benchmark.trivial=random,num_params", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [s for s, ln in lines.items() if " done in " in ln] == ["benchmark", "report"], lines
    for p in (damaged, renamed):
        assert "unexpected_buffer" not in torch.load(p, weights_only=True)["model"]
    assert {p: p.stat().st_mtime_ns for p in kept} == before
    report = json.loads((art / "benchmark" / "tiny" / "report.json").read_text())
    assert "mean_train_score" not in report["summary"] and "random" in report["summary"]
    proc, lines = pipeline(art, "--set", "benchmark.trivial=random,num_params", "--from", "report", timeout=300)
    assert proc.returncode == 0 and [s for s, ln in lines.items() if " done in " in ln] == ["report"], lines


def test_bad_input_is_one_line_exit_2(run, tmp_path):
    art, _, _ = run
    proc, _ = pipeline(art, "--set", "benchmark.ranker_epochz=3", timeout=120)
    assert proc.returncode == 2 and "ranker_epochs" in proc.stderr and "Traceback" not in proc.stderr
    state = (art / "tiny" / "pipeline" / "tiny" / "state.json").read_text()
    for key, needle in [("transformer.model=rankin_transformer", "[transformer] model: unknown ranking model"),
                        ("benchmark.estimators=logme,lepe", "[benchmark] estimators: unknown estimator 'lepe'")]:
        proc, lines = pipeline(art, "--set", key, "--from", "world", timeout=120)
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert proc.returncode == 2 and len(errors) == 1 and needle in errors[0], proc.stderr[-2000:]
        assert not lines and "Traceback" not in proc.stderr  # refused before the first stage, nothing redone
    assert (art / "tiny" / "pipeline" / "tiny" / "state.json").read_text() == state
    # a far companion that is not a finished run: the transformer stage stops on one line, the ranker runs stay
    runs_dir = art / "tiny" / "models" / "transformer" / "runs"
    before = sorted(p.name for p in runs_dir.iterdir())
    proc, _ = pipeline(art, "--set", f"transformer.far_companion={tmp_path / 'nothing'}", timeout=300)
    errors = [ln for ln in proc.stderr.splitlines() if "far_companion" in ln]
    assert proc.returncode == 2 and len(errors) == 1 and "not a finished ranker run" in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and sorted(p.name for p in runs_dir.iterdir()) == before
    # damaged model labels: the transformer stage stops on one line naming the file, the ranker runs stay
    bad = tmp_path / "labels.npz"
    bad.write_bytes(b"not an npz")
    proc, _ = pipeline(art, "--set", f"ranking_data.model_labels={bad}", timeout=300)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1 and str(bad) in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and sorted(p.name for p in runs_dir.iterdir()) == before
    proc = subprocess.run([sys.executable, str(ROOT / "benchmark.py"), "report", "--set",
                           f"benchmark.output_dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "run python benchmark.py first" in proc.stderr
    assert "Traceback" not in proc.stderr
