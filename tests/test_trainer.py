"""The shared training loop, exercised in-process through the example trainer."""
import dataclasses
import json
import re
import shutil
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT
from torch import nn
from toy_trainer import ToyRegressionTrainer
from trainer_utils import final_weights, run_dirs, toy_trainer

from config import ConfigParser, TrainerConfig
from train.base_trainer import build_optimizer, move_to_device
from utils import checkpoint as ckpt
from utils import io
from utils.errors import ZooRankError
from utils.seed import seed_everything


def weights_of(trainer):
    return {k: v.detach().clone() for k, v in trainer.raw_model.state_dict().items()}


def max_diff(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_run_folder_history_plots_and_checkpoints(tmp_path):
    t = toy_trainer(tmp_path, epochs=4, keep_last=2)
    history = t.fit()
    (run,) = run_dirs(tmp_path)
    assert run.parent == tmp_path / "models" / "toy_regression" / "runs"
    saved = json.loads((run / "history.json").read_text())
    assert saved == json.loads(json.dumps(history)) and len(saved["epochs"]) == 4
    assert {"train/loss", "val/loss", "train/rmse", "val/rmse", "lr"} <= set(saved["epochs"][-1])
    assert len(saved["steps"]["train/loss"]) == 4 * 12  # 384 train samples / batch 32
    assert (run / "plots" / "loss.png").stat().st_size > 1000 and not (run / "plots" / "rmse.png").exists()
    assert "epoch 4/4" in (run / "train.log").read_text()
    # resolved config in the run folder parses back to the same values
    assert ConfigParser(run / "config.ini").resolved() == t.config_snapshot
    folder = run / "checkpoints"
    assert sorted(p.name for p in folder.glob("epoch_*.pt")) == ["epoch_0003.pt", "epoch_0004.pt"]
    last = ckpt.load(folder / "last.pt")
    assert {"model", "optimizer", "scheduler", "scaler", "rng", "epoch", "history", "config"} <= set(last)
    assert last["epoch"] == 4 and last["config"] == t.config_snapshot and last["finished"]
    # best: the epoch with the lowest val/loss, and its weights saved with the loss in the name
    val = [row["val/loss"] for row in saved["epochs"]]
    best_epoch = 1 + val.index(min(val))
    assert ckpt.load(folder / "best.pt")["epoch"] == best_epoch
    weights = sorted(folder.glob("toy_regression_weights.*.pt"), key=lambda p: p.stat().st_mtime_ns)
    assert 1 <= len(weights) <= 2
    m = re.fullmatch(r"toy_regression_weights\.loss_(\d+\.\d{6})\.\d{8}_\d{6}\.pt", weights[-1].name)
    assert m and float(m.group(1)) == pytest.approx(min(val), abs=1e-6)
    best_weights = torch.load(weights[-1], weights_only=True)
    assert all(torch.equal(best_weights[k], v) for k, v in ckpt.load(folder / "best.pt")["model"].items())


def test_keep_last_keeps_newest_best_weights(tmp_path):
    t = toy_trainer(tmp_path, epochs=6, keep_last=1, scheduler="none")
    t.fit()
    folder = run_dirs(tmp_path)[0] / "checkpoints"
    weights = list(folder.glob("toy_regression_weights.*.pt"))
    assert len(weights) == 1
    assert float(weights[0].name.split("loss_")[1].split(".2")[0]) == pytest.approx(t.best["value"], abs=1e-6)


@pytest.mark.parametrize("name, cls", [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)])
def test_optimizers_by_name_with_weight_decay(name, cls):
    opt = build_optimizer(nn.Linear(2, 2).parameters(), TrainerConfig(optimizer=name, lr=0.1, weight_decay=0.05))
    assert type(opt) is cls and opt.param_groups[0]["weight_decay"] == 0.05 and opt.param_groups[0]["lr"] == 0.1


def test_same_seed_same_numbers_other_seed_differs(tmp_path):
    a, b, c = (toy_trainer(tmp_path / n, run={"seed": s}, epochs=2) for n, s in (("a", 1), ("b", 1), ("c", 2)))
    ha, hb, hc = a.fit(), b.fit(), c.fit()
    assert ha == hb and max_diff(weights_of(a), weights_of(b)) == 0
    assert ha != hc


def test_gradient_accumulation_matches_large_batch(tmp_path):
    big = toy_trainer(tmp_path / "big", epochs=2, dropout=0, batch_size=32, grad_accum_steps=1)
    acc = toy_trainer(tmp_path / "acc", epochs=2, dropout=0, batch_size=16, grad_accum_steps=2)
    big.fit()
    acc.fit()
    assert max_diff(weights_of(big), weights_of(acc)) < 1e-5
    assert len(acc.history["steps"]["train/loss"]) == len(big.history["steps"]["train/loss"])


def test_gradient_clipping_bounds_each_update(tmp_path):
    lr, clip = 0.05, 1e-3
    common = dict(epochs=1, optimizer="sgd", lr=lr, momentum=0, weight_decay=0, scheduler="none", warmup_steps=0)
    clipped = toy_trainer(tmp_path / "c", grad_clip_norm=clip, **common)
    free = toy_trainer(tmp_path / "f", grad_clip_norm=0, **common)
    torch.manual_seed(0)  # what fit() does before build_model(): the same initial weights
    init = clipped.build_model().state_dict()
    clipped.fit()
    free.fit()

    def moved(t):
        return sum(((t.raw_model.state_dict()[k] - init[k]) ** 2).sum() for k in init).sqrt().item()

    assert moved(clipped) <= 12 * lr * clip * 1.0001  # 12 steps, each at most lr * max norm
    assert moved(free) > 10 * moved(clipped)


def test_bf16_autocast_runs_and_fp16_is_noop_on_cpu(tmp_path):
    fp32 = toy_trainer(tmp_path / "a", epochs=1, precision="fp32")
    fp16 = toy_trainer(tmp_path / "b", epochs=1, precision="fp16")
    bf16 = toy_trainer(tmp_path / "c", epochs=1, precision="bf16")
    for t in (fp32, fp16, bf16):
        t.fit()
    assert max_diff(weights_of(fp32), weights_of(fp16)) == 0
    assert 0 < max_diff(weights_of(fp32), weights_of(bf16)) < 0.05
    assert all(torch.isfinite(v).all() for v in weights_of(bf16).values())


def test_torch_compile(tmp_path):
    eager = toy_trainer(tmp_path / "e", epochs=1, dropout=0)
    compiled = toy_trainer(tmp_path / "c", epochs=1, dropout=0, compile="true")
    eager.fit()
    compiled.fit()
    assert type(compiled.model).__name__ == "OptimizedModule"
    assert not any(k.startswith("_orig_mod") for k in final_weights(run_dirs(tmp_path / "c")[0]))
    assert max_diff(weights_of(eager), weights_of(compiled)) < 1e-4


@pytest.mark.parametrize("val_every, patience, expected_epochs", [(1, 2, 3), (2, 1, 4), (1, 0, 6)])
def test_early_stopping_counts_validation_checks(tmp_path, val_every, patience, expected_epochs):
    # min_delta so large that nothing after the first check counts as an improvement
    t = toy_trainer(tmp_path, epochs=6, val_every=val_every, early_stopping_patience=patience,
                    early_stopping_min_delta=1e9)
    history = t.fit()
    assert len(history["epochs"]) == expected_epochs
    assert ckpt.load(run_dirs(tmp_path)[0] / "checkpoints" / "last.pt")["finished"]


def test_early_stopping_max_mode_keeps_going_while_improving(tmp_path):
    t = toy_trainer(tmp_path, epochs=5, monitor="val/loss", monitor_mode="max", early_stopping_patience=1)
    assert len(t.fit()["epochs"]) == 2  # val/loss falls, which is "worse" in max mode


def test_resume_of_finished_run_trains_nothing_more(tmp_path):
    toy_trainer(tmp_path, epochs=2).fit()
    before = (run_dirs(tmp_path)[0] / "history.json").read_text()
    again = toy_trainer(tmp_path, epochs=2)
    assert len(again.fit(resume="auto")["epochs"]) == 2
    assert (run_dirs(tmp_path)[0] / "history.json").read_text() == before and len(run_dirs(tmp_path)) == 1


def test_resume_auto_without_checkpoint_starts_fresh(tmp_path):
    toy_trainer(tmp_path, epochs=1).fit(resume="auto")
    assert len(run_dirs(tmp_path)) == 1


def test_corrupt_checkpoint_is_a_user_error_and_left_alone(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    with pytest.raises(ZooRankError, match=r"bad.pt is corrupt or unreadable"):
        toy_trainer(tmp_path / "a", epochs=1).fit(resume=str(bad))
    assert bad.read_bytes() == b"PK\x03\x04 definitely not a checkpoint"
    with pytest.raises(ZooRankError, match="no checkpoint at"):
        toy_trainer(tmp_path / "a", epochs=1).fit(resume=str(tmp_path / "missing"))


def test_atomic_write_keeps_old_file_when_writer_dies(tmp_path):
    target = tmp_path / "ckpt.pt"
    io.torch_save({"v": torch.ones(3)}, target)
    with pytest.raises(RuntimeError):
        with io.atomic_open(target, "wb") as fh:
            fh.write(b"half a checkpoint")
            raise RuntimeError("killed mid-write")
    assert torch.equal(torch.load(target, weights_only=True)["v"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"], "no temp file left behind"


@dataclasses.dataclass
class Pair:
    x: torch.Tensor
    meta: str


def test_move_to_device_handles_nested_batches():
    batch = {"a": torch.ones(2), "b": [torch.zeros(1), (torch.ones(1), "keep")], "c": Pair(torch.ones(3), "m")}
    moved = move_to_device(batch, torch.device("meta"))
    assert moved["a"].is_meta and moved["b"][0].is_meta and moved["b"][1][0].is_meta and moved["b"][1][1] == "keep"
    assert moved["c"].x.is_meta and moved["c"].meta == "m"


class DictBatchTrainer(ToyRegressionTrainer):
    """Dict batches through the `_forward_batch` hook, with an extra metric."""

    name = "dict_batch_test"

    def collate_fn(self, items):
        x, y = zip(*items)
        return {"inputs": torch.stack(x), "target": torch.stack(y)}

    def _forward_batch(self, batch):
        batch = move_to_device(batch, self.device)
        self._pred = self.model(batch["inputs"]).squeeze(-1)
        return F.mse_loss(self._pred, batch["target"])

    def _collect_batch_metrics(self, batch, loss):
        return {"mae": (self._pred - batch["target"]).abs().mean().item()}


def test_forward_batch_hook_with_dict_batches(tmp_path):
    base = toy_trainer(tmp_path, epochs=2)
    t = DictBatchTrainer(base.cfg, base.run, base.config_snapshot, base.config_ini)
    history = t.fit()
    assert {"train/mae", "val/mae"} <= set(history["epochs"][-1])
    assert history["epochs"][-1]["train/loss"] < history["epochs"][0]["train/loss"]
    assert (tmp_path / "models" / "dict_batch_test" / "runs").is_dir()


def test_experiment_loggers_tensorboard_and_wandb_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    t = toy_trainer(tmp_path, epochs=2, tensorboard="true", wandb="true")
    t.fit()
    run = run_dirs(tmp_path)[0]
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert list((run / "wandb").glob("offline-run-*/run-*.wandb"))


def test_loggers_not_imported_when_off(tmp_path):
    code = (
        "import sys; sys.path.insert(0, 'tests'); import conftest; from trainer_utils import toy_trainer;"
        f"toy_trainer(__import__('pathlib').Path({str(tmp_path)!r}), epochs=1).fit();"
        "print(sorted(m for m in sys.modules if m.startswith(('wandb', 'torch.utils.tensorboard'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_validation_end_and_fit_end_hooks(tmp_path):
    """on_validation_end(row) sees each validated epoch and may add metrics (they reach the history and can
    be monitored); what on_fit_end returns, with the best weights loaded, is trainer.results."""

    class Hooked(ToyRegressionTrainer):
        def on_validation_end(self, row):
            row["val/twice_loss"] = 2 * row["val/loss"]

        def on_fit_end(self, best_checkpoint):
            self.load_best(best_checkpoint)
            return {"best": best_checkpoint.name, "weights": weights_of(self)}

    base = toy_trainer(tmp_path, epochs=3, monitor="val/twice_loss")
    t = Hooked(base.cfg, base.run, base.config_snapshot, base.config_ini)
    history = t.fit()
    assert all(r["val/twice_loss"] == 2 * r["val/loss"] for r in history["epochs"])
    best = min(history["epochs"], key=lambda r: r["val/twice_loss"])["epoch"]
    assert t.best["epoch"] == best and t.results["best"] == "best.pt"
    state = ckpt.load(t.run_dir / "checkpoints" / "best.pt")["model"]
    assert max_diff(t.results["weights"], state) == 0


def test_complete_marker_only_when_fit_ends_and_resume_auto_takes_the_unfinished_run(tmp_path):
    """complete.json is the last thing a successful fit writes: a run that diverged or whose on_fit_end failed
    has none; --resume auto takes the newest unfinished run (not a newer complete one), and finishing it marks
    it complete."""
    from utils import runs

    class FailsAtTheEnd(ToyRegressionTrainer):
        def on_fit_end(self, best_checkpoint):
            raise ZooRankError("publishing failed")

    base = toy_trainer(tmp_path, epochs=2, run_name="failed")
    with pytest.raises(ZooRankError, match="publishing failed"):
        FailsAtTheEnd(base.cfg, base.run, base.config_snapshot, base.config_ini).fit()
    failed = tmp_path / "models" / "toy_regression" / "runs" / "failed"
    assert (failed / "checkpoints" / "best.pt").is_file() and not runs.is_complete(failed)
    # a real divergence: the step schedule multiplies the lr by 1e30 after the first epoch, the loss becomes NaN
    with pytest.raises(ZooRankError, match="loss became nan"):
        toy_trainer(tmp_path, epochs=4, run_name="diverged", scheduler="step", step_size=1, gamma=1e30).fit()
    assert not runs.is_complete(failed.parent / "diverged")
    done = toy_trainer(tmp_path, epochs=2, run_name="done")
    done.fit()
    marker = json.loads((done.run_dir / runs.COMPLETE).read_text())
    assert marker["epochs"] == 2 and marker["checkpoint"].endswith("best.pt") and marker["trainer"] == "toy_regression"
    assert runs.newest_complete(failed.parent) == done.run_dir
    assert ckpt.find_resume("auto", failed.parent).parent.parent.name == "diverged"  # the newest unfinished
    # runs of another model kept in the same folder (the ranker's far companion) are never resumed into this one
    assert ckpt.find_resume("auto", failed.parent, [failed.parent / "diverged"]).parent.parent.name == "failed"
    assert ckpt.find_resume("auto", failed.parent, [failed.parent / n for n in ("diverged", "failed")]).parent.parent == done.run_dir
    shutil.rmtree(failed.parent / "diverged")
    resumed = toy_trainer(tmp_path, epochs=2)
    assert len(resumed.fit(resume="auto")["epochs"]) == 2 and resumed.run_dir == failed
    assert runs.is_complete(failed) and runs.newest_complete(failed.parent) == failed


@pytest.mark.parametrize("validate_initial", [True, False])
def test_validate_initial_lets_the_untrained_weights_be_the_best(tmp_path, validate_initial):
    # in max mode a falling val/loss is "worse": every epoch of training is worse than the weights as built
    t = toy_trainer(tmp_path, epochs=3, monitor="val/loss", monitor_mode="max", validate_initial=validate_initial)
    seed_everything(t.run.seed, t.run.deterministic)  # as fit() does before it builds the model
    initial = t.build_model().state_dict()
    history = t.fit()
    best = ckpt.load(run_dirs(tmp_path)[0] / "checkpoints" / "best.pt")
    assert len(history["epochs"]) == 3 and ("initial" in history) == validate_initial
    if validate_initial:
        assert history["initial"]["epoch"] == 0 and history["initial"]["val/loss"] > history["epochs"][0]["val/loss"]
        assert best["epoch"] == 0 and max_diff(initial, best["model"]) == 0
    else:
        assert best["epoch"] == 1 and max_diff(initial, best["model"]) > 0
