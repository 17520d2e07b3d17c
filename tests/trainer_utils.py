"""Helpers shared by the trainer tests: build the toy trainer in-process or run train.py with it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from conftest import ROOT
from toy_trainer import ToyRegressionConfig, ToyRegressionTrainer

from config import ConfigParser, RunConfig

TOY_PLUGIN = str(ROOT / "tests" / "toy_trainer.py")  # train.py --plugin: the toy trainer is test-only


def toy_trainer(artifacts: Path, run: dict | None = None, **overrides) -> ToyRegressionTrainer:
    sets = [f"toy_regression.{k}={v}" for k, v in overrides.items()]
    sets += [f"run.{k}={v}" for k, v in {"artifacts_dir": artifacts, **(run or {})}.items()]
    cp = ConfigParser(ROOT / "config.ini", sets)
    return ToyRegressionTrainer(cp.get(ToyRegressionConfig), cp.get(RunConfig), cp.resolved(), cp.to_ini())


def run_dirs(artifacts: Path, name: str = "toy_regression") -> list[Path]:
    return sorted((artifacts / "models" / name / "runs").glob("*"))


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)["model"]


def train_cmd(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), "--plugin", TOY_PLUGIN, *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONUNBUFFERED"] = "1"
    return e


def run_train(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(train_cmd(*args), cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)


def sets(artifacts: Path, **overrides) -> list[str]:
    out = ["--set", f"run.artifacts_dir={artifacts}"]
    for k, v in overrides.items():
        out += ["--set", f"toy_regression.{k}={v}"]
    return out
