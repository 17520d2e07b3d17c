"""A trained ranking transformer (a `python train.py transformer` run), ready to score candidate models.

The run folder holds everything needed: the resolved config.ini (architecture, model token parts)
and checkpoints/best.pt (else last.pt, for a run without validation).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from config import ConfigParser, RankingDataConfig, TransformerTrainerConfig
from config.layout import Layout
from model import RANKER_REGISTRY
from model.companion import COMPANION_INI, build_companion
from utils import checkpoint as ckpt
from utils import log, runs
from utils.artifacts import read_text
from utils.errors import ZooRankError

logger = log.get_logger(__name__)
TRAIN_HINT = "train one first (python train.py transformer) or pass --ranker RUN_FOLDER"


def find_run(spec: Path | None, artifacts_dir: Path) -> tuple[Path, Path]:
    """(run folder, checkpoint) for a run folder, a checkpoint file, or None: the newest complete run (one
    whose fit ended: utils/runs.py) under <artifacts_dir>/models/transformer/runs; a newer unfinished run is
    named in one warning with the command that resumes it."""
    if spec is None:
        runs_dir = Layout(artifacts_dir).transformer_runs
        run = runs.newest_complete(runs_dir)
        left = runs.warn_unfinished(runs_dir, run, "transformer")
        if run is None or (checkpoint := ckpt.weights_of(run)) is None:
            resume = f"; or finish {left}: {runs.resume_command('transformer', left)}" if left else ""
            raise ZooRankError(f"no trained ranker in {runs_dir}; {TRAIN_HINT}{resume}")
    elif Path(spec).is_file():
        checkpoint = Path(spec)
        run = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
    elif Path(spec).is_dir():
        run, checkpoint = Path(spec), ckpt.weights_of(Path(spec))
        if checkpoint is None:
            raise ZooRankError(f"ranker run {spec} has no checkpoints/{ckpt.BEST} or {ckpt.LAST}; {TRAIN_HINT}")
    else:
        raise ZooRankError(f"ranker {spec} does not exist; {TRAIN_HINT}")
    if not (run / "config.ini").is_file():
        raise ZooRankError(f"ranker run {run} has no config.ini; pass a run folder of python train.py transformer")
    if spec is not None and not runs.is_complete(run):
        logger.warning("ranker run %s did not finish; resume it with %s", run, runs.resume_command("transformer", run))
    return run, checkpoint


class Ranker:
    """Scores one dataset's candidates: `score(dataset_tokens [T, Dd], model_tokens [M, Dm]) -> [M]` (higher is
    better; scores are relative to the candidate set, as in training)."""

    def __init__(self, run: Path, checkpoint: Path) -> None:
        self.run, self.checkpoint = run, checkpoint
        config = ConfigParser(run / "config.ini", ignore_unknown_sections=True)
        self.cfg, self.data = config.get(TransformerTrainerConfig), config.get(RankingDataConfig)
        self.state = ckpt.load(checkpoint)["model"]
        self._model: torch.nn.Module | None = None

    def _build(self, dataset_dim: int, model_dim: int) -> torch.nn.Module:
        cls = RANKER_REGISTRY.get(self.cfg.model)
        extra = cls.probe_kwargs(self.state) if getattr(cls, "needs_probes", False) else {}
        if extra.get("companion_columns") is not None:  # its weights are in the state, its config in the run folder
            text = read_text(self.run / COMPANION_INI, what="the ranker's far companion config",
                             rebuild="train the ranker again")
            extra["companion"] = build_companion(text, dataset_dim, len(extra["companion_columns"]))
        model = cls.from_config(self.cfg, dataset_dim, model_dim, **extra)
        try:
            model.load_state_dict(self.state)
        except RuntimeError:
            raise ZooRankError(
                f"the ranker {self.checkpoint} does not take {dataset_dim}-dim dataset tokens and {model_dim}-dim "
                "model tokens; tokenize with the CLIP ([dataset_tokens]) and the autoencoder it was trained with"
            ) from None
        return model.eval()

    @torch.no_grad()
    def score(self, dataset_tokens: np.ndarray, model_tokens: torch.Tensor) -> np.ndarray:
        # on the CPU: one forward pass over a few hundred tokens, not worth moving the weights to a GPU
        if self._model is None:
            self._model = self._build(dataset_tokens.shape[1], model_tokens.shape[1])
        d = torch.as_tensor(dataset_tokens, dtype=torch.float32)[None]
        m = model_tokens.float()[None]
        scores = self._model(d, torch.ones(d.shape[:2], dtype=torch.bool), m, torch.ones(m.shape[:2], dtype=torch.bool))
        return scores[0].double().numpy()
