"""Optional TensorBoard and Weights & Biases loggers. Their packages are imported only when enabled."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from utils.errors import ZooRankError


class TensorBoardLogger:
    def __init__(self, run_dir: Path, **_: Any) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ZooRankError("tensorboard = true needs the tensorboard package: pip install tensorboard") from None
        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def log(self, metrics: dict[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbLogger:
    """W&B run in the run folder; set WANDB_MODE=offline on a cluster without internet."""

    def __init__(self, run_dir: Path, project: str, name: str, config: dict[str, Any], resume_id: str | None) -> None:
        try:
            import wandb
        except ImportError:
            raise ZooRankError("wandb = true needs the wandb package: pip install wandb") from None
        self.run = wandb.init(
            project=project, name=name, dir=str(run_dir), config=config,
            id=resume_id, resume="allow" if resume_id else None, reinit=True,
        )

    @property
    def run_id(self) -> str:
        return self.run.id

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def close(self) -> None:
        self.run.finish()
