"""Tests of the procedural dataset generator (dataloader.synthetic)."""
from __future__ import annotations

import json
import os
import runpy
import sys

import datasets
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dataloader.synthetic import (
    FAMILY_REGISTRY,
    INDEX_FILE,
    META_FILE,
    VARIANT_REGISTRY,
    DatasetSpec,
    generate,
    is_complete,
    preset_specs,
    read_metadata,
    render_arrays,
    write_dataset,
)
from dataloader.synthetic.__main__ import main as cli_main
from utils.errors import RegistryError, ZooRankError

FAMILIES = FAMILY_REGISTRY.list()
VARIANTS = VARIANT_REGISTRY.list()


def small(family: str = "shapes", **kw) -> DatasetSpec:
    if "classes" not in kw:
        kw.setdefault("num_classes", 3)
    kw.setdefault("train_per_class", 4)
    kw.setdefault("val_per_class", 2)
    kw.setdefault("test_per_class", 3)
    return DatasetSpec(kw.pop("name", f"t_{family}"), family, **kw)


def pixels(ds: datasets.Dataset) -> np.ndarray:
    return np.stack([np.asarray(im) for im in ds["image"]])


def png_bytes(ds: datasets.Dataset) -> list[bytes]:
    return [x["bytes"] for x in ds.cast_column("image", datasets.Image(decode=False))["image"]]


# ------------------------------------------------------------------------------------- generation
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_generates(family):
    spec = small(family)
    dd = generate(spec)
    assert set(dd) == {"train", "validation", "test"}
    assert {k: len(v) for k, v in dd.items()} == {"train": 12, "validation": 6, "test": 9}
    feats = dd["train"].features
    assert isinstance(feats["image"], datasets.Image)
    assert isinstance(feats["label"], datasets.ClassLabel)
    assert feats["label"].names == list(spec.classes) == list(FAMILY_REGISTRY.get(family).classes[:3])
    assert feats["caption"] == datasets.Value("string")
    for split in dd.values():
        for ex in split:
            assert ex["image"].mode == "RGB" and ex["image"].size == (32, 32)
            assert 0 <= ex["label"] < 3
            assert isinstance(ex["caption"], str) and len(ex["caption"]) > 3
        # balanced classes, shuffled order
        assert np.bincount(split["label"], minlength=3).tolist() == [len(split) // 3] * 3
    meta = json.loads(dd["test"].info.description)
    assert meta["family"] == family and meta["class_names"] == list(spec.classes)


@pytest.mark.parametrize("family", FAMILIES)
def test_image_size_is_configurable(family):
    images, labels, captions = render_arrays(small(family, image_size=20, num_classes=2))["validation"]
    assert images.shape == (4, 20, 20, 3) and images.dtype == np.uint8
    assert len(captions) == len(labels) == 4


def test_captions_describe_the_class():
    for family in ("glyphs", "shapes", "colors", "counting", "sklearn_digits", "textures"):
        spec = small(family, num_classes=2)
        _, labels, captions = render_arrays(spec)["train"]
        for lab, cap in zip(labels, captions):
            assert spec.classes[lab] in cap, (spec.classes[lab], cap)
    _, _, caps = render_arrays(small("shapes", variants=("clutter", "noise")))["train"]
    assert all("cluttered" in c and c.endswith(", with noise") for c in caps)


def test_deterministic_bytes_and_seed_changes_images():
    spec = small("glyphs", variants=("clutter", "noise"))
    a, b = generate(spec), generate(spec)
    for split in a:
        assert png_bytes(a[split]) == png_bytes(b[split])
        assert a[split]["caption"] == b[split]["caption"]
        assert a[split]["label"] == b[split]["label"]
    c = generate(small("glyphs", variants=("clutter", "noise"), seed=1))
    assert not np.array_equal(pixels(a["train"]), pixels(c["train"]))


def test_splits_do_not_share_images():
    # sklearn_digits: 174 images per class at most; using all of them, no image may repeat
    spec = small("sklearn_digits", num_classes=10, train_per_class=100, val_per_class=24, test_per_class=50)
    arrays = render_arrays(spec)
    seen = [{im.tobytes() for im in arrays[s][0]} for s in ("train", "validation", "test")]
    assert sum(map(len, seen)) == 1740 == len(set().union(*seen))
    synth = render_arrays(small("shapes"))
    assert not {im.tobytes() for im in synth["train"][0]} & {im.tobytes() for im in synth["test"][0]}


def test_spec_normalises_and_hashes():
    a = small(variants=("noise", "invert", "noise"))
    b = small(variants=("invert", "noise"), classes=("circle", "square", "triangle"))
    assert a.variants == ("invert", "noise") and a == b and a.spec_hash() == b.spec_hash()
    assert small(seed=1).spec_hash() != small().spec_hash()
    assert DatasetSpec.from_dict(json.loads(json.dumps(a.to_dict()))) == a


@pytest.mark.parametrize("variant", VARIANTS)
def test_variants_change_pixels(variant):
    family = "shapes"  # every variant applies to shapes
    base = render_arrays(small(family))["train"][0].astype(int)
    var = render_arrays(small(family, variants=(variant,)))["train"][0].astype(int)
    assert base.shape == var.shape
    assert np.abs(base - var).mean() > 2.0
    if variant == "invert":
        assert np.abs(255 - base - var).max() <= 1
    if variant == "grayscale":
        assert (var[..., 0] == var[..., 1]).all() and (var[..., 1] == var[..., 2]).all()
    if variant == "clutter":  # only the background changes: most pixels stay as they were
        assert 0.02 < (np.abs(base - var).sum(-1) > 0).mean() < 0.7


def test_families_are_not_trivially_identical():
    feats, fams = [], []
    for i, family in enumerate(FAMILIES):
        images = render_arrays(small(family, name="same", num_classes=2, train_per_class=15))["train"][0]
        feats.append(_features(images))
        fams += [i] * len(images)
    x, y = np.concatenate(feats), np.array(fams)
    # no two families produce the same images, and a linear probe tells families apart
    means = [x[y == i].mean(0) for i in range(len(FAMILIES))]
    for i in range(len(means)):
        for j in range(i):
            assert np.abs(means[i] - means[j]).mean() > 0.01
    idx = np.random.default_rng(0).permutation(len(y))
    half = len(y) // 2
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.1))
    clf.fit(x[idx[:half]], y[idx[:half]])
    assert clf.score(x[idx[half:]], y[idx[half:]]) > 0.6  # chance is 1/6


# ------------------------------------------------------------------------------------- learnability
def _features(images: np.ndarray) -> np.ndarray:
    """4x4 block means (colour layout) + log FFT magnitudes (shift-invariant frequency/orientation)."""
    x = images.astype(np.float32) / 255.0
    n, s = len(x), x.shape[1]
    blocks = x.reshape(n, 8, s // 8, 8, s // 8, 3).mean((2, 4)).reshape(n, -1)
    g = x.mean(-1)
    g = g - g.mean((1, 2), keepdims=True)
    fft = np.log1p(np.abs(np.fft.rfft2(g))[:, : s // 2, : s // 2 - 4].reshape(n, -1))
    return np.concatenate([blocks, fft], 1)


def _foreground_fraction(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32) / 255.0
    bg = np.median(x.reshape(len(x), -1, 3), axis=1)
    d = np.abs(x - bg[:, None, None]).sum(-1)
    return np.stack([(d > t).mean((1, 2)) for t in (0.2, 0.4, 0.6)], 1)


# family -> (required accuracy margin over chance with 5 classes, feature function)
LEARNABLE = {
    "colors": (0.5, _features),
    "sklearn_digits": (0.5, _features),
    "textures": (0.35, _features),
    "glyphs": (0.25, _features),
    "shapes": (0.15, _features),
    "counting": (0.15, _foreground_fraction),
}


@pytest.mark.parametrize("family", sorted(LEARNABLE))
def test_linear_probe_beats_chance(family):
    margin, feature_fn = LEARNABLE[family]
    spec = small(family, name="learn", num_classes=5, train_per_class=40, val_per_class=1, test_per_class=30)
    arrays = render_arrays(spec)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.1 if feature_fn is _features else 100))
    clf.fit(feature_fn(arrays["train"][0]), arrays["train"][1])
    acc = clf.score(feature_fn(arrays["test"][0]), arrays["test"][1])
    assert acc > 1 / 5 + margin, f"{family}: accuracy {acc:.2f}"


# ------------------------------------------------------------------------------------- disk + cache
def test_write_reload_and_metadata(tmp_path):
    spec = small("counting", variants=("blur",), role="source")
    path = write_dataset(spec, tmp_path)
    assert path == tmp_path / spec.name
    dd = datasets.load_from_disk(str(path))
    assert isinstance(dd, datasets.DatasetDict) and set(dd) == {"train", "validation", "test"}
    assert dd["train"].features["label"].names == ["one", "two", "three"]
    assert np.array_equal(pixels(dd["test"]), render_arrays(spec)["test"][0])
    meta = read_metadata(path)
    assert (meta["family"], meta["variants"], meta["role"]) == ("counting", ["blur"], "source")
    assert meta["spec_hash"] == spec.spec_hash() and meta["splits"] == {"train": 12, "validation": 6, "test": 9}
    assert json.loads(dd["validation"].info.description)["role"] == "source"
    assert [p.name for p in tmp_path.iterdir()] == [spec.name]  # no temp folders left behind


def test_cache_skips_complete_and_redoes_broken(tmp_path):
    spec = small("colors")
    path = write_dataset(spec, tmp_path)
    files = [path / META_FILE, *sorted(path.glob("*/*.arrow"))]
    stamps = [f.stat().st_mtime_ns for f in files]
    os.utime(path / META_FILE, ns=(1, 1))  # make any rewrite visible even on coarse clocks
    assert write_dataset(spec, tmp_path) == path
    assert (path / META_FILE).stat().st_mtime_ns == 1
    assert [f.stat().st_mtime_ns for f in files[1:]] == stamps[1:]
    # half-written: a split's state is missing -> rebuilt
    (path / "test" / "state.json").unlink()
    assert not is_complete(path, spec.spec_hash())
    write_dataset(spec, tmp_path)
    assert is_complete(path, spec.spec_hash()) and (path / META_FILE).stat().st_mtime_ns != 1
    # another spec under the same name -> rebuilt
    other = small("colors", seed=5)
    write_dataset(other, tmp_path)
    assert read_metadata(path)["spec_hash"] == other.spec_hash()
    assert sorted(p.name for p in tmp_path.iterdir()) == [spec.name]


# ------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"family": "shapez"}, "unknown dataset family 'shapez'"),
        ({"num_classes": 1}, "at least 2 classes"),
        ({"classes": ("circle",)}, "at least 2 classes"),
        ({"num_classes": 13}, "has only 12 classes"),
        ({"classes": ("circle", "blob")}, "unknown class"),
        ({"variants": ("noize",)}, "unknown dataset variant 'noize'"),
        ({"family": "colors", "variants": ("invert",)}, "cannot be used with family 'colors'"),
        ({"family": "sklearn_digits", "train_per_class": 170}, "only 174 images per class"),
        ({"role": "both"}, "role must be"),
        ({"name": "../evil"}, "not valid"),
        ({"train_per_class": 0}, "at least 1"),
    ],
)
def test_bad_specs_raise_one_line_errors(kwargs, words):
    family = kwargs.pop("family", "shapes")
    with pytest.raises(ZooRankError) as err:
        small(family, **kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_unknown_family_is_a_registry_error():
    with pytest.raises(RegistryError, match="did you mean 'shapes'"):
        DatasetSpec("x", "shape")


# ------------------------------------------------------------------------------------- presets + CLI
def test_presets_cover_families_and_keep_sources_and_targets_distinct():
    for preset in ("tiny", "default"):
        specs = preset_specs(preset)
        names = [s.name for s in specs]
        assert len(names) == len(set(names))
        assert len({s.family for s in specs}) >= 5
        targets = [s for s in specs if s.role == "target"]
        sources = [s for s in specs if s.role == "source"]
        assert len({s.family for s in targets}) >= 5
        keys = [(s.family, frozenset(s.classes), s.variants) for s in specs]
        assert len(keys) == len(set(keys)), "two datasets of a preset would be the same data"
        if preset == "default":
            assert len(targets) >= 24 and 4 <= len(sources) <= 8
            assert all(300 <= s.train_per_class <= 500 for s in sources)
            assert all(60 <= s.train_per_class <= 100 and s.test_per_class >= 50 for s in targets)
            probes = [s for s in specs if s.role == "probe"]
            # every source family under every corruption, small (the probe profiles read 40 + 20 per class)
            assert {s.family for s in probes} == {s.family for s in sources}
            assert len({v for s in probes for v in s.variants}) >= 5
            assert all(s.train_per_class == 40 and s.test_per_class == 20 for s in probes)
    assert preset_specs("tiny", seed=3)[0].seed == 3
    with pytest.raises(ZooRankError, match="unknown preset"):
        preset_specs("huge")


def test_cli_tiny_preset_builds_index(tmp_path):
    out = tmp_path / "synth"
    assert cli_main(["--preset", "tiny", "--out", str(out), "--no-progress"]) == 0
    index = json.loads((out / INDEX_FILE).read_text())
    entries = index["datasets"]
    assert len(entries) == len(preset_specs("tiny")) and index["preset"] == "tiny"
    assert len({e["family"] for e in entries}) >= 5
    assert {e["role"] for e in entries} == {"source", "target", "probe"}
    for e in entries:
        assert set(e) >= {"name", "family", "variants", "role", "num_classes", "class_names", "splits", "spec_hash"}
        assert is_complete(out / e["path"], e["spec_hash"])
    dd = datasets.load_from_disk(str(out / entries[-1]["path"]))
    assert len(dd["test"]) == entries[-1]["splits"]["test"]
    # a second run reuses everything
    stamp = (out / entries[0]["name"] / META_FILE).stat().st_mtime_ns
    assert cli_main(["--preset", "tiny", "--out", str(out), "--no-progress", "--only", "src_*"]) == 0
    assert (out / entries[0]["name"] / META_FILE).stat().st_mtime_ns == stamp
    names = [e["name"] for e in json.loads((out / INDEX_FILE).read_text())["datasets"]]
    assert sorted(names) == sorted(e["name"] for e in entries)  # --only keeps the other entries


def test_cli_user_error_exits_2(tmp_path, monkeypatch, capsys):
    # `python -m dataloader.synthetic ...`, run in-process (a subprocess would re-import torch)
    argv = ["dataloader.synthetic", "--preset", "tiny", "--out", str(tmp_path), "--only", "nope*"]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.delitem(sys.modules, "dataloader.synthetic.__main__", raising=False)  # run it afresh
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("dataloader.synthetic", run_name="__main__", alter_sys=True)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: --only 'nope*' matches no dataset of preset 'tiny'"
