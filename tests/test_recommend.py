"""recommend.py on the tiny world of test_zoo: real vectors, a tiny CLIP's tokens, a trained autoencoder
and ranker; one zoo model is held out of all of it and comes back through add-model.

The held-out model 006-vit-w16d1-letters has a twin in the zoo (002-vit-w16d1-letters: same
architecture and source data, another seed), so a sensible embedding puts it next to its twin.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, weights_only
from test_zoo import tiny_world

import extract_dataset_tokens
import extract_model_vectors
from config import ConfigParser, ExtractorConfig, VectorizerConfig
from dataloader.autoencoder import load_autoencoder
from dataloader.dataset_tokens import DatasetTokenDataset
from extractors import build_extractor, build_vectorizer
from extractors.base import ModelSpec
from hardware import write_profile
from recommend import main
from recommender import Ranker, find_run, load_candidates, rank_candidates
from recommender.added import add_models
from recommender.evaluate import rank_errors
from train.model_autoencoder_trainer import ModelAutoEncoderTrainer
from train.transformer_trainer import TransformerTrainer
from utils.errors import run_cli

HELD_OUT, TWIN = "006-vit-w16d1-letters", "002-vit-w16d1-letters"
TINY_CLIP = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
             "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def make_clip(folder: Path) -> Path:
    """A tiny random open_clip model saved as the zoo builder saves its CLIP: <name>.json + checkpoint."""
    import open_clip
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    (folder / "zr-rec-clip.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(folder / "zr-rec-clip.json")
    torch.manual_seed(0)
    model = open_clip.create_model("zr-rec-clip")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "open_clip_model.safetensors")
    return folder


def sets(setup: dict) -> list[str]:
    """--set overrides every command of this world shares (the tokens must be made as in training)."""
    world, art = setup["world"], setup["art"]
    # no probe profiles in this world: the weights-only ranker (the default probe ranker: tests/test_pipeline.py)
    pairs = [*weights_only(), f"run.artifacts_dir={art}", "dataset_tokens.clip_model=zr-rec-clip",
             f"dataset_tokens.clip_pretrained={setup['clip']}", "dataset_tokens.per_class=8",
             "dataset_tokens.max_sample_tokens=16", f"hardware.profiles_dir={art / 'profiles'}",
             "model_autoencoder.hidden_dims=64", "model_autoencoder.code_dim=16", "model_autoencoder.epochs=8",
             "model_autoencoder.batch_size=2", "model_autoencoder.lr=0.003", "model_autoencoder.val_fraction=0", "model_autoencoder.dropout=0",
             "model_autoencoder.warmup_steps=2", f"ranking_data.performance_file={world / 'dataset_model_performance.json'}",
             f"ranking_data.dataset_index={world / 'datasets' / 'index.json'}", "ranking_data.val_families=counting",
             "ranking_data.test_families=shapes", "transformer.d_model=32", "transformer.heads=2",
             "transformer.encoder_layers=1", "transformer.decoder_layers=1", "transformer.epochs=12",
             "ranking_data.items_per_epoch=20", "transformer.batch_size=4", "transformer.lr=0.003",
             "transformer.dropout=0", "transformer.warmup_steps=3", "transformer.early_stopping_patience=0"]
    return [a for p in pairs for a in ("--set", p)]


def fit(cls, setup: dict, *extra: str) -> None:
    cp = ConfigParser(ROOT / "config.ini", sets(setup)[1::2] + list(extra))
    cls.from_config(cp).fit()


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    world = tiny_world(tmp_path_factory.getbasetemp())
    art = tmp_path_factory.mktemp("recommend_art")
    out = {"world": world, "art": art, "clip": make_clip(art / "clip")}
    models = json.loads((world / "models" / "index.json").read_text())["models"]
    zoo = [{**m, "path": str(world / "models" / m["path"])} for m in models if m["id"] != HELD_OUT]
    (art / "zoo.json").write_text(json.dumps({"models": zoo}))
    datasets = json.loads((world / "datasets" / "index.json").read_text())["datasets"]
    targets = [{**d, "path": str(world / "datasets" / d["path"])} for d in datasets if d["role"] == "target"]
    (art / "targets.json").write_text(json.dumps({"datasets": targets}))
    assert extract_model_vectors.main(["--models", str(art / "zoo.json"), *sets(out)]) == 0
    assert extract_dataset_tokens.main(["--datasets", str(art / "targets.json"), *sets(out)]) == 0
    fit(ModelAutoEncoderTrainer, out)
    fit(TransformerTrainer, out)
    out["zoo_ids"] = sorted(m["id"] for m in zoo)
    out["targets"] = [d["name"] for d in targets]
    out["performance"] = json.loads((world / "dataset_model_performance.json").read_text())["performance"]
    return out


def recommend(setup: dict, *argv: str, extra: tuple[str, ...] = (), check: bool = True) -> subprocess.CompletedProcess:
    """recommend.py in a fresh process; `extra` comes after the world's --set overrides (and wins)."""
    cmd = [sys.executable, str(ROOT / "recommend.py"), *argv, *sets(setup), *extra]
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert not check or proc.returncode == 0, proc.stderr[-2000:]
    return proc


def dataset(setup: dict, name: str) -> str:
    return str(setup["world"] / "datasets" / name)


def run_main(argv: list[str], capsys) -> tuple[int, list[str]]:
    """(exit code, error lines) of recommend.py's main run in this process, as run_cli runs it."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: main(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return info.value.code, [ln for ln in err.splitlines() if ln.startswith("error:")]


def test_ranking_json_reproduces_the_trainers_prediction(setup, tmp_path):
    """A held-out-family dataset given as a folder gets the zoo ranked exactly as the trainer scored it."""
    proc = recommend(setup, "--dataset", dataset(setup, "tgt_shapes_clutter"), "--split", "train", "--json",
                     "--out", str(tmp_path / "ranking.csv"))
    result = json.loads(proc.stdout)  # stdout is only the JSON; the logs went to stderr
    assert "INFO" in proc.stderr
    rows = result["models"]
    assert [r["rank"] for r in rows] == list(range(1, 8)) and sorted(r["id"] for r in rows) == setup["zoo_ids"]
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert result["dataset"]["labelled"] and result["dataset"]["num_classes"] == 3
    assert result["dataset"]["num_images"] == 24 and result["device_profile"] is None and not result["dropped"]
    assert result["notes"] == []  # tokens made as the ranker's training tokens were
    vectors = json.loads((setup["art"] / "model_vectors" / "index.json").read_text())["models"]
    assert {r["id"]: r["params"] for r in rows} == {v["id"]: v["num_params"] for v in vectors}
    run, _ = find_run(None, setup["art"])
    preds = json.loads((run / "predictions.json").read_text())["test"]["datasets"]
    pred = next(p for p in preds if p["dataset"] == "tgt_shapes_clutter")
    expected = dict(zip(pred["models"], pred["predicted"]))
    assert {r["id"]: pytest.approx(expected[r["id"]], abs=1e-4) for r in rows} == {r["id"]: r["score"] for r in rows}
    with open(tmp_path / "ranking.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [t["id"] for t in table] == [r["id"] for r in rows] and {t["status"] for t in table} == {"kept"}


def test_constraints_drop_flag_and_pareto(setup, tmp_path, capsys):
    """A device profile with one model missing: limits drop models with the reason, the missing one is
    flagged per model, ranks close up, the Pareto front is non-dominated and plotted."""
    ids = setup["zoo_ids"]
    vectors = {v["id"]: v["num_params"] for v in
               json.loads((setup["art"] / "model_vectors" / "index.json").read_text())["models"]}
    models = {m: {"params": vectors[m], "latency_ms": 0.5 + i, "throughput": 1000.0 / (1 + i), "batch_size": 8,
                  "peak_memory_mb": 10.0 + 5 * i, "gflops": 0.01} for i, m in enumerate(ids) if m != ids[1]}
    write_profile(setup["art"] / "profiles" / "testbox.json",
                  {"device": "Test Box 9000", "kind": "cpu", "source": "measured", "models": models})
    assert main(["--dataset", dataset(setup, "tgt_colors_blur"), "--split", "test", "--json", *sets(setup)]) == 0
    plain = json.loads(capsys.readouterr().out)
    proc = recommend(setup, "--dataset", dataset(setup, "tgt_colors_blur"), "--split", "test", "--device-profile",
                     "testbox", "--max-latency-ms", "4", "--max-params", "100k", "--max-memory-mb", "100",
                     "--pareto", str(tmp_path / "front.png"), "--out", str(tmp_path / "result.json"))
    result = json.loads((tmp_path / "result.json").read_text())
    lat = {m: e["latency_ms"] for m, e in models.items()}
    big = {m for m in ids if vectors[m] > 100_000}
    assert {d["id"] for d in result["dropped"]} == big | {m for m in lat if lat[m] > 4}
    assert all(("params" in d["reason"]) == (d["id"] in big) for d in result["dropped"])
    kept = [r["id"] for r in result["models"]]
    assert kept == [r["id"] for r in plain["models"] if r["id"] in kept]  # the same order, ranks closed up
    assert [r["rank"] for r in result["models"]] == list(range(1, len(kept) + 1))
    assert [u["id"] for u in result["unprofiled"]] == [ids[1]] and result["unprofiled"][0]["note"] == "no profile"
    assert result["unprofiled"][0]["reason"].startswith(f"no profile for model {ids[1]} on device 'Test Box 9000'")
    row = {r["id"]: r for r in result["models"]}
    assert row[ids[1]]["latency_ms"] is None and row[ids[1]]["note"] == "no profile"  # kept, flagged
    for m in set(kept) - {ids[1]}:
        assert row[m]["latency_ms"] == lat[m] <= 4 and row[m]["peak_memory_mb"] == models[m]["peak_memory_mb"]
    front = result["pareto"]["front"]
    assert front and (tmp_path / "front.png").stat().st_size > 1000
    for p in front:  # nobody kept is at least as fast and strictly better
        assert not any(lat[m] <= p["latency_ms"] and row[m]["score"] > p["score"] for m in set(kept) - {ids[1]})
    text = proc.stdout
    assert "Test Box 9000" in text and f"{ids[1]}: no profile" in text and "Pareto front" in text
    assert f"dropped ({len(result['dropped'])}, violate the constraints)" in text


def test_unlabelled_dataset_falls_back_to_a_random_sample(setup, capsys):
    argv = ["--dataset", dataset(setup, "tgt_glyph_digits"), "--split", "test", "--no-labels", "--json",
            "--top-k", "3", *sets(setup)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert not result["dataset"]["labelled"] and "random sample" in result["dataset"]["sampling"]
    assert any("no labels" in n for n in result["notes"])
    assert len(result["models"]) == 3 and result["num_kept"] == 7


def test_image_folder_tree_ranks_like_the_saved_dataset(setup, tmp_path, capsys):
    """The same images as an ImageFolder tree (root/<split>/<class>/*.png), through both loaders."""
    import datasets

    split = datasets.load_from_disk(dataset(setup, "tgt_count_1_4_invert"))["test"]
    names = split.features["label"].names
    for i, example in enumerate(split):
        path = tmp_path / "tree" / "test" / names[example["label"]] / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        example["image"].save(path)
    results = []
    for argv in (["--dataset", dataset(setup, "tgt_count_1_4_invert")],
                 ["--dataset", str(tmp_path / "tree"), "--set", f"dataset_loader.cache_dir={tmp_path / 'cache'}"],
                 ["--dataset", str(tmp_path / "tree"), "--loader", "image_folder"]):
        # every image becomes a token: which images a sample picks depends on the file order
        everything = ["--set", "dataset_tokens.per_class=1000", "--set", "dataset_tokens.max_sample_tokens=1000"]
        assert main([*argv, "--split", "test", "--json", *sets(setup), *everything]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert [r["dataset"]["num_images"] for r in results] == [len(split)] * 3
    first = {m["id"]: m["score"] for m in results[0]["models"]}
    for r in results[1:]:
        assert {m["id"]: m["score"] for m in r["models"]} == pytest.approx(first, abs=1e-4)
    assert any("per_class = 1000, the ranker's training tokens with 8" in n for n in results[0]["notes"])


def test_add_model_held_out_of_all_training(setup, capsys, record_property):
    """The held-out model: not in the vectors, the autoencoder or the ranker; after add-model it is a
    candidate, embedded exactly as the saved normalizer + autoencoder embed it, and scored like its
    twin; its rank error against the ground truth is reported next to chance and the zoo's."""
    art, world = setup["art"], setup["world"]
    embeddings = art / "models" / "autoencoder" / "embeddings.npz"
    assert HELD_OUT not in np.load(embeddings)["ids"].tolist()
    before = embeddings.stat().st_mtime_ns
    proc = recommend(setup, "add-model", str(world / "models" / HELD_OUT))
    assert "1 added" in proc.stdout and embeddings.stat().st_mtime_ns == before
    with np.load(art / "added_models" / "embeddings.npz") as data:
        assert data["ids"].tolist() == [HELD_OUT] and data["role"].tolist() == ["added"]
        code = data["embeddings"][0]
    cp = ConfigParser(ROOT / "config.ini", sets(setup)[1::2])
    spec = ModelSpec(HELD_OUT, str(world / "models" / HELD_OUT))
    extractor = build_extractor(cp.get(ExtractorConfig), "hf")
    raw = build_vectorizer(cp.get(VectorizerConfig)).vectorize(extractor.tensors(spec)).vector
    model, normalizer = load_autoencoder(art / "models" / "autoencoder")
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(normalizer.apply(raw[None]))).numpy()[0]
    assert np.allclose(code, expected, atol=1e-5)
    code_again, lines = run_main(["add-model", str(world / "models" / TWIN), *sets(setup)], capsys)
    assert code_again == 2 and lines == [f"error: model '{TWIN}' is already in the zoo's embeddings; it is ranked "
                                         "without adding it"]
    assert main(["--dataset", dataset(setup, "tgt_textures_noise"), "--split", "test", "--json", *sets(setup)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_candidates"] == 8 and result["added_models"] == [HELD_OUT]
    assert [r["added"] for r in result["models"] if r["id"] == HELD_OUT] == [True]

    ranker = Ranker(*find_run(None, art))
    candidates = load_candidates(ranker.data, art, art / "added_models", art / "model_vectors")
    tokens = DatasetTokenDataset(art / "dataset_tokens", datasets=setup["targets"])
    # the rank error of one model against a near-chance tiny ranker is a coin flip that differs between
    # CPUs' floating point: recorded, and asserted for the exact property that carries it (below)
    report = rank_errors(ranker, candidates, tokens, setup["performance"], HELD_OUT, setup["targets"])
    record_property("held_out_rank_error", json.dumps({k: v for k, v in report.items() if k != "per_dataset"}))
    assert report["datasets"] == len(setup["targets"]) and 0 <= report["mean_rank_error"] < result["num_candidates"]
    for name in setup["targets"]:  # scored like its twin, relative to the spread of the scores
        scores = dict(rank_candidates(ranker, candidates, tokens.by_name(name)["tokens"].numpy()))
        spread = max(scores.values()) - min(scores.values())
        assert abs(scores[HELD_OUT] - scores[TWIN]) < 0.05 * spread, (name, scores)


def test_an_added_model_is_ranked_exactly_like_the_same_weights_in_the_zoo(setup, tmp_path):
    """The mechanism behind "an added model is ranked like the models the ranker was trained with": the
    twin's weights added under another id get the twin's zoo embedding and the twin's score on every
    target dataset, to float precision (a property of the code, not of the tiny world's numbers)."""
    art, world = setup["art"], setup["world"]
    cp = ConfigParser(ROOT / "config.ini", sets(setup)[1::2])
    copy = tmp_path / "twin-copy"
    shutil.copytree(world / "models" / TWIN, copy)
    added = tmp_path / "added"
    zoo = {str(i) for i in np.load(art / "models" / "autoencoder" / "embeddings.npz")["ids"]}
    done = add_models([ModelSpec("twin-copy", str(copy))], cp.get(ExtractorConfig), cp.get(VectorizerConfig), added,
                      art / "models" / "autoencoder", zoo, art / "model_vectors")
    assert done["added"] == ["twin-copy"]
    ranker = Ranker(*find_run(None, art))
    candidates = load_candidates(ranker.data, art, added, art / "model_vectors")
    table = candidates.table
    assert candidates.added == ["twin-copy"]
    assert np.allclose(table.tokens[table.row["twin-copy"]].numpy(), table.tokens[table.row[TWIN]].numpy(), atol=1e-5)
    tokens = DatasetTokenDataset(art / "dataset_tokens", datasets=setup["targets"])
    for name in setup["targets"]:
        scores = dict(rank_candidates(ranker, candidates, tokens.by_name(name)["tokens"].numpy()))
        spread = max(scores.values()) - min(scores.values())
        assert abs(scores["twin-copy"] - scores[TWIN]) <= 1e-4 * spread + 1e-6, (name, scores)


def test_add_model_under_a_taken_id_names_both_sources_and_replace_is_explicit(setup, tmp_path, capsys):
    """Another model under an id already added is an error naming both sources (nothing changes); the same
    model again stays "already added"; --replace replaces it."""
    from extractors.store import read_vector, vector_path

    first, other = str(setup["world"] / "models" / HELD_OUT), str(setup["world"] / "models" / TWIN)
    own = [*sets(setup), "--set", f"recommend.added_models_dir={tmp_path / 'added'}"]
    assert main(["add-model", first, "--id", "mine", *own]) == 0
    stored = vector_path(tmp_path / "added", "mine")
    before = stored.read_bytes()
    code, lines = run_main(["add-model", other, "--id", "mine", *own], capsys)
    assert code == 2 and lines == [f"error: id 'mine' was already added from {first}, not from {other}; pass "
                                   "--replace to replace it, or give the new model another --id"]
    assert stored.read_bytes() == before
    assert main(["add-model", first, "--id", "mine", *own]) == 0
    assert "0 added, 1 already added" in capsys.readouterr().out and stored.read_bytes() == before
    assert main(["add-model", other, "--id", "mine", "--replace", *own]) == 0
    assert "1 added, 0 already added" in capsys.readouterr().out
    assert read_vector(stored, with_arrays=False)["metadata"]["source"] == other


def test_an_unfinished_newer_run_is_not_the_default_ranker(setup, capsys):
    """A transformer run that diverges after its first epoch (a step schedule multiplying the lr by 1e30:
    the loss becomes NaN) exits 2 with best.pt written; recommend.py keeps using the previous complete
    run, names it, and warns once about the unfinished one with the command that resumes it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_script", ROOT / "train.py")  # train/ is the package
    train_script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_script)
    argv = ["--dataset", dataset(setup, "tgt_count_1_3"), "--split", "test", "--json"]
    assert main([*argv, *sets(setup)]) == 0
    before = json.loads(capsys.readouterr().out)
    runs_dir = setup["art"] / "models" / "transformer" / "runs"
    complete = find_run(None, setup["art"])[0]
    diverge = ["--set", "transformer.scheduler=step", "--set", "transformer.step_size=1", "--set",
               "transformer.gamma=1e30", "--set", "transformer.run_name=diverged"]
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: train_script.main(["transformer", *sets(setup), *diverge]))
    failed = runs_dir / "diverged"
    try:
        assert info.value.code == 2 and "loss became nan" in capsys.readouterr().err
        assert (failed / "checkpoints" / "best.pt").is_file()
        proc = recommend(setup, *argv)
        after = json.loads(proc.stdout)
        assert after["ranker"]["run"] == str(complete)
        assert {m["id"]: m["score"] for m in after["models"]} == pytest.approx(
            {m["id"]: m["score"] for m in before["models"]}, abs=1e-6)
        assert f"ranker: run {complete}" in proc.stderr
        warnings = [ln for ln in proc.stderr.splitlines() if "did not finish" in ln]
        assert len(warnings) == 1 and f"python train.py transformer --resume {failed}" in warnings[0]
    finally:
        shutil.rmtree(failed, ignore_errors=True)


@pytest.mark.parametrize("args, needle", [
    (["--dataset", "/no/such/dataset"], "dataset folder /no/such/dataset does not exist"),
    (["--dataset", "{world}/datasets/tgt_count_1_3", "--split", "nope"], "has no split 'nope'"),
    (["--dataset", "{world}/datasets/tgt_count_1_3", "--label-column", "fine"], "has no column 'fine'"),
    (["--dataset", "{world}/datasets/tgt_count_1_3", "--device-profile", "no-such-gpu"],
     "unknown hardware profile 'no-such-gpu'"),
    (["--dataset", "{world}/datasets/tgt_count_1_3", "--max-latency-ms", "5"], "needs a device: add --device-profile"),
    (["--dataset", "{world}/datasets/tgt_count_1_3", "--out", "table.txt"], "name a .csv or a .json file"),
    (["--dataset", "{world}/datasets/tgt_count_1_3", "--budget", "-2"], "--budget must be a whole number of models"),
    (["--dataset", "{world}/datasets/tgt_count_1_3", "--budget", "2.5"], "got '2.5'"),
    (["--dataset", "{world}/datasets/tgt_count_1_3", "--budget", "many"], "got 'many'"),
])
def test_bad_input_is_one_line_and_exit_2(setup, capsys, args, needle):
    code, lines = run_main([a.format(world=setup["world"]) for a in args] + sets(setup), capsys)
    assert code == 2 and len(lines) == 1 and needle in lines[0], lines


def test_budget_rescores_the_rankers_shortlist_with_logme_and_fuses(setup, tmp_path):
    """--budget 3: LogME on the ranker's top 3 (each model's features of the tokens' sample), fused with the
    benchmark's a (none here: 0.5, said once; a fusion.json with a = 0: LogME's order); the rest as ranked."""
    from config import DatasetLoaderConfig, DatasetTokensConfig
    from estimators import ESTIMATOR_REGISTRY
    from features.handle import ModelHandle
    from features.images import load_split, preprocess
    from features.refs import Ref
    from metrics.fusion import fused_scores

    args = ("--dataset", dataset(setup, "tgt_colors_blur"), "--split", "train", "--json")
    plain = json.loads(recommend(setup, *args).stdout)["models"]
    proc = recommend(setup, *args, "--budget", "3", extra=("--set", f"recommend.fusion_file={tmp_path / 'none.json'}"))
    result = json.loads(proc.stdout)
    budget, rows = result["budget"], result["models"]
    assert proc.stderr.count("no benchmark fusion weights") == 1 and budget["a"] == 0.5
    top = [r["id"] for r in plain[:3]]
    assert budget["k"] == 3 and budget["estimator"] == "logme" and budget["shortlist"] == top
    assert sorted(r["id"] for r in rows[:3]) == sorted(top) and [r["id"] for r in rows[3:]] == [r["id"] for r in plain[3:]]
    assert [r["shortlisted"] for r in rows] == [True] * 3 + [False] * (len(rows) - 3)
    assert {r["id"]: r["ranker_score"] for r in rows} == pytest.approx({r["id"]: r["score"] for r in plain}, abs=1e-9)
    # LogME as the benchmark computes it, on the same class-balanced sample the tokens come from
    cp = ConfigParser(ROOT / "config.ini", sets(setup)[1::2])
    loader, tok = cp.get(DatasetLoaderConfig), cp.get(DatasetTokensConfig)
    loader = type(loader)(**{**vars(loader), "path": dataset(setup, "tgt_colors_blur"), "split": "train"})
    split = load_split(dataset(setup, "tgt_colors_blur"), "train", loader, tok.per_class, tok.seed)
    sources = {v["id"]: v["source"] for v in json.loads((setup["art"] / "model_vectors" / "index.json").read_text())["models"]}
    for r in rows[:3]:
        handle = ModelHandle(Ref(r["id"], sources[r["id"]], ""), torch.device("cpu"))
        feats = handle.features(preprocess(handle.processor, split.images))
        assert r["estimator_score"] == pytest.approx(ESTIMATOR_REGISTRY.get("logme")().score(split.labels, features=feats,
                                                                                             source_probs=None), rel=1e-5)
    expected = fused_scores(np.array([r["ranker_score"] for r in rows[:3]]),
                            np.array([r["estimator_score"] for r in rows[:3]]), None, 0.5)
    assert [r["score"] for r in rows[:3]] == pytest.approx(list(expected))
    table = recommend(setup, *args[:-1], "--budget", "3").stdout.splitlines()
    head = next(ln for ln in table if ln.startswith("rank"))
    assert "ranker" in head and "logme" in head and "fused" in head  # the table shows both scores
    assert any(ln.startswith("# budget: the ranker's top 3 re-scored by logme") for ln in table)
    (tmp_path / "fusion.json").write_text(json.dumps({"estimator": "logme", "alpha_mean": {"0": 1.0, "4": 0.0}}))
    proc = recommend(setup, *args, "--budget", "3", extra=("--set", f"recommend.fusion_file={tmp_path / 'fusion.json'}"))
    fused = json.loads(proc.stdout)
    assert fused["budget"]["a"] == 0.0 and "K=4" in fused["budget"]["a_from"] and "fusion weights" not in proc.stderr
    logme = sorted(fused["models"][:3], key=lambda r: -r["estimator_score"])
    assert [r["id"] for r in fused["models"][:3]] == [r["id"] for r in logme]


def test_the_clip_is_compared_by_content_not_by_path(setup, tmp_path, capsys):
    """The CLIP folder copied elsewhere (a moved checkout) is the same CLIP: no note; a CLIP with other
    weights is named in a note."""
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "moved" / "clip"
    shutil.copytree(setup["clip"], copy)
    argv = ["--dataset", dataset(setup, "tgt_shapes_clutter"), "--split", "test", "--json", *sets(setup)]
    assert main([*argv, "--set", f"dataset_tokens.clip_pretrained={copy}"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == []
    weights = load_file(copy / "open_clip_model.safetensors")
    name = next(k for k, v in weights.items() if v.is_floating_point() and v.numel() > 1)
    weights[name] = weights[name] + 0.01
    save_file(weights, copy / "open_clip_model.safetensors")
    assert main([*argv, "--set", f"dataset_tokens.clip_pretrained={copy}"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert len(notes) == 1 and "extractor_fingerprint" in notes[0] and "clip_pretrained" in notes[0], notes


def one_class_tree(root: Path) -> Path:
    from PIL import Image

    (root / "test" / "cats").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (32, 32), (40 * i, 0, 0)).save(root / "test" / "cats" / f"{i}.png")
    return root


@pytest.mark.parametrize("case", ["one_class_hf", "one_class_image_folder", "empty", "file", "max_params"])
def test_messages_name_the_thing(setup, tmp_path, capsys, case):
    """One line, exit 2, no traceback, naming what is wrong."""
    root = tmp_path / "data"
    if case.startswith("one_class"):
        one_class_tree(root)
    argv, needle = {
        "one_class_hf": (["--dataset", str(root)], f"image folder {root / 'test'} has one class ('cats')"),
        "one_class_image_folder": (["--dataset", str(root), "--loader", "image_folder"], "has a single class"),
        "empty": (["--dataset", str(root)], f"dataset folder {root} is empty"),
        "file": (["--dataset", str(root)], f"dataset {root} is a file, not a folder"),
        "max_params": (["--dataset", dataset(setup, "tgt_count_1_3"), "--max-params", "abc"],
                       "--max-params abc: cannot read 'abc' as a count"),
    }[case]
    if case == "empty":
        root.mkdir()
    elif case == "file":
        root.write_text("not a dataset")
    code, lines = run_main([*argv, "--split", "test", *sets(setup),
                            "--set", f"dataset_loader.cache_dir={tmp_path / 'cache'}"], capsys)
    assert code == 2 and len(lines) == 1 and needle in lines[0], lines


@pytest.mark.parametrize("flag, value, needle", [
    ("--out", "{file}/ranking.csv", "{file} is a file, not a folder"),
    ("--out", "{tmp}/ranking.txt", "name a .csv or a .json file"),
    ("--out", "{tmp}/dir.csv", "dir.csv is a folder; name a .csv or a .json file"),
    ("--pareto", "{tmp}/front.txt", "--pareto {tmp}/front.txt: name a .png or a .svg or a .pdf file"),
    ("--pareto", "{file}/front.png", "{file} is a file, not a folder"),
])
def test_outputs_are_checked_before_the_ranking(setup, tmp_path, capsys, monkeypatch, flag, value, needle):
    """A result that could not be written fails before any ranking is computed (the ranking would raise)."""
    import recommender

    def no_ranking(*args, **kwargs):
        raise AssertionError("the ranking was computed")

    monkeypatch.setattr(recommender, "recommend", no_ranking)
    (tmp_path / "plain").write_text("x")
    (tmp_path / "dir.csv").mkdir()
    fill = {"file": tmp_path / "plain", "tmp": tmp_path}
    argv = ["--dataset", dataset(setup, "tgt_count_1_3"), flag, value.format(**fill), *sets(setup)]
    code, lines = run_main(argv, capsys)
    assert code == 2 and len(lines) == 1 and needle.format(**fill) in lines[0], lines


def test_other_commands_check_their_output_folders_first(tmp_path, capsys, monkeypatch):
    """evaluate_model_autoencoder.py --out and benchmark.py's output folder under a plain file: one line,
    exit 2, before the evaluation or the benchmark runs."""
    import benchmark
    import evaluate_model_autoencoder
    from evaluation import benchmark as bench

    def no_work(*args, **kwargs):
        raise AssertionError("the work was done")

    monkeypatch.setattr(evaluate_model_autoencoder, "evaluate", no_work)
    monkeypatch.setattr(bench, "run_benchmark", no_work)
    plain = tmp_path / "plain"
    plain.write_text("x")
    ae = tmp_path / "models" / "autoencoder"
    ae.mkdir(parents=True)
    (ae / "embeddings.npz").write_bytes(b"")  # never read: the output check comes first
    art = ["--set", f"run.artifacts_dir={tmp_path}"]
    for script, argv, what in (
            (evaluate_model_autoencoder, ["--out", str(plain / "eval"), *art], f"--out {plain / 'eval'}"),
            (benchmark, ["run", *art, "--set", f"benchmark.output_dir={plain / 'bench'}"],
             f"[benchmark] output_dir {plain / 'bench'}")):
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            run_cli(lambda: script.main(argv))  # noqa: B023
        err = capsys.readouterr().err
        assert info.value.code == 2 and "Traceback" not in err, err
        assert err.strip().splitlines() == [f"error: {what}: {plain} is a file, not a folder; name another place"]


def test_evaluate_model_autoencoder_names_the_published_run(setup, tmp_path, caplog):
    """The embeddings' run is named; a newer autoencoder run that did not finish gets one warning with the
    command that resumes it."""
    import logging

    import evaluate_model_autoencoder

    runs_dir = setup["art"] / "models" / "autoencoder" / "runs"
    published = json.loads((setup["art"] / "models" / "autoencoder" / "latest_run.json").read_text())["run_dir"]
    unfinished = runs_dir / "unfinished"
    (unfinished / "checkpoints").mkdir(parents=True)
    shutil.copy(Path(published) / "checkpoints" / "last.pt", unfinished / "checkpoints" / "last.pt")
    try:
        with caplog.at_level(logging.INFO):
            assert evaluate_model_autoencoder.main(["--out", str(tmp_path / "eval"), "--json", *sets(setup)]) == 0
    finally:
        shutil.rmtree(unfinished)
    assert f"embeddings of run {published}" in caplog.text
    warnings = [r.getMessage() for r in caplog.records if "did not finish" in r.getMessage()]
    assert len(warnings) == 1 and f"python train.py modelautoencoder --resume {unfinished}" in warnings[0]


def test_no_trained_ranker_subprocess_exit_2(setup, tmp_path):
    proc = recommend(setup, "--dataset", dataset(setup, "tgt_count_1_3"), extra=("--set", f"run.artifacts_dir={tmp_path}"),
                     check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: no trained ranker in") and "python train.py transformer" in lines[0]


def test_added_models_follow_a_retrained_autoencoder(setup):
    """Runs last (it retrains the module's autoencoder): the added model is re-encoded from its stored
    vector by the new autoencoder the next time the candidates are loaded."""
    art, added = setup["art"], setup["art"] / "added_models"
    if not (added / "embeddings.npz").is_file():  # when run on its own
        assert main(["add-model", str(setup["world"] / "models" / HELD_OUT), *sets(setup)]) == 0
    before = np.load(added / "embeddings.npz")["embeddings"][0]
    fit(ModelAutoEncoderTrainer, setup, "run.seed=1")
    ranker = Ranker(*find_run(None, art))
    table = load_candidates(ranker.data, art, added, art / "model_vectors").table
    after = np.load(added / "embeddings.npz")["embeddings"][0]
    model, normalizer = load_autoencoder(art / "models" / "autoencoder")
    raw = np.load(next((added / "vectors").glob("*.npz")))["vector"]
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(normalizer.apply(raw[None]))).numpy()[0]
    assert not np.allclose(before, after) and np.allclose(after, expected, atol=1e-5)
    assert np.allclose(table.tokens[table.row[HELD_OUT], : len(after)].numpy(), after)
