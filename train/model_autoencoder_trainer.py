"""Parameter autoencoder: model vectors -> 512-dim model embeddings (`python train.py modelautoencoder`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Subset

from config.ranking import ModelAutoEncoderConfig
from dataloader.autoencoder import save_autoencoder
from dataloader.model_parameter_dataset import ModelParameterDataset
from extractors.vectorizers import fit_normalizer
from loss import LOSS_REGISTRY
from model.model_encoder import ModelAutoEncoder
from train import TRAINER_REGISTRY
from train.base_trainer import Trainer
from utils import io, log
from utils.errors import ZooRankError

logger = log.get_logger(__name__)


@TRAINER_REGISTRY.register
class ModelAutoEncoderTrainer(Trainer):
    """Parameter autoencoder: compresses model vectors into model embeddings (writes embeddings.npz)."""

    config_class = ModelAutoEncoderConfig
    name = "autoencoder"
    cfg: ModelAutoEncoderConfig

    @property
    def out_dir(self) -> Path:
        return self.layout.trainer_dir(self.name)

    def _data(self) -> dict[str, Any]:
        if hasattr(self, "_cache"):
            return self._cache
        folder = self.cfg.vectors_dir or self.layout.model_vectors
        data = ModelParameterDataset(folder)
        ids = data.ids
        unknown = set(self.cfg.holdout_models) - set(ids)
        if unknown:
            raise ZooRankError(f"[model_autoencoder] holdout_models not among the vectors: {sorted(unknown)}")
        pool = [i for i, m in enumerate(ids) if m not in self.cfg.holdout_models]
        rng = np.random.default_rng(self.run.seed)
        n_val = int(round(len(pool) * self.cfg.val_fraction))
        shuffled = rng.permutation(pool)
        val, train = np.sort(shuffled[:n_val]), np.sort(shuffled[n_val:])
        if len(train) < 2:
            raise ZooRankError(f"only {len(train)} training models in {folder}; the autoencoder needs at least 2")
        # the normalization sees the training models only: held-out and validation models are "new"
        data.use_normalizer(fit_normalizer(data.raw[train], [ids[i] for i in train]))
        self._cache = {"ids": ids, "dataset": data, "x": data.x.numpy(), "log_params": data.log_params,
                       "train": train, "val": val, "normalizer": data.normalizer}
        return self._cache

    def build_model(self) -> nn.Module:
        d = self._data()
        self.recon_loss = LOSS_REGISTRY.get(self.cfg.reconstruction_loss)()
        return ModelAutoEncoder.from_config(self.cfg, d["x"].shape[1])

    def build_datasets(self) -> tuple[Subset, Subset | None]:
        d = self._data()
        return Subset(d["dataset"], d["train"].tolist()), (Subset(d["dataset"], d["val"].tolist()) if len(d["val"]) else None)

    def run_metadata(self) -> dict[str, Any]:
        d = self._data()
        return {"split.json": {"train": [d["ids"][i] for i in d["train"]], "val": [d["ids"][i] for i in d["val"]],
                               "holdout": list(self.cfg.holdout_models)}}

    def compute_loss(self, batch: list[torch.Tensor]) -> torch.Tensor:
        (x,) = batch
        noisy = x + self.cfg.denoise_std * torch.randn_like(x) if self.model.training and self.cfg.denoise_std else x
        recon, code = self.model(noisy)
        loss = self.recon_loss(recon, x)
        return loss + self.cfg.code_l1_penalty * code.abs().mean() if self.cfg.code_l1_penalty else loss

    def on_fit_end(self, best_checkpoint: Path | None) -> dict[str, Any]:
        """Encode every model (held-out ones too) with the best weights; publish model + normalizer."""
        self.load_best(best_checkpoint)
        d = self._data()
        self.raw_model.eval()
        with torch.no_grad():
            codes = self.raw_model.encode(torch.from_numpy(d["x"]).to(self.device)).float().cpu().numpy()
        role = np.full(len(d["ids"]), "holdout", dtype="<U8")
        role[d["train"]], role[d["val"]] = "train", "val"
        out = self.cfg.embeddings_file or self.layout.embeddings
        io.save_npz(out, ids=np.array(d["ids"], dtype=str), embeddings=codes, vectors=d["x"],
                    log_params=d["log_params"], role=role)
        save_autoencoder(self.out_dir, self.raw_model, ModelAutoEncoder.kwargs_from_config(self.cfg, d["x"].shape[1]),
                         d["normalizer"])
        io.write_json(self.layout.autoencoder_latest, {"run_dir": str(self.run_dir), "embeddings": str(out)})
        logger.info("embeddings of %d models (%d-dim) -> %s", len(codes), codes.shape[1], out)
        return {"embeddings": out, "ids": list(d["ids"])}
