"""A far companion rebuilt from its config: the trained weights-only ranker whose ranking the probe ranker adds to
its general-quality reading on a far target (model/probe_ranker.py). train/companion.py trains it; the trainer and
recommender/ranker.py both build it here.

The probe ranker's checkpoint holds the companion's weights; its run folder holds the companion's resolved config
(COMPANION_INI), so that a ranker is rebuilt from its own run folder alone.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from config.parser import ConfigParser
from config.ranking import TransformerTrainerConfig
from config.ranking_data import RankingDataConfig
from utils import checkpoint as ckpt
from utils.artifacts import read_text
from utils.errors import ZooRankError

COMPANION_INI = "companion.ini"  # in the probe ranker's run folder: the companion's resolved config


def companion_columns(companion: RankingDataConfig, part_columns: dict[str, tuple[int, int]]) -> torch.Tensor:
    """The columns of the probe ranker's model tokens that make the companion's (its token parts, in its order)."""
    missing = [p for p in companion.model_token_parts if p not in part_columns]
    if missing:
        raise ZooRankError(f"[transformer] far_companion reads the model token parts {', '.join(missing)}; add them to "
                           "[ranking_data] model_token_parts")
    return torch.cat([torch.arange(*part_columns[p]) for p in companion.model_token_parts])


def build_companion(ini_text: str, dataset_dim: int, model_dim: int) -> nn.Module:
    """The companion module (untrained) from its resolved config."""
    from model import RANKER_REGISTRY  # the registry's package imports this one's siblings

    cfg = ConfigParser.from_text(ini_text, COMPANION_INI, ignore_unknown_sections=True).get(TransformerTrainerConfig)
    return RANKER_REGISTRY.get(cfg.model).from_config(cfg, dataset_dim, model_dim)


def config_of(run: Path) -> str:
    """A ranker run's resolved config.ini, as text."""
    return read_text(run / "config.ini", what="far companion config", rebuild="train the companion again")


def load_companion(run: Path, dataset_dim: int, part_columns: dict[str, tuple[int, int]],
                   ) -> tuple[nn.Module, torch.Tensor, str]:
    """(the companion with its best weights, its columns in the probe ranker's model tokens, its config text)."""
    text = config_of(run)
    data = ConfigParser.from_text(text, f"{run}/config.ini", ignore_unknown_sections=True).get(RankingDataConfig)
    columns = companion_columns(data, part_columns)
    module = build_companion(text, dataset_dim, len(columns))
    path = ckpt.weights_of(run)
    if path is None:
        raise ZooRankError(f"[transformer] far_companion: {run} has no checkpoint; train it again")
    try:
        module.load_state_dict(ckpt.load(path)["model"])
    except RuntimeError:
        raise ZooRankError(f"[transformer] far_companion: {path} does not fit its config; train it again") from None
    return module, columns, text
