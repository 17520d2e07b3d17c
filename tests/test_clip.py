"""The small CLIP (zoo/clip.py): real open_clip training, saving, loading and evaluation on tiny synthetic data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import evaluate_clip_imagenet as ev
from config import ConfigParser
from config.clip import ClipPretrainConfig
from dataloader.synthetic import DatasetSpec, write_dataset
from utils.errors import ConfigError, ZooRankError, run_cli
from zoo import clip as zclip
from zoo.clip_data import epoch_batches, open_sources

ROOT = Path(__file__).resolve().parent.parent

# A smaller tower than the shipped default keeps every training here to a few CPU seconds.
SMALL = dict(model_name="test-clip-small", embed_dim=64, vision_width=64, vision_layers=2, vision_head_width=32,
             text_width=64, text_layers=2, text_heads=2, context_length=16, batch_size=32, lr=0.003,
             warmup_steps=5, eval_per_class=8, min_steps=0)


def small_cfg(**kw) -> ClipPretrainConfig:
    return ClipPretrainConfig(**{**SMALL, **kw})


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("clip_sources")
    specs = [
        DatasetSpec("src_colors", "colors", classes=("red", "green", "blue", "yellow"), train_per_class=32,
                    val_per_class=8, test_per_class=8, role="source"),
        DatasetSpec("src_shapes", "shapes", classes=("circle", "square", "triangle", "star"), train_per_class=32,
                    val_per_class=8, test_per_class=8, role="source"),
    ]
    return [write_dataset(s, root) for s in specs]


@pytest.fixture(scope="module")
def one_thread():
    """A fixed thread count: reproducible numbers and no oversubscription of 2 shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(sources, tmp_path_factory, one_thread) -> Path:
    """A CLIP trained long enough to beat chance (6 epochs, 1.5k pairs seen); returns its checkpoint."""
    out = tmp_path_factory.mktemp("clip") / "clip"
    return zclip.build_clip(sources, out, small_cfg(epochs=6))


def info_of(path: Path) -> dict:
    return json.loads((path.parent / zclip.INFO_FILE).read_text())


# ------------------------------------------------------------------------------------- artifacts
def test_folder_holds_open_clip_checkpoint_config_and_info(trained):
    folder = trained.parent
    assert trained.name == zclip.CHECKPOINT_FILE and trained.suffix == ".safetensors"
    model_cfg = json.loads((folder / "test-clip-small.json").read_text())
    assert set(model_cfg) == {"embed_dim", "vision_cfg", "text_cfg"}
    assert model_cfg["vision_cfg"]["image_size"] == 32 and model_cfg["vision_cfg"]["patch_size"] == 4
    assert model_cfg["text_cfg"]["vocab_size"] == 49408  # open_clip's SimpleTokenizer
    info = info_of(trained)
    assert info["model_name"] == "test-clip-small" and info["epochs"] == 6 and info["steps"] > 0
    assert np.isfinite(info["final_loss"]) and info["epoch_loss"][-1] < info["epoch_loss"][0]
    assert [d["name"] for d in info["data"]] == ["src_colors", "src_shapes"]
    assert 0.0 <= info["zero_shot_accuracy"] <= 1.0
    assert json.loads((folder / zclip.OPEN_CLIP_CONFIG_FILE).read_text())["preprocess_cfg"]["size"] == [32, 32]
    assert not list(folder.glob(".*.tmp"))  # atomic writes leave no temp files
    assert all(k.startswith(("visual.", "transformer.", "token_embedding", "positional_embedding", "ln_final",
                             "text_projection", "logit_scale")) for k in load_file(trained))


def test_reload_with_open_clip_gives_identical_features(trained, sources):
    model, preprocess, tokenizer = zclip.load_clip(trained.parent)
    # the call that loads real CLIP weights, made directly
    open_clip.add_model_config(trained.parent / "test-clip-small.json")
    raw, _, raw_preprocess = open_clip.create_model_and_transforms("test-clip-small", pretrained=str(trained))
    raw.eval()
    images = [Image.fromarray(np.asarray(im)) for im in open_sources(sources)[0].train.select(range(6))["image"]]
    x = torch.stack([preprocess(im) for im in images])
    assert x.shape == (6, 3, 32, 32)
    assert torch.equal(x, torch.stack([raw_preprocess(im) for im in images]))
    text = tokenizer(["a red blob", "a green square"])
    assert text.shape == (2, 16)
    with torch.no_grad():
        assert torch.equal(model.encode_image(x), raw.encode_image(x))
        assert torch.equal(model.encode_text(text), raw.encode_text(text))
    # the checkpoint path works as well as the folder; a bigger image is resized to 32x32
    again, pre2, _ = zclip.load_clip(trained)
    assert pre2(Image.new("RGB", (64, 48))).shape == (3, 32, 32)
    with torch.no_grad():
        assert torch.equal(again.encode_image(x), model.encode_image(x))


def test_zero_shot_beats_chance_on_held_out_images(trained, sources):
    info = info_of(trained)
    per = info["zero_shot"]["per_dataset"]
    assert per["src_colors"]["chance"] == 0.25
    # colour words are the easiest thing to learn from captions; 4 classes, chance 0.25
    assert per["src_colors"]["accuracy"] >= 0.5, per
    assert info["zero_shot"]["mean_accuracy"] > 0.35, per
    # recomputing from the reloaded model gives the numbers recorded by the trained one
    model, preprocess, tokenizer = zclip.load_clip(trained.parent)
    again = zclip.source_zero_shot(model, preprocess, tokenizer, sources, 8, info["seed"])
    assert again["per_dataset"] == per


# ------------------------------------------------------------------------------- cache and seeds
def test_second_call_reuses_the_folder(trained, sources):
    before = trained.stat().st_mtime_ns, (trained.parent / zclip.INFO_FILE).read_text()
    assert zclip.build_clip(list(reversed(sources)), trained.parent, small_cfg(epochs=6)) == trained  # not retrained:
    assert (trained.stat().st_mtime_ns, (trained.parent / zclip.INFO_FILE).read_text()) == before
    key = zclip.cache_key(sources, small_cfg(epochs=6), 0)
    assert zclip.is_complete(trained.parent, key)
    assert not zclip.is_complete(trained.parent, zclip.cache_key(sources, small_cfg(epochs=6, lr=0.001), 0))
    assert not zclip.is_complete(trained.parent, zclip.cache_key(sources, small_cfg(epochs=6), 1))
    assert not zclip.is_complete(trained.parent, zclip.cache_key(sources[:1], small_cfg(epochs=6), 0))


def test_same_seed_same_weights_other_seed_other_weights(sources, tmp_path, one_thread):
    cfg = small_cfg(epochs=1, eval_per_class=0, max_per_class=16)  # 4 steps
    a = load_file(zclip.build_clip(sources, tmp_path / "a", cfg, seed=3))
    b = load_file(zclip.build_clip(sources, tmp_path / "b", cfg, seed=3))
    c = load_file(zclip.build_clip(sources, tmp_path / "c", cfg, seed=4))
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["visual.conv1.weight"], c["visual.conv1.weight"])
    assert info_of(tmp_path / "a" / zclip.CHECKPOINT_FILE)["seed"] == 3
    # a different config in the same folder retrains (the old info is replaced)
    zclip.build_clip(sources, tmp_path / "a", small_cfg(epochs=1, eval_per_class=0, max_per_class=8), seed=3)
    assert info_of(tmp_path / "a" / zclip.CHECKPOINT_FILE)["config"]["max_per_class"] == 8


def test_min_steps_adds_epochs_for_small_data():
    assert zclip.num_epochs(small_cfg(epochs=1, min_steps=0), 384) == 1
    assert zclip.num_epochs(ClipPretrainConfig(), 384) == 6  # tiny preset: 3 steps of 128 per epoch
    assert zclip.num_epochs(ClipPretrainConfig(), 28200) == 1  # default preset: 221 steps
    assert zclip.num_epochs(small_cfg(epochs=3, min_steps=5), 1000) == 3


def test_epoch_batches_cap_classes_and_read_only_train_splits(sources):
    srcs = open_sources(sources)
    labels = np.concatenate([s.labels + 10 * i for i, s in enumerate(srcs)])
    dataset = np.concatenate([np.full(len(s.labels), i) for i, s in enumerate(srcs)])
    for per_dataset in (False, True):
        plans = epoch_batches(srcs, epochs=2, max_per_class=5, batch_size=16, seed=0, per_dataset=per_dataset)
        for batches in plans:
            flat = np.concatenate(batches)
            assert len(flat) == len(set(flat.tolist())) == 8 * 5  # 2 sources x 4 classes x 5
            assert np.bincount(labels[flat]).max() == 5
            assert max(len(b) for b in batches) == 16
            if per_dataset:
                assert all(len(set(dataset[b])) == 1 for b in batches)
        assert not np.array_equal(np.sort(np.concatenate(plans[0])), np.sort(np.concatenate(plans[1])))
    assert sum(len(s.labels) for s in srcs) == 2 * 4 * 32  # train splits only
    assert sum(map(len, epoch_batches(srcs, 1, 0, 32, 0)[0])) == 256


# ------------------------------------------------------------------------------------ evaluation
def test_evaluate_script_json(trained, sources):
    cmd = [sys.executable, str(ROOT / "evaluate_clip_imagenet.py"), "--clip", str(trained.parent),
           "--dataset", str(sources[0]), "--dataset", str(sources[1]), "--split", "test", "--json",
           "--train-per-class", "16"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    colors, shapes = out["results"]
    for row in (colors, shapes):
        assert row["num_classes"] == 4 and row["num_test"] == 32 and row["chance"] == 0.25
        assert row["num_train"] == 64 and row["C"] in ev.C_GRID
        assert 0.0 <= row["zero_shot"] <= 1.0 and 0.0 <= row["linear_probe"] <= 1.0
    assert colors["templates"] == "family:colors"
    assert colors["linear_probe"] >= 0.5 and colors["zero_shot"] >= 0.4


def test_evaluate_table_in_process(trained, sources, capsys):
    assert ev.main(["--clip", str(trained), "--dataset", str(sources[0]), "--no-linear-probe",
                    "--templates", "generic", "--test-per-class", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("model: ") and out[1].split() == ["dataset", "classes", "n_test", "zero-shot",
                                                                 "linear-probe", "chance"]
    assert out[2].split()[:3] == ["src_colors", "4", "16"] and out[2].split()[4] == "-"


def run_main(argv: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        run_cli(lambda: ev.main(argv))
    return exit_.value.code, capsys.readouterr().err


@pytest.mark.parametrize("case, needle", [
    ("missing_dataset", "does not exist"),
    ("missing_split", "has no split 'nope'"),
    ("missing_column", "has no column 'nope'"),
    ("missing_checkpoint", "does not exist"),
    ("no_model", "give either --clip"),
    ("bad_templates", "--templates"),
    ("corrupt_checkpoint", "cannot load CLIP"),
    ("unknown_open_clip_model", "cannot load open_clip model 'no-such-arch'"),
])
def test_evaluate_bad_inputs_exit_2_one_line(case, needle, trained, sources, tmp_path, capsys):
    clip, data = str(trained.parent), str(sources[0])
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    (bogus / zclip.CHECKPOINT_FILE).write_bytes(b"not a safetensors file")
    (bogus / "test-clip-small.json").write_text((trained.parent / "test-clip-small.json").read_text())
    argv = {
        "missing_dataset": ["--clip", clip, "--dataset", str(tmp_path / "nope")],
        "missing_split": ["--clip", clip, "--dataset", data, "--split", "nope"],
        "missing_column": ["--clip", clip, "--dataset", data, "--label-column", "nope"],
        "missing_checkpoint": ["--clip", str(tmp_path / "none"), "--dataset", data],
        "no_model": ["--dataset", data],
        "bad_templates": ["--clip", clip, "--dataset", data, "--templates", str(tmp_path / "t.txt")],
        "corrupt_checkpoint": ["--clip", str(bogus), "--dataset", data],
        "unknown_open_clip_model": ["--model", "no-such-arch", "--pretrained", "x", "--dataset", data],
    }[case]
    code, err = run_main(argv, capsys)
    assert code == 2
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1, err


# ------------------------------------------------------------------------------ build_clip errors
def test_build_clip_bad_inputs(sources, tmp_path):
    with pytest.raises(ZooRankError, match="does not exist"):
        zclip.build_clip([tmp_path / "missing"], tmp_path / "out", small_cfg())
    with pytest.raises(ZooRankError, match="no source dataset"):
        zclip.build_clip([], tmp_path / "out", small_cfg())
    with pytest.raises(ConfigError, match="open_clip's own"):
        zclip.build_clip(sources, tmp_path / "out", small_cfg(model_name="ViT-B-32"))
    with pytest.raises(ZooRankError, match="does not exist"):
        zclip.load_clip(tmp_path / "nothing")


def test_config_section(tmp_path):
    cfg = ConfigParser(ROOT / "config.ini").get(ClipPretrainConfig)
    assert cfg == ClipPretrainConfig()  # config.ini states the defaults
    assert cfg.model_config()["vision_cfg"]["image_size"] == 32
    ini = tmp_path / "c.ini"
    ini.write_text("[clip_pretrain]\nimage_size = 30\n")
    with pytest.raises(ConfigError, match=r"\[clip_pretrain\] image_size 30 is not a multiple of patch_size 4"):
        ConfigParser(ini).get(ClipPretrainConfig)
