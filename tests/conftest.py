"""Test-wide setup: no network, no GPU surprises, no files written outside tmp folders."""
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("MPLBACKEND", "Agg")
# tiny models on 2 shared cores: extra intra-op threads only add contention (also for subprocesses)
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def weights_only() -> list[str]:
    """--set values of the weights-only ranker (the benchmark's ranking_transformer variant, written out in full),
    for tests whose worlds have no probe profiles or sampled tasks; a test's own values after them win."""
    from evaluation.variants import resolve

    variant = resolve("ranking_transformer")
    return [f"transformer.model={variant.ranker}", *variant.overrides()]
