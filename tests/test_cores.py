"""available_cores(): the CPU share a process may use, and configure() sizing torch's threads to it.

Real processes under a real CPU affinity (taskset / sched_setaffinity) and a real SLURM_CPUS_PER_TASK;
the subprocesses run without OMP_NUM_THREADS (conftest sets it to 1), so that torch starts at its own
default and only configure() can bring it down.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from utils.cores import available_cores

PROBE = """
import argparse, json, os, sys
from config.cli import add_config_args, configure
from features.jobs import threads_per_worker
from utils.cores import available_cores
parser = argparse.ArgumentParser()
add_config_args(parser)
configure(parser.parse_args([]))
import torch
print(json.dumps({"cores": available_cores(), "torch": torch.get_num_threads(),
                  "per_worker": threads_per_worker(1, 0), "cpu_count": os.cpu_count()}))
"""
needs_two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs a process allowed 2+ cores")


def probe(prefix: tuple[str, ...] = (), **env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK")}
    proc = subprocess.run([*prefix, sys.executable, "-c", PROBE], cwd=ROOT, env={**full, **env},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_slurm_cpus_per_task_wins(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "3")
    assert available_cores() == 3


@pytest.mark.parametrize("bad", ["", "0", "-2", "two", "1.5"])
def test_bad_slurm_values_are_ignored(monkeypatch, bad):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", bad)
    assert available_cores() == len(os.sched_getaffinity(0))


def test_without_slurm_the_affinity_counts(monkeypatch):
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    assert available_cores() == len(os.sched_getaffinity(0)) >= 1


@needs_two_cpus
def test_configure_gives_torch_the_slurm_share():
    out = probe(SLURM_CPUS_PER_TASK="1")
    assert out["cpu_count"] >= 2 and out["cores"] == 1
    assert out["torch"] == 1 and out["per_worker"] == 1


@needs_two_cpus
def test_an_explicit_omp_num_threads_stays_torchs_count():
    # the test suite and the sbatch scripts run with OMP_NUM_THREADS=1: configure must not raise it to the cores
    out = probe(OMP_NUM_THREADS="1")
    assert out["cores"] >= 2 and out["torch"] == 1


@needs_two_cpus
def test_a_process_pinned_to_one_core_uses_one_thread():
    core = min(os.sched_getaffinity(0))
    prefix = ("taskset", "-c", str(core)) if shutil.which("taskset") else ()
    if not prefix:  # sched_setaffinity is inherited by the child: pin through a python launcher
        prefix = (sys.executable, "-c", f"import os, sys; os.sched_setaffinity(0, {{{core}}}); "
                  "os.execv(sys.argv[1], sys.argv[1:])")
    out = probe(prefix)
    assert out["cpu_count"] >= 2  # os.cpu_count() still sees the whole machine
    assert out == {**out, "cores": 1, "torch": 1, "per_worker": 1}


@needs_two_cpus
def test_unpinned_configure_keeps_every_allowed_core():
    out = probe()
    assert out["cores"] == out["torch"] == len(os.sched_getaffinity(0))
