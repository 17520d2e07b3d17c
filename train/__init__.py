"""Trainers behind `TRAINER_REGISTRY`; `python train.py --list` shows them."""
from utils.registry import Registry

TRAINER_REGISTRY = Registry("trainer", suffix="Trainer")

# explicit imports register the trainers (no auto-discovery)
from train import model_autoencoder_trainer, transformer_trainer  # noqa: E402,F401
