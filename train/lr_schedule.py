"""Learning-rate schedules with optional linear warmup and a `min_lr` floor.

cosine and onecycle move every optimizer step; step, exponential and plateau move once per epoch
(plateau: once per validation). Warmup always counts optimizer steps. The torch schedulers do the
work; this class only decides when to step them and keeps the floor.
"""
from __future__ import annotations

from typing import Any

import torch
from torch.optim import lr_scheduler

from config.training import TrainerConfig

PER_STEP = frozenset({"cosine", "onecycle"})
PER_EPOCH = frozenset({"step", "exponential", "plateau"})


class LRSchedule:
    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainerConfig, steps_per_epoch: int) -> None:
        self.optimizer = optimizer
        self.kind = cfg.scheduler
        self.warmup_steps = cfg.warmup_steps
        self.start_factor = cfg.warmup_start_factor
        self.min_lr = cfg.min_lr
        self.steps = 0
        total = max(1, cfg.epochs * steps_per_epoch - cfg.warmup_steps)
        self.main = self._build(cfg, total)
        # what the main schedule starts from (onecycle begins below lr); warmup ramps up to it
        self.target = [g["lr"] for g in optimizer.param_groups]
        self._apply_warmup()
        self._clamp()

    def _build(self, cfg: TrainerConfig, total_steps: int) -> Any:
        opt = self.optimizer
        if self.kind == "cosine":
            return lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps, eta_min=cfg.min_lr)
        if self.kind == "onecycle":
            return lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total_steps + 1, pct_start=cfg.onecycle_pct_start)
        if self.kind == "step":
            return lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
        if self.kind == "exponential":
            return lr_scheduler.ExponentialLR(opt, gamma=cfg.gamma)
        if self.kind == "plateau":
            return lr_scheduler.ReduceLROnPlateau(
                opt, mode=cfg.monitor_mode, factor=cfg.plateau_factor, patience=cfg.plateau_patience, min_lr=cfg.min_lr
            )
        return None

    @property
    def in_warmup(self) -> bool:
        return self.steps < self.warmup_steps

    def _apply_warmup(self) -> None:
        if not self.in_warmup:
            return
        factor = self.start_factor + (1.0 - self.start_factor) * self.steps / self.warmup_steps
        for group, target in zip(self.optimizer.param_groups, self.target):
            group["lr"] = target * factor

    def _clamp(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = max(group["lr"], self.min_lr)

    def step_batch(self) -> None:
        """Call after every optimizer step."""
        self.steps += 1
        if self.in_warmup:
            self._apply_warmup()
        elif self.steps == self.warmup_steps:
            for group, target in zip(self.optimizer.param_groups, self.target):
                group["lr"] = target
        elif self.kind in PER_STEP:
            self.main.step()
        self._clamp()

    def step_epoch(self, metric: float | None = None) -> None:
        """Call at the end of every epoch with the monitored metric (None when not validated)."""
        if self.in_warmup or self.kind not in PER_EPOCH:
            return
        if self.kind == "plateau":
            if metric is not None:
                self.main.step(metric)
        else:
            self.main.step()
        self._clamp()

    def lrs(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "target": self.target, "main": self.main.state_dict() if self.main else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps, self.target = state["steps"], list(state["target"])
        if self.main is not None and state["main"] is not None:
            self.main.load_state_dict(state["main"])
