"""The one training loop every ZooRank trainer shares.

A subclass builds its model and datasets and implements `compute_loss(batch)` (or overrides
`_forward_batch(batch)` for complex batches); `_collect_batch_metrics` adds metrics,
`on_validation_end(row)` sees (and may extend) each validated epoch's row, and `on_fit_end` evaluates
the best weights after training: what it returns is `trainer.results`. The base class owns everything
else: optimizer, LR schedule, accumulation, clipping, mixed precision, validation, early stopping,
checkpoints, resume, signals, DDP, history, plots and loggers.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from tqdm import tqdm

from config.layout import Layout
from config.run import RunConfig
from config.training import TrainerConfig
from train import distributed as dist
from train.lr_schedule import LRSchedule
from utils import checkpoint as ckpt
from utils import io, log, runs
from utils.device import pick_device
from utils.errors import ZooRankError
from utils.seed import rng_state, seed_everything, set_rng_state

logger = log.get_logger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)  # what SLURM sends before preemption / time limit


class Preempted(Exception):
    """Raised after a checkpoint was saved because SIGTERM/SIGUSR1 arrived; exit code EXIT_PREEMPTED."""


class TrainingDiverged(ZooRankError):
    pass


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Tensors, dicts, lists/tuples and dataclasses of tensors, recursively."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)) and not hasattr(batch, "_fields"):
        return type(batch)(move_to_device(v, device) for v in batch)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return dataclasses.replace(batch, **{f.name: move_to_device(getattr(batch, f.name), device)
                                             for f in dataclasses.fields(batch) if f.init})
    return batch


def batch_size_of(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    values = batch.values() if isinstance(batch, dict) else (
        [getattr(batch, f.name) for f in dataclasses.fields(batch)] if dataclasses.is_dataclass(batch) else batch)
    for v in values:
        if isinstance(v, torch.Tensor) and v.dim() > 0:
            return v.shape[0]
    return 1


class _SkipSampler(Sampler):
    """The wrapped sampler's order minus its first `skip` indices (resuming mid-epoch)."""

    def __init__(self, sampler: Sampler, skip: int) -> None:
        self.sampler, self.skip = sampler, skip

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.skip, None)

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)


def build_optimizer(params, cfg: TrainerConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


def _row_text(row: dict[str, float]) -> str:
    """An epoch's metrics for the log line: key=value, the epoch number left out."""
    return " ".join(f"{k}={v:.5g}" for k, v in row.items() if k != "epoch")


class Trainer:
    """Base class. Subclasses set `config_class`, and implement `build_model`, `build_datasets` and
    `compute_loss` (or `_forward_batch`). Registered in `train.TRAINER_REGISTRY`."""

    config_class: ClassVar[type[TrainerConfig]] = TrainerConfig
    name: ClassVar[str] = "trainer"  # folder name under artifacts/models/

    def __init__(self, cfg: TrainerConfig, run: RunConfig, config_snapshot: dict | None = None,
                 config_ini: str | None = None) -> None:
        self.cfg, self.run = cfg, run
        self.layout = Layout.from_run(run)
        self.config_snapshot = config_snapshot or {}
        self.config_ini = config_ini
        self.device = self._pick_device(run.device)
        self.history: dict[str, Any] = {"epochs": [], "steps": {"train/loss": []}}
        self.run_dir: Path | None = None
        self.results: dict[str, Any] | None = None  # what on_fit_end returned
        self.stop_requested = False
        self._log_handler = None

    @classmethod
    def from_config(cls, config: Any) -> Trainer:
        """The trainer of a parsed config (a ConfigParser): its own section, [run], and the resolved config for
        its checkpoints and run folder. A trainer that reads more sections overrides this."""
        return cls(config.get(cls.config_class), config.get(RunConfig), config.resolved(), config.to_ini())

    # ---- hooks for subclasses -------------------------------------------------------------
    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def build_datasets(self) -> tuple[Dataset, Dataset | None]:
        raise NotImplementedError

    def collate_fn(self, items: list) -> Any:
        return torch.utils.data.default_collate(items)

    def compute_loss(self, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def _forward_batch(self, batch: Any) -> torch.Tensor:
        return self.compute_loss(move_to_device(batch, self.device))

    def _collect_batch_metrics(self, batch: Any, loss: torch.Tensor) -> dict[str, float]:
        return {}

    def run_metadata(self) -> dict[str, Any]:
        """Files to write into the run folder at its start, {file name: object} (e.g. data splits; JSON, or a str
        written as text)."""
        return {}

    def resume_exclude(self) -> list[Path]:
        """Run folders under `runs_dir` that `--resume auto` must not pick (runs of another model this trainer
        keeps beside its own, e.g. the ranker's far companion)."""
        return []

    def on_validation_end(self, row: dict[str, Any]) -> None:
        """Called on every rank after a validation, with the epoch's row (train and val metrics); keys added
        to `row` (e.g. `val/my_metric`) reach the history, the loggers, and can be the `monitor`."""

    def on_fit_end(self, best_checkpoint: Path | None) -> dict[str, Any] | None:
        """Called on rank 0 after training (e.g. to evaluate or publish the best weights; `load_best` loads
        them). The return value becomes `self.results` (None on other ranks)."""
        return None

    def load_best(self, best_checkpoint: Path | None) -> None:
        """Load the best checkpoint's weights into `raw_model` (a run without validation keeps the last)."""
        if best_checkpoint is not None:
            self.raw_model.load_state_dict(ckpt.load(best_checkpoint)["model"])

    # ---- setup ----------------------------------------------------------------------------
    @staticmethod
    def _pick_device(spec: str) -> torch.device:
        device = pick_device(spec)
        if str(device) == "cuda" and dist.env_world_size() > 1:
            device = torch.device(f"cuda:{dist.local_rank()}")
        return device

    @property
    def runs_dir(self) -> Path:
        return self.layout.runs_dir(self.name)

    def _new_run_dir(self) -> Path:
        name = self.cfg.run_name or datetime.now().strftime("%Y%m%d_%H%M%S")
        path = self.runs_dir / name
        for i in itertools.count(1):
            if not path.exists() or self.cfg.run_name:
                break
            path = self.runs_dir / f"{name}_{i}"
        return path

    def _autocast(self):
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.cfg.precision)
        enabled = dtype is torch.bfloat16 or (dtype is torch.float16 and self.device.type == "cuda")
        return torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=enabled)

    def _loader(self, dataset: Dataset, sampler: Sampler, seed: int) -> DataLoader:
        return DataLoader(dataset, batch_size=self.cfg.batch_size, sampler=sampler, collate_fn=self.collate_fn,
                          num_workers=self.cfg.num_workers, generator=torch.Generator().manual_seed(seed))

    # ---- the loop -------------------------------------------------------------------------
    def fit(self, resume: str | None = None) -> dict[str, Any]:
        """Train (or continue: resume = 'auto' | checkpoint | run folder); returns the history."""
        cfg = self.cfg
        train_set, sampler, batches_per_epoch, state = self._setup(resume)
        start_epoch, skip = state.get("epoch", 0), state.get("batch_in_epoch", 0)
        partial = state.get("partial")
        previous = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
        loggers: list = []
        try:
            self._prepare_run_dir(state)
            loggers = self._open_loggers(state)
            if self.finished:
                logger.info("the run in %s already finished; nothing left to train", self.run_dir)
                start_epoch = cfg.epochs
            elif dist.is_main():
                runs.unmark(self.run_dir)
            if not state and not self.finished and self.val_set is not None and cfg.validate_initial:
                self._validate_initial()
            for epoch in range(start_epoch, cfg.epochs):
                sampler.set_epoch(epoch)
                loader = self._loader(train_set, _SkipSampler(sampler, skip * cfg.batch_size), self.run.seed + epoch)
                train_metrics = self._train_epoch(epoch, loader, skip, batches_per_epoch, partial)
                skip, partial = 0, None
                row = {"epoch": epoch + 1, **train_metrics, "lr": self.schedule.lrs()[0]}
                validated = self.val_set is not None and (epoch + 1) % cfg.val_every == 0
                if validated:
                    row.update(self.validate())
                    self.on_validation_end(row)
                monitor = self._monitor_value(row)
                self.schedule.step_epoch(monitor if validated else None)
                self.history["epochs"].append(row)
                stop = self._track_best_and_stop(row, monitor, validated)
                self.finished = stop or epoch + 1 == cfg.epochs
                self._end_of_epoch(row, loggers, epoch)
                if stop:
                    logger.info("early stopping after epoch %d: %s did not improve for %d checks",
                                epoch + 1, cfg.monitor, self.bad_checks)
                    break
                if self.stop_requested and not self.finished:
                    dist.barrier()
                    raise Preempted(f"stopped by signal after epoch {epoch + 1}")
            best = self.run_dir / "checkpoints" / ckpt.BEST
            if dist.is_main():
                self.results = self.on_fit_end(best if best.exists() else None)
                self._mark_complete(best if best.exists() else None)
                logger.info("finished: run folder %s", self.run_dir)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            for lg in loggers:
                lg.close()
            self._close_run()
        return self.history

    def _setup(self, resume: str | None) -> tuple[Dataset, DistributedSampler, int, dict[str, Any]]:
        cfg = self.cfg
        dist.init(self.device.type)
        if self.run.num_threads > 0:
            torch.set_num_threads(self.run.num_threads)
        seed_everything(self.run.seed, self.run.deterministic)
        self.raw_model = self.build_model().to(self.device)
        train_set, self.val_set = self.build_datasets()
        # a DistributedSampler also for one process: the same shuffles with or without torchrun
        sampler = DistributedSampler(train_set, num_replicas=dist.world_size(), rank=dist.rank(),
                                     shuffle=True, seed=self.run.seed)
        batches_per_epoch = math.ceil(len(sampler) / cfg.batch_size)
        self.optimizer = build_optimizer(self.raw_model.parameters(), cfg)
        self.schedule = LRSchedule(self.optimizer, cfg, math.ceil(batches_per_epoch / cfg.grad_accum_steps))
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=cfg.precision == "fp16" and self.device.type == "cuda")
        state = self._restore(resume)
        self.global_step = state.get("global_step", 0)
        self.best = state.get("best", {"value": None, "epoch": None, "weights": None})
        self.bad_checks = state.get("bad_checks", 0)
        self.finished = state.get("finished", False)
        self.model: nn.Module = self.raw_model
        if dist.is_distributed():
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.raw_model, device_ids=ids)
        if cfg.compile:
            self.model = torch.compile(self.model)
        return train_set, sampler, batches_per_epoch, state

    def _train_epoch(self, epoch: int, loader: DataLoader, skip: int, n_batches: int,
                     partial: list[dict] | None) -> dict[str, float]:
        cfg = self.cfg
        self.model.train()
        sums: dict[str, float] = dict(self._own_partial(partial) or {"n": 0.0, "train/loss": 0.0})
        bar = tqdm(loader, total=n_batches, initial=skip, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not dist.is_main(), file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
        group_loss = 0.0
        for i, batch in enumerate(bar, start=skip):
            group_start = (i // cfg.grad_accum_steps) * cfg.grad_accum_steps
            group_size = min(cfg.grad_accum_steps, n_batches - group_start)
            last_in_group = i == group_start + group_size - 1
            sync = (not dist.is_distributed() or last_in_group)
            ctx = self.model.no_sync() if not sync else contextlib.nullcontext()
            with ctx:
                with self._autocast():
                    loss = self._forward_batch(batch)
                if not self.scaler.is_enabled() and not torch.isfinite(loss):
                    raise TrainingDiverged(f"loss became {loss.item()} at epoch {epoch + 1} batch {i + 1}; "
                                           "lower lr or set grad_clip_norm")
                self.scaler.scale(loss / group_size).backward()
            bs = batch_size_of(batch)
            sums["n"] += bs
            sums["train/loss"] += loss.item() * bs
            group_loss += loss.item() / group_size
            for key, value in self._collect_batch_metrics(batch, loss.detach()).items():
                sums[f"train/{key}"] = sums.get(f"train/{key}", 0.0) + value * bs
            if last_in_group:
                self._optimizer_step()
                self.history["steps"]["train/loss"].append(group_loss)
                group_loss = 0.0
                bar.set_postfix(loss=f"{sums['train/loss'] / sums['n']:.4g}", lr=f"{self.schedule.lrs()[0]:.3g}",
                                refresh=False)
                if dist.any_rank(self.stop_requested, self.device):
                    self.stop_requested = True
                    if i + 1 < n_batches:
                        self._save_checkpoint(epoch, i + 1, dist.all_gather_objects(sums))
                        dist.barrier()  # torchrun kills the group when one rank exits: save first
                        raise Preempted(f"stopped by signal at epoch {epoch + 1}, batch {i + 1}/{n_batches}")
        bar.close()
        totals = self._reduce_sums(sums)
        n = max(totals.pop("n"), 1.0)
        return {k: v / n for k, v in totals.items()}

    @staticmethod
    def _own_partial(partial: list[dict[str, float]] | None) -> dict[str, float] | None:
        """This rank's running sums from a mid-epoch checkpoint (one dict per rank, so resumes are exact);
        with another world size, rank 0 carries the total on and the others restart at zero."""
        if not partial:
            return None
        if len(partial) == dist.world_size():
            return partial[dist.rank()]
        if not dist.is_main():
            return None
        return {k: sum(p.get(k, 0.0) for p in partial) for k in set().union(*partial)}

    def _reduce_sums(self, sums: dict[str, float]) -> dict[str, float]:
        """Sums over all ranks (every rank must call this: it is a collective under DDP)."""
        keys = sorted(sums)
        return dict(zip(keys, dist.all_reduce_sum([sums[k] for k in keys], self.device)))

    def _optimizer_step(self) -> None:
        if self.cfg.grad_clip_norm > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.cfg.grad_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.step_batch()
        self.global_step += 1

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean loss and batch metrics over the whole validation set (every rank sees all of it)."""
        self.model.eval()
        sums: dict[str, float] = {"n": 0.0, "val/loss": 0.0}
        loader = DataLoader(self.val_set, batch_size=self.cfg.batch_size, shuffle=False,
                            collate_fn=self.collate_fn, num_workers=self.cfg.num_workers)
        for batch in loader:
            with self._autocast():
                loss = self._forward_batch(batch)
            bs = batch_size_of(batch)
            sums["n"] += bs
            sums["val/loss"] += loss.item() * bs
            for key, value in self._collect_batch_metrics(batch, loss).items():
                sums[f"val/{key}"] = sums.get(f"val/{key}", 0.0) + value * bs
        n = max(sums.pop("n"), 1.0)
        return {k: v / n for k, v in sums.items()}

    def _validate_initial(self) -> None:
        """Validate the weights as built, as epoch 0 (history["initial"]): a model that starts as a good
        training-free prior keeps it when every epoch of training only makes validation worse."""
        row = {"epoch": 0, **self.validate()}
        self.on_validation_end(row)
        self.history["initial"] = row
        self._track_best_and_stop(row, self._monitor_value(row), True)
        if self.best.get("new"):
            self._save_checkpoint(0, 0, None)
        logger.info("before training %s", _row_text(row))

    def _monitor_value(self, row: dict[str, float]) -> float | None:
        key = self.cfg.monitor
        if key not in row and key.startswith("val/") and self.val_set is None:
            key = "train/" + key[4:]
        return row.get(key)

    def _track_best_and_stop(self, row: dict[str, float], value: float | None, validated: bool) -> bool:
        """Update best (for checkpoints) and the early-stopping counter; True means stop now."""
        if value is None or (not validated and self.val_set is not None):
            return False
        sign = 1.0 if self.cfg.monitor_mode == "min" else -1.0
        best = self.best["value"]
        improved = best is None or sign * (best - value) > self.cfg.early_stopping_min_delta
        if best is None or sign * (best - value) > 0:
            self.best.update(value=value, epoch=row["epoch"], new=True)
        self.bad_checks = 0 if improved else self.bad_checks + 1
        patience = self.cfg.early_stopping_patience
        return patience > 0 and self.bad_checks >= patience

    # ---- persistence ----------------------------------------------------------------------
    def _prepare_run_dir(self, state: dict) -> None:
        run_dir = Path(state["run_dir"]) if state.get("run_dir") else self._new_run_dir()
        self.run_dir = dist.broadcast_object(run_dir)
        if dist.is_main():
            io.remove_stale_temps(self.runs_dir.parent)  # of killed earlier runs (theirs and the product files)
            (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            self._log_handler = log.add_file_handler(self.run_dir / "train.log")
            if self.config_ini is not None:
                io.write_text(self.run_dir / "config.ini", self.config_ini)
            for name, obj in self.run_metadata().items():
                (io.write_text if isinstance(obj, str) else io.write_json)(self.run_dir / name, obj)
            logger.info("%s run folder: %s", "resuming" if state else "new", self.run_dir)
        dist.barrier()

    def _mark_complete(self, best: Path | None) -> None:
        """The last thing a successful fit writes: what picks "the newest run" only picks runs that have it."""
        produced = {k: str(v) for k, v in (self.results or {}).items() if isinstance(v, (str, Path))}
        runs.mark_complete(self.run_dir, {
            "trainer": self.name, "finished_at": datetime.now().isoformat(timespec="seconds"),
            "epochs": len(self.history["epochs"]), "checkpoint": str(best or self.run_dir / "checkpoints" / ckpt.LAST),
            "best": {k: v for k, v in self.best.items() if k != "new"}, "produced": produced})

    def _close_run(self) -> None:
        if getattr(self, "_log_handler", None) is not None:
            log.remove_handler(self._log_handler)
            self._log_handler = None
        dist.cleanup()

    def _checkpoint_state(self, epoch: int, batch_in_epoch: int, partial: list[dict] | None) -> dict[str, Any]:
        return {
            "model": self.raw_model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(), "scaler": self.scaler.state_dict(), "rng": rng_state(),
            "epoch": epoch, "batch_in_epoch": batch_in_epoch, "global_step": self.global_step,
            "partial": partial, "history": self.history, "best": {k: v for k, v in self.best.items() if k != "new"},
            "bad_checks": self.bad_checks, "finished": self.finished, "run_dir": str(self.run_dir), "trainer": self.name,
            "config": self.config_snapshot, "wandb_id": getattr(self, "_wandb_id", None),
        }

    def _save_checkpoint(self, epoch: int, batch_in_epoch: int, partial: list[dict] | None) -> Path | None:
        """Epoch end: epoch_NNNN.pt + last.pt (+ best.pt). Mid-epoch (signal): last.pt only."""
        if not dist.is_main():
            return None
        folder = self.run_dir / "checkpoints"
        if batch_in_epoch:
            ckpt.save(self._checkpoint_state(epoch, batch_in_epoch, partial), folder / ckpt.LAST)
            logger.warning("signal received: checkpoint saved to %s; exiting for requeue", folder / ckpt.LAST)
            return folder / ckpt.LAST
        new_best = self.best.pop("new", False)
        if new_best:  # before the state: a run resumed from this checkpoint must name these weights too
            metric = self.cfg.monitor.split("/")[-1]
            stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
            weights = folder / f"{self.name}_weights.{metric}_{self.best['value']:.6f}.{stamp}.pt"
            io.torch_save(self.raw_model.state_dict(), weights)
            self.best["weights"] = weights.name
            ckpt.keep_last(folder, f"{self.name}_weights.*.pt", self.cfg.keep_last)
        path = folder / f"epoch_{epoch:04d}.pt"
        ckpt.save(self._checkpoint_state(epoch, batch_in_epoch, partial), path)
        io.link_or_copy(path, folder / ckpt.LAST)
        if new_best:
            io.link_or_copy(path, folder / ckpt.BEST)
        ckpt.keep_last(folder, "epoch_*.pt", self.cfg.keep_last)
        return path

    def _end_of_epoch(self, row: dict[str, float], loggers: list, epoch: int) -> None:
        # the checkpoint stores the state after this epoch: resuming starts at epoch + 1. A big model
        # (the autoencoder's state is ~200 MB) checkpoints every few epochs, but never skips the last
        # epoch, a new best, or an epoch after which a signal asked to stop.
        every, done = self.cfg.checkpoint_every, epoch + 1
        if done % every == 0 or self.finished or self.stop_requested or self.best.get("new"):
            self._save_checkpoint(done, 0, None)
        if not dist.is_main():
            return
        from train.plots import plot_losses

        if done % self.cfg.plot_every == 0 or self.finished:
            plot_losses(self.history, self.run_dir / "plots")
        io.write_json(self.run_dir / "history.json", self.history)
        for lg in loggers:
            lg.log({k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"])
        logger.info("epoch %d/%d %s", row["epoch"], self.cfg.epochs, _row_text(row))

    def _restore(self, resume: str | None) -> dict[str, Any]:
        path = ckpt.find_resume(resume, self.runs_dir, self.resume_exclude()) if resume else None
        if resume == "auto" and path is None:
            logger.info("--resume auto: no checkpoint under %s; starting fresh", self.runs_dir)
        if path is None:
            return {}
        state = ckpt.load(path)
        if state.get("trainer") != self.name:
            raise ZooRankError(f"checkpoint {path} belongs to trainer '{state.get('trainer')}', not '{self.name}'")
        try:
            self.raw_model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise ZooRankError(f"checkpoint {path} does not fit this model ({str(err).splitlines()[0]}); "
                               "was the config changed?") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.history = state["history"]
        self._wandb_id = state.get("wandb_id")
        logger.info("resumed from %s (epoch %d, batch %d)", path, state["epoch"], state["batch_in_epoch"])
        return state

    def _open_loggers(self, state: dict) -> list:
        if not dist.is_main() or not (self.cfg.tensorboard or self.cfg.wandb):
            return []
        from train.experiment_loggers import TensorBoardLogger, WandbLogger

        out = []
        if self.cfg.tensorboard:
            out.append(TensorBoardLogger(self.run_dir))
        if self.cfg.wandb:
            wb = WandbLogger(self.run_dir, self.cfg.wandb_project, self.run_dir.name, self.config_snapshot,
                             state.get("wandb_id"))
            self._wandb_id = wb.run_id
            out.append(wb)
        return out

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stop_requested = True

