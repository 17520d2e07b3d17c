"""The far companion: a trained weights-only ranker whose ranking the probe ranker adds to its general-quality
reading on a far target (model/probe_ranker.py; [transformer] far_companion).

Why: a far target is one no probe resembles, and a linear reading of the profiles ranks every such target alike.
The weights-only rankers read the target's CLIP tokens against each model's parameter embedding, which tells models
apart where no probe does. On the default world's far targets the sum of the two z-scores beat either alone (README).

`far_companion` is a run name under the transformer runs folder (the trainer trains it first, with COMPANION's
settings on this run's data, when it is missing or was trained with another config) or a run folder, used as it is.
The probe ranker's checkpoint holds the companion's weights; its run folder holds the companion's config
(COMPANION_INI), so that a ranker is rebuilt from its own run folder alone (recommender/ranker.py).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import torch
from torch import nn

from config.parser import ConfigParser
from config.ranking import COMPANION, TransformerTrainerConfig
from config.ranking_data import RankingDataConfig
from model import RANKER_REGISTRY
from utils import checkpoint as ckpt
from utils import log, runs
from utils.artifacts import read_text
from utils.errors import ZooRankError
from utils.seed import rng_state, set_rng_state

logger = log.get_logger(__name__)
COMPANION_INI = "companion.ini"  # in the probe ranker's run folder: the companion's resolved config


def companion_dir(spec: str, runs_dir: Path) -> tuple[Path, bool]:
    """(the companion's run folder, whether this trainer owns it: a bare run name is trained here when needed)."""
    owned = "/" not in spec and "\\" not in spec
    return (runs_dir / spec if owned else Path(spec).expanduser()), owned


def companion_parser(parent_ini: str, run_name: str) -> ConfigParser:
    """The companion's config: the probe ranker's resolved config with COMPANION's settings and its own run name."""
    return ConfigParser.from_text(parent_ini, "the ranker's config", [*COMPANION, f"transformer.run_name={run_name}"])


def ensure_companion(spec: str, runs_dir: Path, parent_ini: str, distributed: bool) -> Path:
    """The companion's run folder, trained first when this trainer owns it and it is missing, unfinished or was
    trained with another config; a run folder given as a path must hold a finished run."""
    from train.transformer_trainer import TransformerTrainer  # the companion is a transformer run too

    run, owned = companion_dir(spec, runs_dir)
    if not owned:
        if not runs.is_complete(run) or not (run / "config.ini").is_file():
            raise ZooRankError(f"[transformer] far_companion: {run} is not a finished ranker run; train one "
                               "(python train.py transformer) or set far_companion = weights_only")
        return run
    parser = companion_parser(parent_ini, spec)
    wanted = parser.to_ini()
    if runs.is_complete(run) and (run / "config.ini").is_file() and _config_of(run) == wanted:
        return run
    if distributed:
        raise ZooRankError(f"[transformer] far_companion: train the companion {run} before a distributed run: "
                           "python train.py transformer (one process) trains it first")
    logger.info("far companion: training the weights-only ranker %s first", run)
    if run.exists():  # another config, or a run that did not finish: start over
        shutil.rmtree(run)
    state = rng_state()  # the probe ranker's own run goes on as if the companion had been there already
    TransformerTrainer.from_config(parser).fit()
    set_rng_state(state)
    return run


def _config_of(run: Path) -> str:
    return read_text(run / "config.ini", what="far companion config", rebuild="train the companion again")


def companion_columns(companion: RankingDataConfig, part_columns: dict[str, tuple[int, int]]) -> torch.Tensor:
    """The columns of the probe ranker's model tokens that make the companion's (its token parts, in its order)."""
    missing = [p for p in companion.model_token_parts if p not in part_columns]
    if missing:
        raise ZooRankError(f"[transformer] far_companion reads the model token parts {', '.join(missing)}; add them to "
                           "[ranking_data] model_token_parts")
    return torch.cat([torch.arange(*part_columns[p]) for p in companion.model_token_parts])


def build_companion(ini_text: str, dataset_dim: int, model_dim: int) -> nn.Module:
    """The companion module (untrained) from its resolved config."""
    cfg = ConfigParser.from_text(ini_text, COMPANION_INI, ignore_unknown_sections=True).get(TransformerTrainerConfig)
    return RANKER_REGISTRY.get(cfg.model).from_config(cfg, dataset_dim, model_dim)


def load_companion(run: Path, dataset_dim: int, part_columns: dict[str, tuple[int, int]],
                   ) -> tuple[nn.Module, torch.Tensor, str]:
    """(the companion with its best weights, its columns in the probe ranker's model tokens, its config text)."""
    text = _config_of(run)
    data = ConfigParser.from_text(text, f"{run}/config.ini", ignore_unknown_sections=True).get(RankingDataConfig)
    columns = companion_columns(data, part_columns)
    module = build_companion(text, dataset_dim, len(columns))
    path = next((run / "checkpoints" / n for n in (ckpt.BEST, ckpt.LAST) if (run / "checkpoints" / n).is_file()), None)
    if path is None:
        raise ZooRankError(f"[transformer] far_companion: {run} has no checkpoint; train it again")
    try:
        module.load_state_dict(ckpt.load(path)["model"])
    except RuntimeError:
        raise ZooRankError(f"[transformer] far_companion: {path} does not fit its config; train it again") from None
    return module, columns, text
