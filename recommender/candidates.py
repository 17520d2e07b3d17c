"""The candidates a ranker scores: the zoo (the autoencoder's embeddings.npz) plus the models registered
with `recommend.py add-model` (<added_models_dir>/embeddings.npz, same format), as one ModelTable."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from config import RankingDataConfig
from config.layout import Layout
from dataloader.model_labels import LABELS, ModelLabels
from dataloader.model_table import ModelTable
from dataloader.probe_profiles import PROFILES, ProbeProfiles
from extractors.store import INDEX
from recommender.added import EMBEDDINGS, REENCODE, refresh
from recommender.dataset import training_token_settings
from utils import log
from utils.errors import ZooRankError
from utils.index import read_index

logger = log.get_logger(__name__)


@dataclasses.dataclass
class Candidates:
    table: ModelTable
    added: list[str]  # ids registered with add-model
    params: dict[str, int]  # parameter count per id

    def __len__(self) -> int:
        return len(self.table.ids)


def param_counts(table: ModelTable, vector_dirs: list[Path]) -> dict[str, int]:
    """Exact counts from the vector indexes (what the extractor counted: weights and buffers); the
    table's float32 log10 count only where no index has the model."""
    counts: dict[str, int] = {}
    for folder in vector_dirs:
        if not (folder / INDEX).is_file():
            continue
        try:
            entries = read_index(folder / INDEX, "models", "model vector index")
            counts.update({e["id"]: int(e["num_params"]) for e in entries if e.get("num_params") is not None})
        except (ZooRankError, KeyError, TypeError, ValueError, AttributeError) as err:
            # the index is rebuilt from the vectors: the table's counts stand in meanwhile
            logger.warning("parameter counts from the embeddings instead of %s (%s)", folder / INDEX, err)
            continue
    return {m: counts.get(m, int(round(10 ** float(table.log_params[i])))) for i, m in enumerate(table.ids)}


def load_candidates(cfg: RankingDataConfig, artifacts_dir: Path, added_dir: Path, zoo_vectors: Path) -> Candidates:
    """The zoo's models (a ranker's [ranking_data]: its embeddings and token parts) and the added ones."""
    layout = Layout(artifacts_dir)
    probe = "probe" in cfg.model_token_parts
    zoo_profiles = cfg.profiles(layout)
    labels = "labels" in cfg.model_token_parts
    clip = training_token_settings(cfg.tokens_dir(layout)).get("extractor_fingerprint") if labels else None

    def read_labels(path: Path) -> ModelLabels | None:
        if not labels:
            return None
        out = ModelLabels(path)
        out.check_fingerprint(clip)  # the ranker compares them with tokens of that CLIP
        return out

    table = ModelTable(cfg.embeddings(layout), cfg.model_token_parts,
                       probes=ProbeProfiles(zoo_profiles, exclude=cfg.probe_exclude) if probe else None,
                       labels=read_labels(cfg.labels(layout)))
    added: list[str] = []
    if (added_dir / EMBEDDINGS).is_file():
        refresh(added_dir, layout.autoencoder)
        probes = ProbeProfiles(added_dir / PROFILES, zoo_profiles, cfg.probe_exclude) if probe else None
        added = table.extend(ModelTable(added_dir / EMBEDDINGS, cfg.model_token_parts, rebuild=REENCODE, probes=probes,
                                        labels=read_labels(added_dir / LABELS)))
    return Candidates(table, added, param_counts(table, [zoo_vectors, added_dir]))
