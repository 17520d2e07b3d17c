"""The job scripts in slurm/ on a real single-node SLURM (slurm/local_cluster.sh), as a user runs them.

Needs the Debian packages (see APT) and root; skipped, with the reason, without them.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT

APT = "apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge"
BINARIES = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "srun", "scontrol", "scancel", "sinfo", "squeue")
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
                "BOOT_FAIL", "DEADLINE"}
# about 3 s per epoch on one core: room to signal mid-epoch
SLOW = dict(num_samples=20000, batch_size=8, epochs=3)
SLOW_DDP = dict(num_samples=16000, batch_size=8, epochs=2)  # 2 processes, each half the data

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sets(artifacts: Path, **overrides) -> list[str]:
    out = ["--set", f"run.artifacts_dir={artifacts}", "--set", "run.deterministic=true", "--set", "run.seed=0"]
    for key, value in overrides.items():
        out += ["--set", f"toy_regression.{key}={value}"]
    return out


def run_dirs(artifacts: Path) -> list[Path]:
    return sorted((artifacts / "models" / "toy_regression" / "runs").glob("*"))


def epochs_done(artifacts: Path) -> int:
    runs = run_dirs(artifacts)
    history = runs[0] / "history.json" if runs else None
    try:
        return len(json.loads(history.read_text())["epochs"]) if history and history.exists() else 0
    except json.JSONDecodeError:  # being written
        return 0


def final_state(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict]:
    weights = torch.load(run_dir / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)["model"]
    return weights, json.loads((run_dir / "history.json").read_text())


def assert_same_training(got: Path, expected: Path) -> None:
    (w_got, h_got), (w_exp, h_exp) = final_state(got), final_state(expected)
    assert w_got.keys() == w_exp.keys()
    assert all(torch.equal(w_got[k], w_exp[k]) for k in w_exp), "final weights are not bit-identical"
    assert h_got == h_exp, "history.json differs"


class Cluster:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_"))}
        # a requeued job may start again after cred_expire + 1 s: 5 s is the shortest SLURM allows
        self.admin_env = {**base, "ZOORANK_SLURM_DIR": str(state_dir), "ZOORANK_SLURM_CRED_EXPIRE": "5",
                          "ZOORANK_SLURMCTLD_PORT": str(free_port()), "ZOORANK_SLURMD_PORT": str(free_port())}
        # what sbatch passes on to the jobs: this python, one thread per process (2 cores, deterministic)
        self.env = {**base, "SLURM_CONF": str(state_dir / "slurm.conf"), "ZOORANK_PYTHON": sys.executable,
                    "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "NPROC_PER_NODE": "2",
                    "ZOORANK_PLUGINS": str(ROOT / "tests" / "toy_trainer.py")}  # the test-only toy trainer

    def admin(self, action: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(ROOT / "slurm" / "local_cluster.sh"), action], env=self.admin_env,
                              capture_output=True, text=True, timeout=120)

    def cmd(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=30)
        if check:
            assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
        return proc.stdout

    def sbatch(self, *args: str, log: Path, env: dict[str, str] | None = None) -> str:
        """Submit from the checkout (as a user would), with `env` added to the environment; returns the job id."""
        out = subprocess.run(["sbatch", "--parsable", f"--output={log}", *args],
                             cwd=ROOT, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().split(";")[0]

    def submit(self, script: str, *args: str, log: Path, env: dict[str, str] | None = None) -> str:
        return self.sbatch(str(ROOT / "slurm" / script), *args, log=log, env=env)

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as a dict (JobState, Restarts, ExitCode, ...)."""
        text = self.cmd("scontrol", "show", "job", "-o", job_id)
        return dict(re.findall(r"(\w+)=(\S*)", text))

    def wait(self, job_id: str, log: Path, timeout: float, until=lambda job: job["JobState"] in FINAL_STATES):
        deadline = time.time() + timeout
        while True:
            job = self.job(job_id)
            if until(job):
                return job
            if time.time() > deadline:
                self.cmd("scancel", job_id, check=False)
                pytest.fail(f"job {job_id} not done after {timeout:.0f} s: {job.get('JobState')} "
                            f"Restarts={job.get('Restarts')}; log:\n{tail(log)}")
            time.sleep(0.5)


def tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:].replace("\r", "\n") if log.exists() else "(no log)"


def wait_for_progress(cluster: Cluster, job_id: str, log: Path, epoch: int, percent: int) -> None:
    """Return once the job's progress bar (in its log) is `percent`% into `epoch` or later."""
    deadline = time.time() + 120
    while True:
        bars = re.findall(r"epoch (\d+)/\d+: +(\d+)%", tail(log, 3000))
        if bars and tuple(map(int, bars[-1])) >= (epoch, percent):
            return
        assert cluster.job(job_id)["JobState"] in ("PENDING", "RUNNING"), f"job ended early:\n{tail(log)}"
        assert time.time() < deadline, f"training did not reach epoch {epoch} {percent}%:\n{tail(log)}"
        time.sleep(0.1)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    missing = [b for b in BINARIES if not shutil.which(b, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")]
    if missing:
        pytest.skip(f"SLURM not installed (no {', '.join(missing)}): {APT}")
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster (slurm/local_cluster.sh) must run as root")
    c = Cluster(tmp_path_factory.mktemp("slurm"))
    started = c.admin("start")
    if started.returncode != 0:
        c.admin("stop")
        pytest.fail(f"slurm/local_cluster.sh start failed:\n{started.stdout}\n{started.stderr}")
    yield c
    stopped = c.admin("stop")
    assert stopped.returncode == 0, stopped.stderr


def test_local_cluster_runs_a_job_an_array_and_srun(cluster, tmp_path):
    job = cluster.sbatch("--wrap", "echo hello from $SLURM_JOB_ID", log=tmp_path / "one.out")
    array = cluster.sbatch("--array=0-3", "--wrap", "echo task $SLURM_ARRAY_TASK_ID", log=tmp_path / "a_%a.out")
    steps = cluster.cmd("srun", "-n", "2", "bash", "-c", "echo rank $SLURM_PROCID")
    assert sorted(steps.split()) == ["0", "1", "rank", "rank"]
    assert cluster.wait(job, tmp_path / "one.out", 30)["JobState"] == "COMPLETED"
    assert (tmp_path / "one.out").read_text() == f"hello from {job}\n"
    for i in range(4):
        log = tmp_path / f"a_{i}.out"
        assert cluster.wait(f"{array}_{i}", log, 30)["JobState"] == "COMPLETED", tail(log)
        assert log.read_text() == f"task {i}\n"


def test_usr1_requeues_and_resumes_to_the_same_weights(cluster, tmp_path):
    reference_art, job_art, log = tmp_path / "reference", tmp_path / "job", tmp_path / "job.out"
    # the uninterrupted run, directly and at the same time on the other core
    reference = subprocess.Popen([sys.executable, "train.py", "toy_regression", *sets(reference_art, **SLOW)],
                                 cwd=ROOT, env=cluster.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
    job_id = cluster.submit("train.sbatch", "toy_regression", *sets(job_art, **SLOW), log=log)

    wait_for_progress(cluster, job_id, log, epoch=2, percent=30)
    cluster.cmd("scancel", "--signal=USR1", "--batch", job_id)

    job = cluster.wait(job_id, log, 150)  # a requeue passes through REQUEUED and PENDING, no final state
    text = log.read_text(errors="replace").replace("\r", "\n")
    assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", tail(log)
    assert job["Restarts"] == "1", tail(log)
    first, _, second = text.partition("restart 1:")
    assert "got SIGUSR1" in first and "requeueing job" in first and "training finished" not in first, tail(log)
    resumed = re.search(r"resumed from \S+ \(epoch (\d+), batch (\d+)\)", second)
    assert resumed and int(resumed[1]) < SLOW["epochs"], tail(log)
    assert "training finished" in second
    (run,) = run_dirs(job_art)  # the requeued job continued the same run folder

    assert reference.wait(timeout=120) == 0, reference.stderr.read()
    (expected,) = run_dirs(reference_art)
    assert_same_training(run, expected)


def test_scancel_saves_but_does_not_requeue(cluster, tmp_path):
    art, log = tmp_path / "art", tmp_path / "job.out"
    job_id = cluster.submit("train.sbatch", "toy_regression", *sets(art, **SLOW), log=log)
    deadline = time.time() + 90
    while "new run folder" not in tail(log):
        assert time.time() < deadline and cluster.job(job_id)["JobState"] in ("PENDING", "RUNNING"), tail(log)
        time.sleep(0.1)
    time.sleep(0.5)
    cluster.cmd("scancel", job_id)
    job = cluster.wait(job_id, log, 60)
    assert job["JobState"] == "CANCELLED" and job["Restarts"] == "0", tail(log)
    assert "got SIGTERM" in tail(log) and "not requeueing" in tail(log)
    assert (run_dirs(art)[0] / "checkpoints" / "last.pt").exists()


@pytest.fixture(scope="module")
def ddp_reference(cluster, tmp_path_factory):
    """An uninterrupted srun + torchrun job: 2 CPU processes (gloo)."""
    art = tmp_path_factory.mktemp("ddp_reference")
    log = art / "job.out"
    job_id = cluster.submit("train_ddp.sbatch", "toy_regression", *sets(art, **SLOW_DDP), log=log)
    return cluster.wait(job_id, log, 120), art, log


def test_ddp_job_trains_with_two_processes(ddp_reference):
    job, art, log = ddp_reference
    assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", tail(log)
    assert "1 node(s) x 2 process(es)" in tail(log, 100_000) and "training finished" in tail(log)
    (run,) = run_dirs(art)
    state = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    n_train = SLOW_DDP["num_samples"] - SLOW_DDP["num_samples"] // 4
    steps_one_rank = -(-(n_train // 2) // SLOW_DDP["batch_size"])  # each rank sees half the data
    assert state["global_step"] == SLOW_DDP["epochs"] * steps_one_rank, "not 2 processes"
    assert len(json.loads((run / "history.json").read_text())["epochs"]) == SLOW_DDP["epochs"]


def test_ddp_job_usr1_requeues_and_resumes_to_the_same_weights(cluster, ddp_reference, tmp_path):
    art, log = tmp_path / "art", tmp_path / "job.out"
    job_id = cluster.submit("train_ddp.sbatch", "toy_regression", *sets(art, **SLOW_DDP), log=log)
    # srun passes on output line by line, so the progress bar shows up late: time it from the run folder
    deadline = time.time() + 120
    while not run_dirs(art):
        assert cluster.job(job_id)["JobState"] in ("PENDING", "RUNNING"), f"job ended early:\n{tail(log)}"
        assert time.time() < deadline, f"training did not start:\n{tail(log)}"
        time.sleep(0.1)
    time.sleep(1.5)  # an epoch takes about 5 s
    cluster.cmd("scancel", "--signal=USR1", "--batch", job_id)
    job = cluster.wait(job_id, log, 150)  # a requeue passes through REQUEUED and PENDING, no final state
    text = log.read_text(errors="replace").replace("\r", "\n")
    assert job["JobState"] == "COMPLETED" and job["Restarts"] == "1", tail(log)
    first, _, second = text.partition("restart 1:")
    assert "got SIGUSR1" in first and "requeueing job" in first and "training finished" not in first, tail(log)
    resumed = re.search(r"resumed from \S+ \(epoch (\d+), batch (\d+)\)", second)
    assert resumed and int(resumed[1]) < SLOW_DDP["epochs"] and "training finished" in second, tail(log)

    (run,) = run_dirs(art)
    (w_got, h_got), (w_exp, h_exp) = final_state(run), final_state(run_dirs(ddp_reference[1])[0])
    assert all(torch.equal(w_got[k], w_exp[k]) for k in w_exp), "final weights are not bit-identical"
    assert h_got == h_exp, "history.json differs from the uninterrupted DDP run"


# ------------------------------------------------------------------ extraction arrays and the chain
def zoo_cli(stage: str, artifacts: Path, env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "zoo", stage, "--preset", "tiny", "--workers", "2", "--no-progress",
            "--set", f"run.artifacts_dir={artifacts}"]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"`python -m zoo {stage} --preset tiny` failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


@pytest.fixture(scope="module")
def tiny_zoo(cluster, tmp_path_factory) -> Path:
    """ZOORANK_ARTIFACTS with the tiny world's datasets and model zoo (python -m zoo datasets, models)."""
    artifacts = tmp_path_factory.mktemp("zoo_artifacts")
    for stage in ("datasets", "models"):
        zoo_cli(stage, artifacts, cluster.env)
    assert len(json.loads((artifacts / "zoo" / "tiny" / "models" / "index.json").read_text())["models"]) == 8
    return artifacts


def vector_index(folder: Path) -> list[dict]:
    """index.json's model entries without the timing."""
    return [{k: v for k, v in m.items() if k != "seconds"} for m in json.loads((folder / "index.json").read_text())["models"]]


def test_vector_array_and_merge_equal_one_process(cluster, tiny_zoo, tmp_path):
    from extractors.store import load_vectors

    models = tiny_zoo / "zoo" / "tiny" / "models" / "index.json"
    env = {"ZOORANK_ARTIFACTS": str(tiny_zoo), "PRESET": "tiny", "VECTORS_DIR": str(tmp_path / "array")}
    # MODELS left out: the script's default is the world's models/index.json
    slurm = ROOT / "slurm"
    array = cluster.sbatch("--array=0-2", str(slurm / "extract_vectors.sbatch"), log=tmp_path / "task_%a.out", env=env)
    merge = cluster.sbatch(f"--dependency=afterok:{array}", str(slurm / "merge.sbatch"), log=tmp_path / "merge.out",
                           env={**env, "MERGE": "vectors"})
    single = subprocess.run([sys.executable, "extract_model_vectors.py", "--models", str(models),
                             "--output", str(tmp_path / "single")], cwd=ROOT, env=cluster.env,
                            capture_output=True, text=True, timeout=120)
    assert single.returncode == 0, single.stderr

    job = cluster.wait(merge, tmp_path / "merge.out", 120)
    assert job["JobState"] == "COMPLETED", tail(tmp_path / "merge.out")
    tasks = [cluster.job(f"{array}_{i}") for i in range(3)]
    assert all(t["JobState"] == "COMPLETED" for t in tasks), [tail(tmp_path / f"task_{i}.out") for i in range(3)]
    assert all(job["StartTime"] >= t["EndTime"] for t in tasks), "merge started before the array had finished"
    done = [re.search(r"(\d+) vectorized, 0 already done, 0 failed of (\d+) models \(shard (\d)/3\)",
                      tail(tmp_path / f"task_{i}.out")) for i in range(3)]
    assert [(int(m[1]), int(m[2]), int(m[3])) for m in done] == [(3, 3, 0), (3, 3, 1), (2, 2, 2)]
    assert "index: 8 models, 0 failed" in tail(tmp_path / "merge.out")

    assert vector_index(tmp_path / "array") == vector_index(tmp_path / "single")
    ids, vectors = load_vectors(tmp_path / "array")
    ids_single, vectors_single = load_vectors(tmp_path / "single")
    assert ids == ids_single and len(ids) == 8
    for i, model in enumerate(ids):
        assert np.array_equal(vectors[i], vectors_single[i]), f"{model}: array and single-process vectors differ"

    # the chain through submit.py (array -> merge) again: every task finds its models done
    logs = tmp_path / "chain"
    logs.mkdir()
    proc = subprocess.run([sys.executable, "slurm/submit.py", "--preset", "tiny", "--steps", "vectors,merge",
                           "--vectors-tasks", "2", f"--sbatch-args=--output={logs}/%x-%j.out"], cwd=ROOT,
                          env={**cluster.env, **env}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    ids = dict(line.split()[:2] for line in proc.stdout.splitlines())
    assert ids.keys() == {"vectors", "merge"}, proc.stdout
    assert f"--dependency=afterok:{ids['vectors']} " in proc.stdout
    job = cluster.wait(ids["merge"], logs / f"zoorank-merge-{ids['merge']}.out", 120)
    text = "".join(p.read_text() for p in sorted(logs.glob("zoorank-vectors-*.out")))
    assert job["JobState"] == "COMPLETED", tail(logs / f"zoorank-merge-{ids['merge']}.out") + text
    assert text.count("0 vectorized") == 2 and "already done" in text, text
    assert vector_index(tmp_path / "array") == vector_index(tmp_path / "single")


def dry_run(*args: str, env: dict[str, str] | None = None) -> list[str]:
    chain_vars = ("PRESET", "ZOORANK_ARTIFACTS", "VECTORS_DIR", "TOKENS_DIR", "GT_OUTPUT")
    base = {k: v for k, v in os.environ.items() if k not in chain_vars}
    proc = subprocess.run([sys.executable, "slurm/submit.py", "--dry-run", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, env={**base, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    syntax = subprocess.run(["bash", "-n"], input=proc.stdout, capture_output=True, text=True)
    assert syntax.returncode == 0, f"--dry-run output is not a valid shell script: {syntax.stderr}\n{proc.stdout}"
    return proc.stdout.splitlines()


def test_submit_dry_run_prints_the_chain_with_dependencies():
    lines = dry_run("--preset", "tiny", "--vectors-tasks", "3", "--tokens-tasks", "2", "--gt-tasks", "5", "--probes-tasks", "2",
                    "--sbatch-args=--account=acc --partition=part", "--train-sbatch-args=--gpus=1",
                    "--tokens-args=--set dataset_tokens.per_class=4", "--set", "run.seed=1",
                    env={"TOKENS_DIR": "/scratch/tokens", "GT_OUTPUT": "/scratch/gt/m.json", "CLIP": "/scratch/clip"})
    jobs = {line.split("=", 1)[0]: line for line in lines if "sbatch --parsable" in line}
    assert list(jobs) == ["vectors", "tokens", "ground_truth", "probes", "merge", "tasks", "autoencoder", "labels",
                          "transformer"]
    assert all("PRESET=tiny " in line and "--account=acc --partition=part" in line for line in jobs.values())
    expected = {"vectors": ("--array=0-2", "slurm/extract_vectors.sbatch", None),
                "tokens": ("--array=0-1", "slurm/extract_tokens.sbatch", None),
                "ground_truth": ("--array=0-4", "slurm/ground_truth.sbatch", None),
                "probes": ("--array=0-1", "slurm/run.sbatch extract_probe_profiles.py --models "
                           "artifacts/zoo/tiny/models/index.json", None),
                "merge": ("MERGE='vectors tokens ground_truth probes'", "slurm/merge.sbatch",
                          "$vectors:$tokens:$ground_truth:$probes"),
                "tasks": ("--set world.preset=tiny", "slurm/run.sbatch make_tasks.py", "$merge"),
                "autoencoder": ("--gpus=1", "slurm/train.sbatch modelautoencoder", "$merge"),
                # the labels by the CLIP the tokens array uses ($CLIP, else the world's, else config.ini's)
                "labels": ("--set dataset_tokens.clip_pretrained=/scratch/clip", "slurm/run.sbatch "
                           "extract_model_labels.py --models artifacts/zoo/tiny/models/index.json", "$merge"),
                "transformer": ("--gpus=1", "slurm/train.sbatch transformer", "$tasks:$autoencoder:$labels")}
    for step, (option, script, after) in expected.items():
        line = jobs[step]
        assert option in line and f" {script} " in line + " ", line
        deps = re.findall(r"--dependency=(\S+)", line)
        assert deps == ([f"afterok:{after}"] if after else []), line
        assert ("--kill-on-invalid-dep=yes" in line) == bool(after), line
        assert line.endswith(")") and "--set run.seed=1" in line, line
        assert ("--array" in line) == (step in ("vectors", "tokens", "ground_truth", "probes")), line
    assert "--set dataset_tokens.per_class=4" in jobs["tokens"]
    assert "--set ranking_data.performance_file=/scratch/gt/m.json" in jobs["tasks"]  # beside it: the kept features
    assert ("--set ranking_data.performance_file=/scratch/gt/m.json" in jobs["transformer"]
            and "--set ranking_data.dataset_tokens_dir=/scratch/tokens" in jobs["transformer"]
            and "--set ranking_data.dataset_index=artifacts/zoo/tiny/datasets/index.json" in jobs["transformer"])

    # a part of the chain after another job: the first steps wait for it
    lines = dry_run("--steps", "ground_truth,merge,transformer", "--gt-tasks", "4", "--max-running", "2",
                    "--after", "123")
    jobs = {line.split("=", 1)[0]: line for line in lines if "sbatch --parsable" in line}
    assert list(jobs) == ["ground_truth", "merge", "transformer"]
    assert "--dependency=afterok:123 " in jobs["ground_truth"] and "--array=0-3%2" in jobs["ground_truth"]
    assert "MERGE=ground_truth " in jobs["merge"] and "--dependency=afterok:$ground_truth " in jobs["merge"]
    assert "--dependency=afterok:$merge " in jobs["transformer"]


# ------------------------------------------------------------------ a world of your own (submit.py --world)
def test_world_chain_runs_every_step_in_order(cluster, tmp_path):
    from own_world import build_world
    from test_own_world import TINY

    world_file = build_world(tmp_path / "inputs", TINY)
    art, logs = tmp_path / "art", tmp_path / "logs"
    logs.mkdir()
    lines = dry_run("--world", str(world_file), "--set", f"run.artifacts_dir={art}")
    jobs = {line.split("=", 1)[0]: line for line in lines if "sbatch --parsable" in line}
    assert list(jobs) == ["prepare", "ground_truth", "vectors", "tokens", "probes", "merge", "tasks", "autoencoder",
                          "labels", "transformer", "benchmark", "report"]
    own = art / "worlds" / "mine"
    assert all(f"--set run.artifacts_dir={own} " in line for line in jobs.values())  # the world's folder, not art
    assert "--dependency=afterok:$ground_truth:$vectors:$tokens:$probes " in jobs["merge"]
    assert "--dependency=afterok:$tasks:$autoencoder:$labels " in jobs["transformer"]
    assert "MERGE='ground_truth vectors tokens probes'" in jobs["merge"]

    proc = subprocess.run([sys.executable, "slurm/submit.py", "--world", str(world_file), "--gt-tasks", "2",
                           "--vectors-tasks", "2", "--tokens-tasks", "1", "--probes-tasks", "2",
                           "--set", f"run.artifacts_dir={art}", f"--sbatch-args=--output={logs}/%x-%j.out"],
                          cwd=ROOT, env=cluster.env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    ids = dict(line.split()[:2] for line in proc.stdout.splitlines())
    report = cluster.wait(ids["report"], logs / f"zoorank-run-{ids['report']}.out", 600)
    text = "".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(logs.glob("*.out")))
    assert report["JobState"] == "COMPLETED", text
    matrix = json.loads((own / "world" / "dataset_model_performance.json").read_text())["performance"]
    assert len(matrix) == 6 and all(len(scores) == 6 for scores in matrix.values())
    assert json.loads((own / "model_vectors" / "index.json").read_text())["count"] == 6
    assert (own / "probe_profiles" / "profiles.npz").is_file() and (own / "benchmark" / "report.md").is_file()
    assert (own / "model_labels" / "labels.npz").is_file()
    assert list((own / "models" / "transformer" / "runs").glob("*/checkpoints/best.pt")), text
    started = {s: cluster.job(ids[s])["StartTime"] for s in ("prepare", "merge", "autoencoder", "report")}
    assert started["prepare"] < started["merge"] <= started["autoencoder"] <= started["report"]
