"""Ranking transformer: learns from the ground-truth matrix to rank models for a dataset
(`python train.py transformer`). Validates on held-out families with ranking metrics every epoch."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from config.parser import ConfigParser
from config.ranking import TransformerTrainerConfig
from config.ranking_data import RankingDataConfig
from config.run import RunConfig
from dataloader.combined_similarity_dataloader import (
    CombinedSimilarityDataset,
    RankingBatch,
    build_combined_similarity_datasets,
    collate_ranking,
)
from dataloader.dataset_tokens import pad_tokens
from dataloader.families import read_families
from dataloader.model_table import ModelTable
from loss import LOSS_REGISTRY
from metrics import ranking_metrics
from metrics.general_quality import fit_reading
from metrics.novelty import far_threshold, hidden_nearest_cosine, nearest_probe_cosine
from metrics.trivial import TRIVIAL_REGISTRY, RankContext
from model import RANKER_REGISTRY
from model.companion import COMPANION_INI, load_companion
from model.probe_ranker import probe_means
from train import TRAINER_REGISTRY
from train import distributed as dist
from train.base_trainer import Trainer, move_to_device
from train.companion import companion_dir, ensure_companion
from utils import io, log
from utils.errors import ZooRankError

logger = log.get_logger(__name__)
BASELINES = ("mean_train_score", "num_params")  # the trivial rankers predictions.json reports
TRACKED = ("weighted_tau_rank_none", "weighted_tau_rank_true", "kendall_tau", "top1_regret", "top3_recall")


def batch_metrics(scores: torch.Tensor, batch: RankingBatch) -> list[dict[str, float]]:
    """Ranking metrics per item of a batch, on the raw ground-truth scores."""
    out = []
    for s, t, m in zip(scores.detach().float().cpu(), batch["raw_scores"].cpu(), batch["model_mask"].cpu()):
        out.append(ranking_metrics(t[m].numpy().astype(np.float64), s[m].numpy().astype(np.float64), ks=(1, 3)))
    return out


@TRAINER_REGISTRY.register
class TransformerTrainer(Trainer):
    """Ranking transformer: learns to rank models for a dataset from the ground-truth matrix."""

    config_class = TransformerTrainerConfig
    name = "transformer"
    cfg: TransformerTrainerConfig

    def __init__(self, cfg: TransformerTrainerConfig, run: RunConfig, config_snapshot: dict | None = None,
                 config_ini: str | None = None, *, data: RankingDataConfig) -> None:
        super().__init__(cfg, run, config_snapshot, config_ini)
        self.data = data

    @classmethod
    def from_config(cls, config: ConfigParser) -> TransformerTrainer:
        return cls(config.get(cls.config_class), config.get(RunConfig), config.resolved(), config.to_ini(),
                   data=config.get(RankingDataConfig))

    def _data(self) -> tuple[dict[str, CombinedSimilarityDataset], dict[str, Any]]:
        if not hasattr(self, "_cache"):
            self._cache = build_combined_similarity_datasets(self.data, self.layout, ("train", "val", "test"))
        return self._cache

    def build_model(self) -> nn.Module:
        sets, _ = self._data()
        some = next(iter(sets.values()))[0]
        self.loss_fn = LOSS_REGISTRY.get(self.cfg.loss)()
        cls = RANKER_REGISTRY.get(self.cfg.model)
        return cls.from_config(self.cfg, some["dataset_tokens"].shape[1], some["model_tokens"].shape[1],
                               **self.probe_kwargs(cls))

    def probe_kwargs(self, cls: type) -> dict[str, Any]:
        """A probe-reading ranker's construction inputs: the probe datasets' tokens and the profile's columns."""
        if not getattr(cls, "needs_probes", False):
            return {}
        table, (_, split) = self.model_table, self._data()
        if table.probes is None:
            raise ZooRankError(f"[transformer] model {self.cfg.model} reads probe profiles: add 'probe' to "
                               "[ranking_data] model_token_parts")
        tokens, mask = pad_tokens([split["_tokens"].by_name(p)["tokens"] for p in table.probes.probes])
        families = read_families(self.data.dataset_index, table.probes.probes)
        _, groups = np.unique([families.get(p, p) for p in table.probes.probes], return_inverse=True)
        out = {"probe_tokens": tokens, "probe_mask": mask, "probe_start": table.part_columns["probe"][0],
               "probe_stats": len(table.probes.stats), "probe_groups": torch.from_numpy(groups)}
        if not self.cfg.far_fallback:
            return out
        labels = table.part_columns.get("labels")
        out["label_columns"] = torch.arange(*labels) if labels else None
        return {**out, **self.far_fallback(tokens, mask, families), **self.companion(tokens.shape[-1])}

    def companion(self, dataset_dim: int) -> dict[str, Any]:
        """The far companion's module and columns (train/companion.py); none without [transformer] far_companion."""
        if not self.cfg.far_companion:
            return {}
        run = ensure_companion(self.cfg.far_companion, self.runs_dir, self.config_ini or "", dist.env_world_size() > 1)
        module, columns, self._companion_ini = load_companion(run, dataset_dim, self.model_table.part_columns)
        logger.info("far companion: %s (%s)", run, type(module).__name__)
        return {"companion": module, "companion_columns": columns}

    def resume_exclude(self) -> list[Path]:
        return [companion_dir(self.cfg.far_companion, self.runs_dir)[0]] if self.cfg.far_companion else []

    def far_fallback(self, probe_tokens: torch.Tensor, probe_mask: torch.Tensor,
                     families: dict[str, str]) -> dict[str, Any]:
        """The general-quality fallback from the training datasets' scores (metrics/general_quality.py) and the
        far threshold from the training datasets' nearest probes (metrics/novelty.py). `families`: the dataset
        index's dataset -> family (one not listed: its own)."""
        table, (_, split) = self.model_table, self._data()
        ids = [m for m in table.ids if all(m in split["_performance"][d] for d in split["train"])]
        start, stop = table.part_columns["probe"]
        profiles = table.tokens[[table.row[m] for m in ids], start:stop].double().numpy()
        scores = np.array([[split["_performance"][d][m] for m in ids] for d in split["train"]])
        probes = table.probes.probes
        probe_fams = [families.get(p, p) for p in probes]
        coef, bias, reading = fit_reading(self.cfg.general_quality, profiles.reshape(len(ids), len(probes), -1), scores,
                                          [families.get(d, d) for d in split["train"]],
                                          probe_fams, self.cfg.transfer_temperature)
        if reading != self.cfg.general_quality:
            logger.warning("[transformer] general_quality = %s: no probe has a training dataset of another family "
                           "to be judged on; the fallback reads the %s instead", self.cfg.general_quality, reading)
        means = probe_means(probe_tokens, probe_mask).numpy()
        train_tokens = {n: split["_tokens"].by_name(n)["tokens"].numpy() for n in split["train"]}
        threshold = far_threshold([nearest_probe_cosine(t, means) for t in train_tokens.values()],
                                  [hidden_nearest_cosine(t, means, probe_fams, families.get(n, n))
                                   for n, t in train_tokens.items()], self.cfg.far_quantile)
        logger.info("far fallback: general quality from %d training datasets; far below nearest-probe cosine %.3f",
                    len(split["train"]), threshold)
        return {"fallback": torch.from_numpy(np.append(coef, bias)), "far_threshold": threshold}

    def build_datasets(self) -> tuple[CombinedSimilarityDataset, CombinedSimilarityDataset | None]:
        sets, _ = self._data()
        if "train" not in sets:
            raise ZooRankError("[ranking_data] every dataset is in val_families or test_families; "
                               "leave some families for training")
        return sets["train"], sets.get("val")

    def collate_fn(self, items: list) -> RankingBatch:
        return collate_ranking(items)

    def run_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"split.json": {k: v for k, v in self._data()[1].items() if not k.startswith("_")}}
        if getattr(self, "_companion_ini", None):
            out[COMPANION_INI] = self._companion_ini  # the checkpoint holds its weights; this, how to build it
        return out

    @property
    def model_table(self) -> ModelTable:
        """The candidate models' tokens the ranker sees (ids, tokens [N, Dm], log parameter counts)."""
        return self._data()[0]["train"].models

    def baselines(self, preds: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
        """Trivial rankers (TRIVIAL_REGISTRY) on the same datasets and candidates, from the training datasets'
        scores and the models' metadata: mean metrics over `preds`."""
        _, split = self._data()
        train_perf = {d: split["_performance"][d] for d in split["train"]}
        table = self.model_table
        log_params = dict(zip(table.ids, table.log_params))
        out = {}
        for name in BASELINES:
            rank = TRIVIAL_REGISTRY.get(name)
            rows = [ranking_metrics(np.array(p["true"]),
                                    rank(RankContext(p["dataset"], p["models"], train_perf, log_params, self.run.seed)),
                                    ks=(1, 3)) for p in preds]
            out[name] = {k: float(np.mean([r[k] for r in rows])) for k in TRACKED}
        return out

    def _scores(self, batch: RankingBatch) -> torch.Tensor:
        return self.model(batch["dataset_tokens"], batch["dataset_mask"], batch["model_tokens"], batch["model_mask"])

    def _forward_batch(self, batch: RankingBatch) -> torch.Tensor:
        batch = move_to_device(batch, self.device)
        self._last_scores = self._scores(batch)
        return self.loss_fn(self._last_scores.float(), batch["true_scores"], batch["model_mask"])

    def _collect_batch_metrics(self, batch: RankingBatch, loss: torch.Tensor) -> dict[str, float]:
        if self.model.training:  # ranking metrics on validation only: training items are candidate subsets
            return {}
        rows = batch_metrics(self._last_scores, batch)
        return {k: float(np.mean([r[k] for r in rows])) for k in TRACKED}

    @torch.no_grad()
    def predict(self, dataset: CombinedSimilarityDataset) -> list[dict[str, Any]]:
        """Per dataset: model ids, true and predicted scores, and the ranking metrics."""
        self.raw_model.eval()
        out = []
        for i in range(len(dataset)):
            batch = move_to_device(collate_ranking([dataset[i]]), self.device)
            s = self.raw_model(batch["dataset_tokens"], batch["dataset_mask"], batch["model_tokens"],
                               batch["model_mask"])[0].float().cpu()
            true = batch["raw_scores"][0].cpu()
            out.append({"dataset": batch["dataset_names"][0], "models": batch["model_names"][0],
                        "true": true.tolist(), "predicted": s.tolist(),
                        "metrics": ranking_metrics(true.double().numpy(), s.double().numpy(), ks=(1, 3))})
        return out

    def on_fit_end(self, best_checkpoint: Path | None) -> dict[str, Any]:
        """Per-dataset predictions of the best model on the val and test splits: saved in the run folder
        (predictions.json) and returned (`trainer.results`)."""
        self.load_best(best_checkpoint)
        sets, split = self._data()
        report = {}
        for name in ("val", "test"):
            if name in sets:
                preds = self.predict(sets[name])
                summary = {k: float(np.mean([p["metrics"][k] for p in preds])) for k in TRACKED}
                report[name] = {"summary": summary, "baselines": self.baselines(preds), "datasets": preds}
                logger.info("%s (%d datasets): %s", name, len(preds), " ".join(f"{k}={v:.4f}" for k, v in summary.items()))
        public = {k: v for k, v in split.items() if not k.startswith("_")}
        results = {"split": public, **report}
        io.write_json(self.run_dir / "predictions.json", results)
        return results
