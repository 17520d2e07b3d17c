"""train.py as a user runs it: kills, signals, torchrun DDP, CLI errors. Real subprocesses."""
import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT
from trainer_utils import TOY_PLUGIN, env, final_weights, run_dirs, run_train, sets, train_cmd

from utils.errors import EXIT_PREEMPTED

# training dominates each epoch (about a second on one core): room to interrupt mid-epoch
SLOW = dict(num_samples=40000, epochs=4, keep_last=2)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted deterministic run of the SLOW config."""
    art = tmp_path_factory.mktemp("reference")
    proc = run_train("toy_regression", *sets(art, **SLOW), cwd=art)
    assert proc.returncode == 0, proc.stderr
    run = run_dirs(art)[0]
    return final_weights(run), json.loads((run / "history.json").read_text())


def epochs_done(art):
    runs = run_dirs(art)
    hist = runs[0] / "history.json" if runs else None
    return len(json.loads(hist.read_text())["epochs"]) if hist and hist.exists() else 0


def start_and_wait(art, epochs_before):
    """Start training and return once it is about half-way through epoch `epochs_before + 1`."""
    proc = subprocess.Popen(train_cmd("toy_regression", *sets(art, **SLOW)), cwd=art, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline, seen = time.time() + 180, {}
    while epochs_done(art) < epochs_before:
        assert proc.poll() is None, f"finished or crashed before the interruption: {proc.stderr.read()}"
        assert time.time() < deadline, "training too slow to reach the interruption point"
        seen.setdefault(epochs_done(art), time.time())
        time.sleep(0.01)
    # history.json is written last at an epoch end: an epoch takes about (now - start of the previous one)
    epoch_time = time.time() - seen.get(epochs_before - 1, time.time())
    time.sleep(max(0.05, 0.3 * epoch_time))
    return proc


def assert_same_as_reference(art, reference):
    weights, history = reference
    (run,) = run_dirs(art)
    got = final_weights(run)
    assert all(torch.equal(got[k], weights[k]) for k in weights), "weights are not bit-identical"
    assert json.loads((run / "history.json").read_text()) == history


def test_sigkill_then_resume_is_bit_identical(tmp_path, reference):
    proc = start_and_wait(tmp_path, 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert epochs_done(tmp_path) < SLOW["epochs"]
    resumed = run_train("toy_regression", *sets(tmp_path, **SLOW), "--resume", "auto", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stderr
    assert_same_as_reference(tmp_path, reference)


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGTERM])
def test_signal_saves_mid_epoch_exits_75_and_resumes_identically(tmp_path, reference, sig):
    proc = start_and_wait(tmp_path, 2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_PREEMPTED, err
    assert "checkpoint saved" in err and "Traceback" not in err
    state = torch.load(run_dirs(tmp_path)[0] / "checkpoints" / "last.pt", weights_only=True)
    assert state["batch_in_epoch"] > 0, "the checkpoint was taken mid-epoch"
    resumed = run_train("toy_regression", *sets(tmp_path, **SLOW), "--resume", "auto", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_as_reference(tmp_path, reference)


def test_torchrun_ddp_gloo_two_processes_matches_single_process(tmp_path):
    common = dict(epochs=2, dropout=0, num_samples=512)
    single = run_train("toy_regression", *sets(tmp_path / "single", batch_size=32, **common), cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "train.py"), "--plugin", TOY_PLUGIN, "toy_regression", *sets(tmp_path / "ddp", batch_size=16, **common)]
    ddp = subprocess.run(cmd, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    runs = run_dirs(tmp_path / "ddp")
    assert len(runs) == 1, "only rank 0 creates the run folder"
    assert ddp.stderr.count("finished: run folder") == 1, "only rank 0 logs the run summary"
    # 2 ranks x 16 = the same 32 samples per step as the single process: same result up to float sums
    a, b = final_weights(run_dirs(tmp_path / "single")[0]), final_weights(runs[0])
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    assert len(json.loads((runs[0] / "history.json").read_text())["steps"]["train/loss"]) == 2 * 12


def test_list_plugin_and_case_insensitive_names(tmp_path):
    listed = run_train("--list", cwd=tmp_path)
    assert listed.returncode == 0 and "ToyRegressionTrainer" in listed.stdout and "Example:" in listed.stdout
    plain = subprocess.run([sys.executable, str(ROOT / "train.py"), "--list"], capture_output=True, text=True, timeout=120)
    names = [line.split()[0] for line in plain.stdout.splitlines()]
    assert names == ["ModelAutoEncoderTrainer", "TransformerTrainer"], "the toy trainer is a test plugin only"
    missing = subprocess.run([sys.executable, str(ROOT / "train.py"), "--plugin", "no_such_module", "--list"],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "plugin 'no_such_module' cannot be imported" in missing.stderr
    ok = run_train("TOY_REGRESSIONtrainer", *sets(tmp_path, epochs=1), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr


def test_unknown_trainer_exit_2_with_closest(tmp_path):
    proc = run_train("toy_regresion", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ("error: unknown trainer 'toy_regresion'; did you mean 'ToyRegressionTrainer'? "
                                   "registered: ModelAutoEncoderTrainer, ToyRegressionTrainer, TransformerTrainer")


def test_corrupt_resume_checkpoint_exit_2_and_untouched(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"\x00" * 64)
    proc = run_train("toy_regression", *sets(tmp_path), "--resume", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: checkpoint {bad} is corrupt")
    assert bad.read_bytes() == b"\x00" * 64
    assert not run_dirs(tmp_path), "nothing written for a failed resume"
