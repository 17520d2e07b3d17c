"""torch's default thread count against available_cores() on a shared node, timed on ranker training.

    python benchmarks/bench_threads.py [--steps 40]

The workload: --steps forward + backward + Adam steps of ranking_transformer at its [transformer] size
(batch 8, 48 models, 74 dataset tokens of 512, model tokens of 513), after a few untimed steps, each run
in a fresh process (so that its thread pool and CPU affinity are its own) started without OMP_NUM_THREADS:

  default  torch's own thread count (its OpenMP default: the cores of the process's affinity)
  cores    torch.set_num_threads(available_cores()), what [run] num_threads = 0 now does

each idle and against one competing busy-loop process, and then the same pair in the two places where
they differ or where the competitor has a core of its own: SLURM_CPUS_PER_TASK=1 (a job allotted one
core; torch's default still takes them all) and `taskset -c 0` with the competitor pinned to core 1.
"Idle" means no competitor of ours: the machine may be shared (the load average is printed before each).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils.errors import ZooRankError, run_cli  # noqa: E402

BUSY = "while True: pass"


def workload(steps: int, threads: str) -> tuple[float, int]:
    """Seconds of `steps` training steps and the torch threads they ran with (`threads`: default | cores)."""
    import torch

    from config.cli import DEFAULT_CONFIG
    from config.parser import ConfigParser
    from config.ranking import TransformerTrainerConfig
    from model.ranking_transformer import RankingCrossAttentionTransformer
    from utils.cores import available_cores

    if threads == "cores":
        torch.set_num_threads(available_cores())
    torch.manual_seed(0)
    cfg = ConfigParser(DEFAULT_CONFIG, []).get(TransformerTrainerConfig)
    model = RankingCrossAttentionTransformer.from_config(cfg, 512, 513)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data, models = torch.randn(cfg.batch_size, 74, 512), torch.randn(cfg.batch_size, 48, 513)
    dmask, mmask = torch.ones(data.shape[:2], dtype=torch.bool), torch.ones(models.shape[:2], dtype=torch.bool)
    target = torch.randn(cfg.batch_size, 48)

    def step() -> None:
        loss = torch.nn.functional.mse_loss(model(data, dmask, models, mmask), target)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start, torch.get_num_threads()


def measure(steps: int, threads: str, competitor: bool, pin: bool, env: dict[str, str]) -> tuple[float, int]:
    """One workload process (under `taskset -c 0` when `pin`), with a busy loop beside it (pinned to core 1)."""
    taskset = ("taskset", "-c") if pin else None
    busy = subprocess.Popen([*(taskset + ("1",) if taskset else ()), sys.executable, "-c", BUSY]) if competitor else None
    try:
        cmd = [*(taskset + ("0",) if taskset else ()), sys.executable, __file__, "--worker", threads,
               "--steps", str(steps)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.split()
        return float(out[0]), int(out[1])
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="timed training steps per measurement")
    parser.add_argument("--worker", choices=("default", "cores"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 1:
        raise ZooRankError(f"--steps must be >= 1, got {args.steps}")
    if args.worker:
        seconds, threads = workload(args.steps, args.worker)
        print(seconds, threads)
        return 0
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                             "SLURM_CPUS_PER_TASK")}
    settings = [("unpinned", False, base), ("SLURM_CPUS_PER_TASK=1", False, {**base, "SLURM_CPUS_PER_TASK": "1"})]
    if shutil.which("taskset") and os.cpu_count() and os.cpu_count() >= 2:
        settings.append(("taskset -c 0, competitor on core 1", True, base))
    else:
        print("taskset or a second core missing: the pinned setting is skipped")
    print(f"{os.cpu_count()} cores; {args.steps} steps of ranking_transformer training (batch 8, 48 models)")
    for name, pin, env in settings:
        times = {}
        for competitor in (False, True):
            for threads in ("default", "cores"):
                load = os.getloadavg()[0]
                seconds, used = measure(args.steps, threads, competitor, pin, env)
                times[threads, competitor] = seconds
                print(f"  {name:36s} {'busy competitor' if competitor else 'no competitor  '}  {threads:7s} "
                      f"{used} threads  {seconds:7.2f} s  ({seconds / args.steps * 1e3:6.1f} ms/step)  load {load:.2f}")
        for competitor in (False, True):
            ratio = times["default", competitor] / times["cores", competitor]
            print(f"  {name:36s} {'busy competitor' if competitor else 'no competitor  '}  default / cores = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
