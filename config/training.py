"""Settings of the shared training loop (train/base_trainer.py).

`TrainerConfig` is not a section itself: each trainer has its own section, a subclass that adds
its model/data settings, so two trainers can use different learning rates in one config.ini.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from utils.errors import ConfigError


@dataclasses.dataclass
class TrainerConfig:
    epochs: int = 10
    batch_size: int = 32
    num_workers: int = 0  # DataLoader workers; 0 keeps CPU runs bit-reproducible and simple
    # optimizer
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)  # adam/adamw
    momentum: float = 0.9  # sgd
    # learning-rate schedule: per optimizer step (cosine, onecycle) or per epoch (step, exponential, plateau)
    scheduler: Literal["none", "cosine", "step", "exponential", "plateau", "onecycle"] = "cosine"
    warmup_steps: int = 0  # linear warmup over this many optimizer steps, for any scheduler
    warmup_start_factor: float = 0.1  # warmup starts at lr * this
    min_lr: float = 0.0  # the learning rate never goes below this
    step_size: int = 10  # step: epochs between decays
    gamma: float = 0.5  # step/exponential: decay factor
    plateau_patience: int = 2  # plateau: validation checks without improvement before decaying
    plateau_factor: float = 0.5
    onecycle_pct_start: float = 0.3
    # step mechanics
    grad_clip_norm: float = 0.0  # 0 disables clipping
    grad_accum_steps: int = 1  # optimizer step every N batches
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast dtype; fp16 uses a GradScaler on GPU
    compile: bool = False  # torch.compile the model
    # validation, early stopping, checkpoints
    val_every: int = 1  # validate every N epochs
    validate_initial: bool = False  # also validate the weights before training: they can be the best checkpoint
    monitor: str = "val/loss"  # metric for best checkpoint, early stopping and plateau
    monitor_mode: Literal["min", "max"] = "min"
    early_stopping_patience: int = 0  # validation checks without improvement; 0 disables
    early_stopping_min_delta: float = 0.0
    checkpoint_every: int = 1  # epochs between epoch checkpoints (the last epoch, a new best and a signal always save)
    plot_every: int = 1  # epochs between loss-plot refreshes (the last epoch always plots)
    keep_last: int = 3  # epoch checkpoints (and best-weight files) to keep
    # experiment loggers, off by default (imported only when on)
    tensorboard: bool = False
    wandb: bool = False  # honours WANDB_MODE=offline
    wandb_project: str = "zoorank"
    run_name: str | None = None  # run folder name; default: a timestamp

    def check(self) -> None:
        sec = getattr(self, "SECTION", "trainer")
        for name in ("epochs", "batch_size", "grad_accum_steps", "val_every", "checkpoint_every", "plot_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"[{sec}] {name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ConfigError(f"[{sec}] need 0 <= min_lr <= lr and lr > 0, got lr={self.lr} min_lr={self.min_lr}")
