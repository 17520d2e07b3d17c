"""Model labels: a model's class names (its config's id2label) as one CLIP text vector, from a real tiny open_clip
model and real transformers model folders; the labels.npz file and its reading as model token columns."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT
from test_dataset_tokens import clip_dir  # noqa: F401  (the module's tiny CLIP folder)
from transformers import ResNetConfig, ResNetForImageClassification

from config import DatasetTokensConfig
from dataloader.model_labels import ModelLabels
from extractors.dataset import DATASET_EXTRACTOR_REGISTRY
from features.labels import TEMPLATES, class_name, class_names, label_vectors
from utils.errors import ZooRankError


def _model(folder, labels=None):
    cfg = ResNetConfig(embedding_size=8, hidden_sizes=[8], depths=[1], num_labels=len(labels or [0, 1]),
                       **({"id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in enumerate(labels)}}
                          if labels else {}))
    torch.manual_seed(0)
    ResNetForImageClassification(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    _model(root / "colors", ["colors/red", "colors/dark_blue", "colors/green"])
    _model(root / "mixed", ["colors/red", "digits/7"])
    _model(root / "unnamed")  # transformers' default LABEL_0, LABEL_1
    (root / "index.json").write_text(json.dumps({"models": [{"id": m, "path": m} for m in ("colors", "mixed", "unnamed")]}))
    return root


def test_class_names_are_the_leaves_of_the_configs_labels(zoo, tmp_path):
    assert class_name("colors/dark_blue") == "dark blue" and class_name("tabby cat") == "tabby cat"
    assert class_names(str(zoo / "colors")) == ["red", "dark blue", "green"]
    assert class_names(str(zoo / "unnamed")) == []  # default names say nothing
    assert class_names(str(tmp_path)) == []  # a folder without config.json
    (tmp_path / "weights.pt").write_bytes(b"x")
    assert class_names(str(tmp_path / "weights.pt")) == []  # a bare state dict names no classes


def _clip_text(clip_dir, texts):  # noqa: F811
    import open_clip

    open_clip.add_model_config(clip_dir / "zr-tiny-clip.json")
    model, _, _ = open_clip.create_model_and_transforms("zr-tiny-clip",
                                                        pretrained=str(clip_dir / "open_clip_model.safetensors"))
    with torch.no_grad():
        f = model.eval().encode_text(open_clip.get_tokenizer("zr-tiny-clip")(texts)).double().numpy()
    return f / np.linalg.norm(f, axis=1, keepdims=True)


def test_script_writes_the_unit_mean_of_each_class_names_prompts(zoo, clip_dir, tmp_path):  # noqa: F811
    out = tmp_path / "labels.npz"
    proc = subprocess.run([sys.executable, str(ROOT / "extract_model_labels.py"), "--models", str(zoo / "index.json"),
                           "--output", str(out), "--set", "dataset_tokens.clip_model=zr-tiny-clip",
                           "--set", f"dataset_tokens.clip_pretrained={clip_dir}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model labels: 3 models, 5 class names" in proc.stdout
    assert proc.stderr.count("name no classes") == 1  # one warning for the run, not one per model
    labels = ModelLabels(out)
    expected = []
    for name in ("red", "dark blue", "green"):  # each class: the unit mean of its unit prompt features
        v = np.mean([_clip_text(clip_dir, [t.format(name)])[0] for t in TEMPLATES], 0)
        expected.append(v / np.linalg.norm(v))
    want = np.mean(expected, 0)
    np.testing.assert_allclose(labels.block(["colors"])[0], want / np.linalg.norm(want), atol=1e-5)
    assert np.linalg.norm(labels.block(["mixed"])[0]) == pytest.approx(1.0, abs=1e-5)
    assert not labels.block(["unnamed"]).any()  # zeros: read as average by the ranker's z-scores
    extractor = DATASET_EXTRACTOR_REGISTRY.get("clip")(DatasetTokensConfig(clip_model="zr-tiny-clip",
                                                                          clip_pretrained=str(clip_dir)))
    assert labels.fingerprint == extractor.fingerprint()  # what the dataset tokens record
    labels.check_fingerprint(extractor.fingerprint())
    with pytest.raises(ZooRankError, match="extract_model_labels.py"):
        labels.check_fingerprint("clip:another")
    with pytest.raises(ZooRankError, match="no label vector for model"):
        labels.block(["colors", "not-in-the-zoo"])


def test_every_distinct_class_name_is_encoded_once(clip_dir):  # noqa: F811
    extractor = DATASET_EXTRACTOR_REGISTRY.get("clip")(DatasetTokensConfig(clip_model="zr-tiny-clip",
                                                                          clip_pretrained=str(clip_dir)))
    seen = []

    def encode(texts):
        seen.extend(texts)
        return extractor.text_features(texts)

    out = label_vectors({"a": ["red", "blue"], "b": ["red"], "c": []}, encode, 32)
    assert sorted(seen) == sorted(t.format(n) for t in TEMPLATES for n in ("blue", "red"))
    assert not out["c"].any() and out["a"].shape == (32,)
    np.testing.assert_allclose(out["b"], _clip_text_mean(extractor, "red"), atol=1e-5)


def _clip_text_mean(extractor, name):
    f = np.stack([extractor.text_features([t.format(name)])[0] for t in TEMPLATES]).astype(np.float64)
    v = (f / np.linalg.norm(f, axis=1, keepdims=True)).mean(0)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("content, needle", [(b"not an npz", "labels.npz"), (None, "not found")])
def test_a_damaged_or_missing_labels_file_is_one_error_naming_it(tmp_path, content, needle):
    path = tmp_path / "labels.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ZooRankError, match=needle) as err:
        ModelLabels(path)
    assert "extract_model_labels.py" in str(err.value)


def test_script_bad_input_exit_2(zoo, tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "extract_model_labels.py"), "--models", str(zoo / "index.json"),
                           "--output", str(tmp_path / "labels.npz"), "--set", "dataset_tokens.extractor=clipp"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "did you mean 'clip'" in proc.stderr
    assert not (tmp_path / "labels.npz").exists()


def test_a_rerun_keeps_the_vectors_of_models_whose_class_names_did_not_change(zoo, clip_dir, tmp_path, caplog):  # noqa: F811
    """extract_model_labels.py and add-model pass their earlier file: a model with the same class names (by digest)
    keeps its vector, one whose names changed, or a file of another CLIP or a damaged one, is encoded again."""
    from features.labels import Labels, model_labels, names_digest, write_labels
    from features.refs import parse_models

    cfg = DatasetTokensConfig(clip_model="zr-tiny-clip", clip_pretrained=str(clip_dir))
    refs = parse_models([str(zoo / "index.json")])
    fresh = model_labels(refs, cfg)
    assert fresh.digests["colors"] == names_digest(["red", "dark blue", "green"])
    marker = np.full_like(fresh.vectors["colors"], 1 / np.sqrt(fresh.vectors["colors"].size))
    earlier = tmp_path / "labels.npz"
    write_labels(earlier, Labels({"colors": marker, "mixed": marker}, {"colors": 3, "mixed": 2},
                                 {"colors": fresh.digests["colors"], "mixed": "stale"}, fresh.fingerprint))
    again = model_labels(refs, cfg, previous=earlier)
    np.testing.assert_array_equal(again.vectors["colors"], marker)  # kept, not encoded again
    np.testing.assert_allclose(again.vectors["mixed"], fresh.vectors["mixed"], atol=1e-6)  # names changed
    np.testing.assert_allclose(again.vectors["unnamed"], fresh.vectors["unnamed"])  # new to the file
    write_labels(earlier, Labels({"colors": marker}, {"colors": 3}, {"colors": fresh.digests["colors"]}, "clip:other"))
    np.testing.assert_allclose(model_labels(refs, cfg, previous=earlier).vectors["colors"], fresh.vectors["colors"],
                               atol=1e-6)  # another CLIP's vector is never kept
    earlier.write_bytes(b"damaged")
    with caplog.at_level("WARNING"):
        np.testing.assert_allclose(model_labels(refs, cfg, previous=earlier).vectors["colors"], fresh.vectors["colors"],
                                   atol=1e-6)
    assert "labels.npz" in caplog.text and "encoding every model's labels again" in caplog.text
