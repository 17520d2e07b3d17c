"""`recommend.py add-model`: put a new model among the candidates without retraining anything.

The model's parameter vector is extracted with the zoo's [extractor]/[vectorizer] settings into
<added_models_dir> (the same folder layout as extract_model_vectors.py: vectors/, index.json), then
normalized with the autoencoder's saved normalizer and encoded with the saved autoencoder into
<added_models_dir>/embeddings.npz, which has the format of the autoencoder's embeddings.npz. The
training files (model_vectors/, the autoencoder's embeddings.npz) are never touched, so
`train.py modelautoencoder` and `train.py transformer` behave as before.

embeddings.npz records a stamp of the autoencoder it was encoded with; after the autoencoder is
retrained the added models are re-encoded from their stored vectors (no re-extraction).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from config.layout import EMBEDDINGS
from dataloader.autoencoder import AE_FILES, load_autoencoder
from dataloader.model_labels import LABELS, read_labels
from dataloader.model_parameter_dataset import ModelParameterDataset
from dataloader.model_table import read_embeddings
from dataloader.probe_profiles import read_profiles
from extractors import EXTRACTOR_REGISTRY, build_vectorizer
from extractors.base import ModelSpec
from extractors.runner import fingerprint, run_extraction
from extractors.store import read_vector, vector_path
from utils import io, log
from utils.errors import ZooRankError
from utils.hashing import files_hash

logger = log.get_logger(__name__)
# encode_added re-encodes every stored vector of the folder, so any add-model rebuilds the embeddings
REENCODE = "delete it and re-run python recommend.py add-model (it re-encodes every added model)"


def autoencoder_stamp(ae_dir: Path) -> str:
    """Content hash of the published autoencoder and normalizer: which encoder made an embedding."""
    for name in AE_FILES:
        if not (ae_dir / name).is_file():
            raise ZooRankError(f"no trained autoencoder in {ae_dir} ({name} missing); run python train.py modelautoencoder")
    return files_hash([ae_dir / name for name in AE_FILES], algorithm="sha1")


def stored_stamp(added_dir: Path) -> str | None:
    path = added_dir / EMBEDDINGS
    if not path.is_file():
        return None
    data = read_embeddings(path, rebuild=REENCODE)
    return str(data["autoencoder"]) if "autoencoder" in data else None


def encode_added(added_dir: Path, ae_dir: Path) -> list[str]:
    """(Re-)encode every vector in `added_dir` with the published autoencoder; returns the ids."""
    model, normalizer = load_autoencoder(ae_dir)
    data = ModelParameterDataset(added_dir, normalizer=normalizer)
    with torch.no_grad():
        codes = model.encode(data.x).numpy()
    io.save_npz(added_dir / EMBEDDINGS, ids=np.array(data.ids, dtype=str), embeddings=codes, vectors=data.x.numpy(),
                log_params=data.log_params, role=np.full(len(data.ids), "added", dtype="<U8"),
                autoencoder=np.array(autoencoder_stamp(ae_dir)))
    return data.ids


def refresh(added_dir: Path, ae_dir: Path) -> None:
    """Re-encode the added models when the autoencoder changed since they were encoded."""
    if (added_dir / EMBEDDINGS).is_file() and stored_stamp(added_dir) != autoencoder_stamp(ae_dir):
        ids = encode_added(added_dir, ae_dir)
        logger.info("the autoencoder changed since models were added: re-encoded %d added model(s)", len(ids))


def check_same_settings(zoo_vectors: Path, extractor_cfg: Any, vectorizer_cfg: Any) -> None:
    """The new vector is only comparable when made like the zoo's: recompute a zoo model's settings
    fingerprint under the current config and compare it with the one stored in its vector file."""
    first = min((zoo_vectors / "vectors").glob("*.npz"), default=None)
    if first is None:
        logger.warning("no zoo vectors in %s: cannot check that [extractor]/[vectorizer] match them", zoo_vectors)
        return
    meta = read_vector(first, with_arrays=False)["metadata"]
    spec = ModelSpec(meta["id"], meta["source"], extractor=meta["extractor"], options=meta.get("options") or {})
    extractor = EXTRACTOR_REGISTRY.get(meta["extractor"])(extractor_cfg)
    if fingerprint(spec, extractor, build_vectorizer(vectorizer_cfg)) != meta.get("fingerprint"):
        raise ZooRankError(f"the [extractor]/[vectorizer] settings differ from those the zoo's vectors in {zoo_vectors} "
                           "were made with; add models with the same config (and --set overrides) as the zoo")


def _same_source(a: str, b: str) -> bool:
    """Two sources name the same model: equal hub ids, or the same folder however it was written."""
    if a == b:
        return True
    return Path(a).exists() and Path(b).exists() and Path(a).resolve() == Path(b).resolve()


def shadowed(specs: list[ModelSpec], added_dir: Path) -> list[tuple[ModelSpec, str]]:
    """(spec, stored source) of the specs whose id was already added from another source."""
    out = []
    for spec in specs:
        path = vector_path(added_dir, spec.id)
        if path.is_file():
            stored = str(read_vector(path, with_arrays=False)["metadata"].get("source", ""))
            if not _same_source(stored, spec.source):
                out.append((spec, stored))
    return out


def add_models(specs: list[ModelSpec], extractor_cfg: Any, vectorizer_cfg: Any, added_dir: Path, ae_dir: Path,
               zoo_ids: set[str], zoo_vectors: Path, force: bool = False,
               replace: bool = False) -> dict[str, list[str]]:
    """Extract, normalize, encode and register `specs`; {"added": ids, "already": ids}. An id already added
    from another source is an error unless `replace` (then that model is extracted again from the new source)."""
    known = [s.id for s in specs if s.id in zoo_ids]
    if known:
        raise ZooRankError(f"model '{known[0]}' is already in the zoo's embeddings; it is ranked without adding it")
    autoencoder_stamp(ae_dir)  # no autoencoder: stop before extracting anything
    load_autoencoder(ae_dir)  # nor a damaged one
    io.remove_stale_temps(added_dir)  # of a killed earlier add-model
    taken = shadowed(specs, added_dir)
    if taken and not replace:
        spec, stored = taken[0]
        raise ZooRankError(f"id '{spec.id}' was already added from {stored}, not from {spec.source}; pass --replace "
                           "to replace it, or give the new model another --id")
    check_same_settings(zoo_vectors, extractor_cfg, vectorizer_cfg)
    summary = run_extraction(specs, dataclasses.replace(extractor_cfg, on_error="fail"), vectorizer_cfg, added_dir,
                             force=force or bool(taken))
    encode_added(added_dir, ae_dir)
    return {"added": summary.done, "already": summary.resumed}


def profile_added(added_dir: Path, zoo_profiles: Path, probes_cfg: Any, loader_cfg: Any, run: Any,
                  layout: Any) -> Path | None:
    """Every added model's probe profile on the probe datasets of the zoo's profiles (<added_dir>/profiles.npz,
    cached per pair like the zoo's), so that a probe ranker ranks it; None for a zoo without profiles."""
    if not Path(zoo_profiles).is_file():
        return None
    from features.profile_store import merge_profiles, probe_items, run_profiles
    from features.refs import parse_datasets
    from recommender.budget import model_sources

    collection = {p.id: p for p in parse_datasets(*probe_items(probes_cfg, layout))}
    zoo = [str(p) for p in read_profiles(zoo_profiles)["probes"]]
    missing = [p for p in zoo if p not in collection]
    if missing:
        raise ZooRankError(f"the zoo's probe profiles {zoo_profiles} were made on probe datasets that [probes] does not "
                           f"name now ({', '.join(missing[:3])}); add models with the [probes] settings of the zoo")
    probes = [collection[p] for p in zoo]
    models = list(model_sources([added_dir]).values())
    run_profiles(models, probes, probes_cfg, loader_cfg, run, added_dir)
    return merge_profiles(models, probes, probes_cfg, added_dir)


def label_added(added_dir: Path, zoo_labels: Path, tokens_cfg: Any) -> Path | None:
    """Every added model's label vector (<added_dir>/labels.npz, features/labels.py) by the CLIP of the zoo's labels,
    so that a ranker reading labels ranks it (the models added before keep theirs); None for a zoo without labels."""
    if not Path(zoo_labels).is_file():
        return None
    from features.labels import model_labels, write_labels
    from recommender.budget import model_sources

    labels = model_labels(list(model_sources([added_dir]).values()), tokens_cfg, previous=added_dir / LABELS)
    zoo_clip = str(read_labels(zoo_labels)["metadata"].get("fingerprint", ""))
    if labels.fingerprint != zoo_clip:
        raise ZooRankError(f"the zoo's model labels {zoo_labels} were made with {zoo_clip}, [dataset_tokens] now gives "
                           f"{labels.fingerprint}; add models with the [dataset_tokens] settings of the zoo")
    return write_labels(added_dir / LABELS, labels)
