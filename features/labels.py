"""Model labels: what a model was trained to name, as one CLIP text vector (a model token part of its own).

A classifier's config names its classes (`id2label` of a Hugging Face config). Each class name goes through the
CLIP text encoder (the dataset tokens' CLIP, so text and image tokens share one space) under a few prompt
templates; a model's label vector is the unit mean of its unit class vectors [D]. A target is compared with it by
the cosine of its mean image token: a model trained to tell apart things that look like the target's images.
Metadata of the model, never a target's: computed when a model enters the zoo (extract_model_labels.py) and by
`recommend.py add-model`. A model without named classes (default `LABEL_k` names, timm or open_clip weights,
a bare state dict) gets zeros: the ranker's z-scores then read it as average.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TEMPLATES = ("a photo of a {}.", "a {}.", "the {}.", "{}")  # zoo/clip.py's generic zero-shot prompts
_DEFAULT_NAME = re.compile(r"^LABEL_\d+$")


def class_name(label: str) -> str:
    """A label as a class name: the leaf of a hierarchical label (`colors/red` -> `red`), underscores as spaces."""
    return label.rsplit("/", 1)[-1].replace("_", " ").strip()


def class_names(source: str) -> list[str]:
    """The class names a model's config gives (a model folder with config.json, or a hub id whose config is in
    the local cache); [] when it names none."""
    path = Path(source)
    try:
        if path.is_dir():
            cfg = json.loads((path / "config.json").read_text()) if (path / "config.json").is_file() else {}
        elif path.exists():
            return []
        else:
            from transformers import AutoConfig

            cfg = AutoConfig.from_pretrained(source).to_dict()
    except (OSError, ValueError):
        return []
    id2label = cfg.get("id2label") or {}
    names = [str(id2label[k]) for k in sorted(id2label, key=lambda k: int(k))] if isinstance(id2label, dict) else []
    if not names or all(_DEFAULT_NAME.match(n) for n in names):
        return []
    return [class_name(n) for n in names]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def label_vectors(names: Mapping[str, Sequence[str]], encode_text, dim: int,
                  templates: Sequence[str] = TEMPLATES) -> dict[str, np.ndarray]:
    """names: model id -> its class names; encode_text: texts [K] -> features [K, D] -> model id -> its label
    vector [D] float32 (zeros without names). Each distinct class name is encoded once."""
    distinct = sorted({n for ns in names.values() for n in ns})
    per_name: dict[str, np.ndarray] = {}
    if distinct:
        prompts = np.stack([_unit(np.asarray(encode_text([t.format(n) for n in distinct]), np.float64))
                            for t in templates])  # [templates, K, D]
        per_name = dict(zip(distinct, _unit(prompts.mean(0))))
    return {m: (_unit(np.mean([per_name[n] for n in ns], 0)) if ns else np.zeros(dim)).astype(np.float32)
            for m, ns in names.items()}


@dataclass
class Labels:
    """Model id -> label vector [D], how many classes it names, the digest of its names; the CLIP's fingerprint."""

    vectors: dict[str, np.ndarray]
    named: dict[str, int]
    digests: dict[str, str]
    fingerprint: str


def names_digest(names: Sequence[str]) -> str:
    return hashlib.sha1(json.dumps(list(names)).encode()).hexdigest()[:16]


def reusable(previous: Path | None, fingerprint: str) -> dict[str, tuple[str, np.ndarray]]:
    """Model id -> (names digest, label vector) of an earlier labels.npz made by the same CLIP and templates; {}
    when there is none or it cannot be read (then every model is encoded again and the file rewritten)."""
    from dataloader.model_labels import read_labels
    from utils import log
    from utils.errors import ZooRankError

    if previous is None or not Path(previous).is_file():
        return {}
    try:
        data = read_labels(previous)
    except ZooRankError as err:
        log.get_logger(__name__).warning("%s; encoding every model's labels again", err)
        return {}
    meta = data["metadata"]
    if meta.get("fingerprint") != fingerprint or meta.get("templates") != list(TEMPLATES):
        return {}
    digests = meta.get("digests") or {}
    return {str(m): (digests[str(m)], v) for m, v in zip(data["ids"], data["labels"]) if str(m) in digests}


def model_labels(refs: Sequence, tokens_cfg, previous: Path | None = None) -> Labels:
    """refs (features.refs.Ref: id, source) and the [dataset_tokens] section -> the models' Labels. A model whose
    class names are those it had in `previous` (a labels.npz of the same CLIP) keeps its vector there: only new
    names go through the text encoder. An encoder without text gives zeros."""
    from extractors.dataset import DATASET_EXTRACTOR_REGISTRY

    extractor = DATASET_EXTRACTOR_REGISTRY.get(tokens_cfg.extractor)(tokens_cfg)
    fingerprint = extractor.fingerprint()
    names = {r.id: class_names(r.source) for r in refs}
    if not extractor.supports_text:
        names = {m: [] for m in names}
        encode, dim = None, 1
    else:
        encode = extractor.text_features
        dim = int(encode(["a"]).shape[1])
    digests = {m: names_digest(ns) for m, ns in names.items()}
    known = {m: v for m, (d, v) in reusable(previous, fingerprint).items()
             if digests.get(m) == d and v.shape == (dim,)}
    fresh = label_vectors({m: ns for m, ns in names.items() if m not in known}, encode, dim)
    return Labels({m: known[m] if m in known else fresh[m] for m in names}, {m: len(ns) for m, ns in names.items()},
                  digests, fingerprint)


def write_labels(path: Path, labels: Labels) -> Path:
    """labels.npz (dataloader/model_labels.py's format), written atomically."""
    from utils import io

    ids = list(labels.vectors)
    meta = {"fingerprint": labels.fingerprint, "templates": list(TEMPLATES), "digests": labels.digests}
    io.save_npz(path, ids=np.array(ids, dtype=str),
                labels=np.stack([labels.vectors[m] for m in ids]).astype(np.float32),
                named=np.array([labels.named[m] for m in ids], dtype=np.int64), metadata=np.array(json.dumps(meta)))
    return Path(path)
