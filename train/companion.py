"""Training the far companion: a weights-only ranker whose ranking the probe ranker adds to its general-quality
reading on a far target (model/probe_ranker.py; [transformer] far_companion; model/companion.py rebuilds it).

Why: a far target is one no probe resembles, and a linear reading of the profiles ranks every such target alike.
The weights-only rankers read the target's CLIP tokens against each model's parameter embedding, which tells models
apart where no probe does. On the default world's far targets the sum of the two z-scores beat either alone (README).

`far_companion` is a run name under the transformer runs folder (the trainer trains it first, with COMPANION's
settings on this run's data, when it is missing or was trained with another config) or a run folder, used as it is.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from config.parser import ConfigParser
from config.ranking import COMPANION
from model.companion import config_of
from utils import log, runs
from utils.errors import ZooRankError
from utils.seed import rng_state, set_rng_state

logger = log.get_logger(__name__)


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
    if runs.is_complete(run) and (run / "config.ini").is_file() and config_of(run) == wanted:
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
