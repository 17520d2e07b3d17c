"""Dataset tokens from a real (tiny, locally created) open_clip model and a transformers backbone."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT

from config import DatasetTokensConfig
from dataloader import DATASET_LOADER_REGISTRY
from dataloader.dataset_tokens import DatasetTokenDataset, collate_dataset_tokens
from dataloader.synthetic import DatasetSpec, write_dataset
from extractors.dataset import DATASET_EXTRACTOR_REGISTRY, TOKEN_TYPES, build_tokens
from utils.errors import ZooRankError

TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    """A folder as the zoo builder writes it: <name>.json + a safetensors checkpoint."""
    import open_clip
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("clip")
    (folder / "zr-tiny-clip.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(folder / "zr-tiny-clip.json")
    torch.manual_seed(0)
    model = open_clip.create_model("zr-tiny-clip")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "open_clip_model.safetensors")
    return folder


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for name, family, k in (("shapes3", "shapes", 3), ("colors4", "colors", 4)):
        write_dataset(DatasetSpec(name, family, num_classes=k, train_per_class=6, val_per_class=2,
                                  test_per_class=2, seed=1), root)
    (root / "index.json").write_text(json.dumps({"datasets": [{"name": "shapes3", "path": "shapes3"},
                                                              {"name": "colors4", "path": "colors4"}]}))
    return root


def cfg(clip_dir, **kw):
    base = dict(clip_model="zr-tiny-clip", clip_pretrained=str(clip_dir), per_class=4, max_sample_tokens=5)
    return DatasetTokensConfig(**{**base, **kw})


def test_clip_tokens_class_means_samples_and_text(clip_dir, data_root):
    ds = DATASET_LOADER_REGISTRY.get("hf")(str(data_root / "colors4"), split="train")
    c = cfg(clip_dir, tokens="both", text_tokens=True, prompts=("a photo of a {}.", "a {} blob"))
    ext = DATASET_EXTRACTOR_REGISTRY.get("clip")(c)
    out = build_tokens(ds, ext, c)
    types = out["token_types"].tolist()
    assert types.count(TOKEN_TYPES["class_mean"]) == 4 and types.count(TOKEN_TYPES["sample"]) == 5
    assert types.count(TOKEN_TYPES["class_text"]) == 4
    assert out["tokens"].shape == (13, 32) and np.allclose(np.linalg.norm(out["tokens"], axis=1), 1, atol=1e-5)
    samples = out["token_labels"][out["token_types"] == TOKEN_TYPES["sample"]]
    assert len(set(samples[:4].tolist())) == 4, "sample tokens alternate over classes"
    assert out["class_counts"].tolist() == [4, 4, 4, 4] and out["num_images"] == 16
    # same seed, same tokens; the class-mean token is the normalized mean of that class's image features
    again = build_tokens(ds, ext, c)
    assert np.array_equal(out["tokens"], again["tokens"])


def test_unlabelled_falls_back_to_random_sample(clip_dir, data_root, caplog):
    ds = DATASET_LOADER_REGISTRY.get("hf")(str(data_root / "shapes3"), split="train", label_column="")
    c = cfg(clip_dir, tokens="both", unlabelled_samples=7, max_sample_tokens=64)
    out = build_tokens(ds, DATASET_EXTRACTOR_REGISTRY.get("clip")(c), c)
    assert out["num_images"] == 7 and len(out["tokens"]) == 7 and not out["labelled"]
    assert set(out["token_types"].tolist()) == {TOKEN_TYPES["sample"]}
    assert "no labels" in caplog.text


def test_hf_image_backbone_tokens(tmp_path, data_root):
    from transformers import ConvNextConfig, ConvNextModel

    ConvNextModel(ConvNextConfig(num_channels=3, hidden_sizes=[8, 16], depths=[1, 1], num_stages=2)).save_pretrained(tmp_path)
    c = DatasetTokensConfig(extractor="hf_image", hf_model=str(tmp_path), tokens="class_means", per_class=3)
    ds = DATASET_LOADER_REGISTRY.get("hf")(str(data_root / "shapes3"), split="train")
    out = build_tokens(ds, DATASET_EXTRACTOR_REGISTRY.get("hf_image")(c), c)
    assert out["tokens"].shape == (3, 16)


def test_script_writes_shards_resumes_and_loads_with_masks(clip_dir, data_root, tmp_path):
    out = tmp_path / "tokens"
    base = [sys.executable, str(ROOT / "extract_dataset_tokens.py"), "--datasets", str(data_root / "index.json"),
            "--output", str(out), "--set", "dataset_tokens.clip_model=zr-tiny-clip",
            "--set", f"dataset_tokens.clip_pretrained={clip_dir}", "--set", "dataset_tokens.per_class=3"]
    for i in (0, 1):
        proc = subprocess.run(base + ["--shard", f"{i}/2"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    index = json.loads((out / "index.json").read_text())
    assert index["count"] == 2 and {e["dataset"] for e in index["datasets"]} == {"shapes3", "colors4"}
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "tokens").glob("*.npz")}
    again = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "0 tokenized, 2 already done" in again.stdout
    assert mtimes == {p: p.stat().st_mtime_ns for p in (out / "tokens").glob("*.npz")}
    ds = DatasetTokenDataset(out, split="train")
    batch = collate_dataset_tokens([ds[0], ds[1]])
    lengths = [len(ds[0]["tokens"]), len(ds[1]["tokens"])]
    assert batch["dataset_tokens"].shape == (2, max(lengths), 32)
    assert batch["dataset_mask"].sum(1).tolist() == lengths and batch["dataset_names"] == ds.names
    only_means = DatasetTokenDataset(out, datasets=["shapes3"], token_types=[TOKEN_TYPES["class_mean"]])
    assert len(only_means[0]["tokens"]) == 3


@pytest.mark.parametrize("sets, needle", [
    (["dataset_tokens.clip_model=no-such-model", "dataset_tokens.clip_pretrained=none"],
     "unknown open_clip model 'no-such-model'"),
    (["dataset_tokens.clip_pretrained=/no/such/clip"], "CLIP checkpoint or folder /no/such/clip not found"),
    (["dataset_tokens.extractor=clipp"], "unknown dataset feature extractor 'clipp'; did you mean 'clip'?"),
])
def test_script_bad_input_exit_2(tmp_path, data_root, sets, needle):
    cmd = [sys.executable, str(ROOT / "extract_dataset_tokens.py"), "--datasets", str(data_root / "shapes3"),
           "--output", str(tmp_path)] + [a for s in sets for a in ("--set", s)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and needle in proc.stderr


def test_empty_split_and_missing_tokens(clip_dir, data_root, tmp_path):
    ds = DATASET_LOADER_REGISTRY.get("hf")(str(data_root / "shapes3"), split="train").subset(np.zeros(0, dtype=int))
    with pytest.raises(ZooRankError, match="is empty"):
        build_tokens(ds, DATASET_EXTRACTOR_REGISTRY.get("clip")(cfg(clip_dir)), cfg(clip_dir))
    with pytest.raises(ZooRankError, match="run extract_dataset_tokens.py first"):
        DatasetTokenDataset(tmp_path)


def test_timed_tokens_equal_the_stored_ones_and_leave_decoding_out(clip_dir, data_root, monkeypatch):
    """The benchmark times a new dataset's tokens from its decoded images (as it times the estimators): the
    tokens are the ones build_tokens makes from the dataset on disk, and no image is decoded while the clock runs."""
    import evaluation.timing as timing

    ds = DATASET_LOADER_REGISTRY.get("hf")(str(data_root / "colors4"), split="train")
    c = cfg(clip_dir, tokens="both")
    ext = DATASET_EXTRACTOR_REGISTRY.get("clip")(c)
    reference = build_tokens(ds, ext, c)["tokens"]
    reads, at_clock = [], []
    load = ds._get_image
    ds._get_image = lambda i: reads.append(i) or load(i)
    clock = timing.time.perf_counter
    monkeypatch.setattr(timing.time, "perf_counter", lambda: at_clock.append(len(reads)) or clock())
    tokens, seconds = timing.time_tokens(ds, ext, c)
    assert np.array_equal(tokens.numpy(), reference) and seconds > 0
    assert at_clock == [16, 16], "every image of the sample decoded before the clock starts, none after"
