"""extract_model_vectors.py: outputs, resume, shards, the normalizer, checkpoint formats and bad input."""
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from conftest import ROOT
from safetensors.torch import save_file

import extract_model_vectors as cli
from config import ExtractorConfig, VectorizerConfig
from extractors import ModelSpec, RobustNormalizer, build_extractor, build_vectorizer
from extractors.base import ExtractionError
from extractors.store import INDEX, load_vectors, read_vector, rebuild_index, vector_path
from utils.errors import run_cli
from utils.shards import parse_shard

QUIET = ["--set", "run.log_level=ERROR"]


def weights(seed, width=16, hidden=32):
    g = torch.Generator().manual_seed(seed)
    return {
        "stem.conv.weight": torch.randn(width, 3, 3, 3, generator=g) * 0.2,
        "blocks.0.norm.weight": 1 + 0.1 * torch.randn(width, generator=g),
        "blocks.0.attn.q_proj.weight": torch.randn(width, width, generator=g) * 0.2,
        "blocks.0.mlp.fc1.weight": torch.randn(hidden, width, generator=g) * 0.2,
        "blocks.0.mlp.fc1.bias": torch.randn(hidden, generator=g) * 0.1,
        "blocks.0.mlp.fc2.weight": torch.randn(width, hidden, generator=g) * 0.2,
        "blocks.0.bn.running_var": torch.rand(width, generator=g) + 0.5,
        "blocks.0.bn.num_batches_tracked": torch.tensor(7),
        "head.weight": torch.randn(5, width, generator=g) * 0.1,
    }


@pytest.fixture
def zoo(tmp_path):
    """Four local models and a zoo index; model 'hf/d' is a folder read by the hf extractor."""
    root = tmp_path / "zoo"
    root.mkdir()
    entries = []
    for i, name in enumerate("abc"):
        save_file(weights(i), root / f"{name}.safetensors")
        entries.append({"id": f"org/{name}", "path": f"{name}.safetensors", "extractor": "state_dict", "family": "toy"})
    (root / "d").mkdir()
    save_file(weights(3), root / "d" / "model.safetensors")
    (root / "d" / "config.json").write_text("{}")
    entries.append({"id": "hf/d", "path": "d", "extractor": "hf", "family": "toy"})
    (root / "zoo.json").write_text(json.dumps({"models": entries}))
    return root


def cli_run(*args):
    return cli.main([*args, *QUIET])


def cli_exit(capsys, *args):
    """Run the command line as `python extract_model_vectors.py` does; (exit code, stderr lines)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_cli(lambda: cli.main([*args, *QUIET]))
    return stop.value.code, capsys.readouterr().err.strip().splitlines()


def mtimes(out):
    return {p.name: p.stat().st_mtime_ns for p in (out / "vectors").glob("*.npz")}


def test_outputs_index_and_metadata(zoo, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli_run("--models", str(zoo / "zoo.json"), "--output", str(out)) == 0
    assert "4 vectorized, 0 already done, 0 failed of 4 models" in capsys.readouterr().out
    index = json.loads((out / INDEX).read_text())
    assert index["count"] == 4 and [m["id"] for m in index["models"]] == ["hf/d", "org/a", "org/b", "org/c"]
    assert index["models"][1]["metadata"]["family"] == "toy" and index["failed"] == []
    layout = json.loads((out / "layout.json").read_text())
    assert len(layout["dims"]) == 8192
    data = read_vector(vector_path(out, "org/a"))
    assert data["vector"].shape == (8192,) and data["vector"].dtype == np.float32
    assert "blocks.0.bn.num_batches_tracked" not in data["names"]  # integer buffer
    shapes = dict(zip(data["names"], data["shapes"]))
    assert shapes["stem.conv.weight"] == (16, 3, 3, 3) and shapes["blocks.0.norm.weight"] == (16,)
    assert data["metadata"]["extractor"] == "state_dict" and data["metadata"]["num_params"] > 0
    ids, matrix = load_vectors(out)
    assert ids == ["hf/d", "org/a", "org/b", "org/c"] and matrix.shape == (4, 8192)
    assert len({row.tobytes() for row in matrix}) == 4


def test_resume_skips_finished_models(zoo, tmp_path, capsys):
    out = tmp_path / "out"
    models = [str(zoo / "a.safetensors"), str(zoo / "b.safetensors")]
    base = ["--output", str(out), "--set", "extractor.name=state_dict"]
    cli_run("--models", *models, *base)
    before = mtimes(out)
    capsys.readouterr()
    cli_run("--models", *models, str(zoo / "c.safetensors"), *base)
    assert "1 vectorized, 2 already done" in capsys.readouterr().out
    after = mtimes(out)
    assert len(after) == 3 and all(after[k] == v for k, v in before.items())
    code, err = cli_exit(capsys, "--models", *models, *base, "--set", "vectorizer.size=1024")
    assert code == 2 and len(err) == 1 and "other settings" in err[0] and "--force" in err[0]
    cli_run("--models", *models, *base, "--set", "vectorizer.size=1024", "--force")
    assert read_vector(vector_path(out, models[0]))["vector"].shape == (1024,)


def test_shards_cover_the_list_like_a_single_run(zoo, tmp_path, monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two"
    cli_run("--models", str(zoo / "zoo.json"), "--output", str(one))
    cli_run("--models", str(zoo / "zoo.json"), "--output", str(two), "--shard", "0/2")
    assert len(json.loads((two / INDEX).read_text())["models"]) == 2
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")  # --shard absent: the job array's slice
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    cli_run("--models", str(zoo / "zoo.json"), "--output", str(two))
    assert sorted(mtimes(one)) == sorted(mtimes(two))
    ids_one, vec_one = load_vectors(one)
    ids_two, vec_two = load_vectors(two)
    assert ids_one == ids_two and np.array_equal(vec_one, vec_two)
    assert json.loads((two / INDEX).read_text())["count"] == 4
    assert parse_shard(None, {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "3"}) == (1, 3)
    assert parse_shard(None, {}) == (0, 1)
    with pytest.raises(Exception, match="INDEX/COUNT"):
        parse_shard("1-2")


def test_concurrent_index_rebuilds_never_tear_the_index(zoo, tmp_path):
    out = tmp_path / "out"
    cli_run("--models", str(zoo / "zoo.json"), "--output", str(out))
    errors = []

    def rebuild():
        try:
            for _ in range(5):
                rebuild_index(out)
                assert json.loads((out / INDEX).read_text())["count"] == 4
        except Exception as err:  # noqa: BLE001  (collected and re-raised below)
            errors.append(err)

    threads = [threading.Thread(target=rebuild) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not list(out.glob(".*.tmp"))


def test_normalizer_is_fitted_on_training_models_only(zoo, tmp_path, capsys):
    out = tmp_path / "out"
    cli_run("--models", str(zoo / "zoo.json"), "--output", str(out))
    (tmp_path / "train.txt").write_text("org/a\norg/b\n# a comment\norg/c\n")
    assert cli_run("--fit-normalizer", str(tmp_path / "train.txt"), "--output", str(out)) == 0
    norm = RobustNormalizer.load(out / "normalizer.npz")
    assert norm.ids == ["org/a", "org/b", "org/c"] and norm.size == 8192
    assert cli_run("--apply-normalizer", str(out / "normalizer.npz"), "--output", str(out)) == 0
    with np.load(out / "vectors_normalized.npz") as data:
        ids, z = data["ids"].tolist(), data["vectors"]
    assert ids == ["hf/d", "org/a", "org/b", "org/c"] and z.shape == (4, 8192) and np.isfinite(z).all()
    assert np.allclose(np.median(z[1:], axis=0), 0, atol=1e-5)  # centred on the training models
    code, err = cli_exit(capsys, "--fit-normalizer", "org/a,org/zzz", "--output", str(out))
    assert code == 2 and "org/zzz" in err[-1]


def test_checkpoint_formats_agree(tmp_path):
    sd = weights(0)
    save_file(sd, tmp_path / "one.safetensors")
    shard = tmp_path / "sharded"
    shard.mkdir()
    names = sorted(sd)
    save_file({k: sd[k] for k in names[:4]}, shard / "model-00001-of-00002.safetensors")
    save_file({k: sd[k] for k in names[4:]}, shard / "model-00002-of-00002.safetensors")
    weight_map = {k: f"model-0000{1 + (i >= 4)}-of-00002.safetensors" for i, k in enumerate(names)}
    (shard / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in sd.items()}}, tmp_path / "nested.pt")
    save_file({k: v.bfloat16() if v.is_floating_point() else v for k, v in sd.items()}, tmp_path / "bf16.safetensors")
    vec = build_vectorizer(VectorizerConfig())
    ext = build_extractor(ExtractorConfig(), "state_dict")
    get = {p: vec.vectorize(ext.tensors(ModelSpec(p, str(tmp_path / p)))) for p in
           ("one.safetensors", "sharded", "nested.pt", "bf16.safetensors")}
    ref = get["one.safetensors"]
    for p in ("sharded", "nested.pt"):
        assert get[p].names == ref.names and np.allclose(get[p].vector, ref.vector, atol=1e-6)
    half = get["bf16.safetensors"].vector
    assert np.isfinite(half).all()
    frac_half = vec.layout().index("global/frac_half_params")
    assert half[frac_half] > 0.99 and ref.vector[frac_half] == 0  # upcast, and recorded
    assert np.allclose(np.delete(half, frac_half), np.delete(ref.vector, frac_half), atol=0.05)


class Payload:
    """Pickles to a call that creates a file: what weights_only=True must refuse to run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pt_files_are_loaded_with_weights_only(tmp_path, capsys):
    marker = tmp_path / "pwned"
    torch.save({"w.weight": torch.randn(4, 4), "extra": Payload(marker)}, tmp_path / "evil.pt")
    assert not marker.exists()
    ext = build_extractor(ExtractorConfig(), "state_dict")
    with pytest.raises(ExtractionError, match=r"weights_only=True"):
        list(ext.tensors(ModelSpec("evil", str(tmp_path / "evil.pt"))))
    code, err = cli_exit(capsys, "--models", str(tmp_path / "evil.pt"), "--output", str(tmp_path / "out"),
                         "--set", "extractor.name=state_dict")
    assert code == 2 and len(err) == 1 and "evil.pt" in err[0] and "weights_only" in err[0]
    assert not marker.exists()


def test_bad_inputs_exit_2_with_one_line(zoo, tmp_path, capsys):
    out = tmp_path / "out"
    good = str(zoo / "a.safetensors")
    cli_run("--models", good, "--output", str(out), "--set", "extractor.name=state_dict")
    finished = {p: p.read_bytes() for p in (out / "vectors").glob("*.npz")}
    stamps = mtimes(out)
    save_file({"q.weight": torch.randint(-8, 8, (4, 4), dtype=torch.int8)}, tmp_path / "int8.safetensors")
    cases = {
        "unsupported dtype int8": ["--models", str(tmp_path / "int8.safetensors"), "--set", "extractor.name=state_dict"],
        "nonexistent-org/nonexistent-model": ["--models", "nonexistent-org/nonexistent-model"],
        "unknown extractor 'nope'": ["--models", good, "--set", "extractor.name=nope"],
        "unknown vectorizer 'flatt'; did you mean 'flat'": ["--models", good, "--set", "vectorizer.name=flatt"],
        "no models to vectorize": [],
    }
    for expected, args in cases.items():
        code, err = cli_exit(capsys, *args, "--output", str(out))
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and expected in err[0], (expected, err)
    assert {p: p.read_bytes() for p in (out / "vectors").glob("*.npz")} == finished and mtimes(out) == stamps
    # on_error = skip: the good models are done, the bad one is noted, exit code 2 at the end
    code, err = cli_exit(capsys, "--models", good, str(tmp_path / "int8.safetensors"), str(zoo / "b.safetensors"),
                         "--output", str(out), "--set", "extractor.name=state_dict", "--set", "extractor.on_error=skip")
    assert code == 2 and "1 model(s) failed and were skipped" in err[-1] and "int8.safetensors" in err[-1]
    index = json.loads((out / INDEX).read_text())
    failed = {f["id"]: f["error"] for f in index["failed"]}  # also the failures of the cases above
    assert index["count"] == 2 and "unsupported dtype int8" in failed[str(tmp_path / "int8.safetensors")]


def test_cli_nan_checkpoint_subprocess(zoo, tmp_path):
    """The real command line: exit 2, exactly one line on stderr, no traceback, earlier outputs kept."""
    out = tmp_path / "out"
    cli_run("--models", str(zoo / "a.safetensors"), "--output", str(out), "--set", "extractor.name=state_dict")
    before = mtimes(out)
    bad = weights(1)
    bad["blocks.0.mlp.fc1.weight"][2, 3] = float("nan")
    save_file(bad, tmp_path / "nan.safetensors")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "extract_model_vectors.py"), "--models", str(tmp_path / "nan.safetensors"),
         "--output", str(out), "--set", "extractor.name=state_dict", "--set", "run.log_level=WARNING"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "nan.safetensors" in lines[0] and "blocks.0.mlp.fc1.weight" in lines[0] and "NaN" in lines[0]
    assert "Traceback" not in proc.stderr and mtimes(out) == before


def test_nan_in_a_vector_names_the_file_one_line_exit_2(tmp_path, capsys):
    from dataloader.model_parameter_dataset import ModelParameterDataset
    from extractors.store import write_vector
    from extractors.vectorizers import fit_normalizer
    from utils.errors import ZooRankError

    for i, value in enumerate([1.0, float("nan")]):
        write_vector(vector_path(tmp_path, f"m{i}"), np.array([value, 2.0, 3.0]), ["w"], [(3,)], ["weight"],
                     {"id": f"m{i}", "num_params": 3})
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: ModelParameterDataset(tmp_path))
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{vector_path(tmp_path, 'm1')}: the vector of model 'm1' has NaN or inf" in err
    with pytest.raises(ZooRankError, match="the vectors of 'b' contain NaN"):
        fit_normalizer(np.array([[1.0, 2.0], [np.inf, 1.0], [3.0, 4.0]]), ["a", "b", "c"])
