import warnings

import pytest
import torch
from torch import nn

from config import TrainerConfig
from train.lr_schedule import LRSchedule

STEPS = 5  # optimizer steps per epoch


def trace(kind, epochs=6, metric=lambda e: 1.0, **kw):
    """LR used by every optimizer step, stepping the schedule exactly as the Trainer does."""
    cfg = TrainerConfig(scheduler=kind, epochs=epochs, lr=1.0, **kw)
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=cfg.lr)
    sched = LRSchedule(opt, cfg, STEPS)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        for e in range(epochs):
            for _ in range(STEPS):
                out.append(opt.param_groups[0]["lr"])
                p.grad = torch.ones(1)
                opt.step()
                sched.step_batch()
            sched.step_epoch(metric(e))
    return out


def per_epoch(lrs):
    return [lrs[i : i + STEPS] for i in range(0, len(lrs), STEPS)]


def test_cosine_moves_every_step_down_to_min_lr():
    lrs = trace("cosine", min_lr=0.01)
    assert all(b < a for a, b in zip(lrs, lrs[1:]))
    assert lrs[0] == pytest.approx(1.0) and lrs[-1] == pytest.approx(0.01, abs=0.02)


@pytest.mark.parametrize("kind, kw", [("step", {"step_size": 2, "gamma": 0.5}), ("exponential", {"gamma": 0.5})])
def test_epoch_schedulers_change_only_between_epochs(kind, kw):
    epochs = per_epoch(trace(kind, **kw))
    assert all(len(set(e)) == 1 for e in epochs), "constant within an epoch"
    firsts = [e[0] for e in epochs]
    expected = [1, 1, 0.5, 0.5, 0.25, 0.25] if kind == "step" else [1, 0.5, 0.25, 0.125, 0.0625, 0.03125]
    assert firsts == pytest.approx(expected)


def test_plateau_decays_after_patience_checks_without_improvement():
    firsts = [e[0] for e in per_epoch(trace("plateau", plateau_patience=1, plateau_factor=0.1))]
    # constant metric: best at check 1, bad at checks 2 and 3 (> patience 1) -> decay after the 3rd epoch
    assert firsts == pytest.approx([1, 1, 1, 0.1, 0.1, 0.01])


def test_plateau_keeps_lr_while_improving():
    firsts = [e[0] for e in per_epoch(trace("plateau", plateau_patience=0, metric=lambda e: 10.0 - e))]
    assert firsts == pytest.approx([1.0] * 6)


def test_onecycle_rises_then_falls_per_step():
    lrs = trace("onecycle", onecycle_pct_start=0.3)
    peak = max(range(len(lrs)), key=lrs.__getitem__)
    assert 0 < peak < len(lrs) - 1 and lrs[peak] == pytest.approx(1.0, rel=0.05)
    assert lrs[0] < 0.1 and lrs[-1] < 0.01


@pytest.mark.parametrize("kind", ["none", "cosine", "step", "exponential", "plateau", "onecycle"])
def test_linear_warmup_then_main_schedule(kind):
    lrs = trace(kind, warmup_steps=4, warmup_start_factor=0.2, step_size=1, gamma=0.5)
    # warmup ramps to where the main schedule starts: lr, or lr / div_factor for onecycle
    assert lrs[4] == pytest.approx(1.0 if kind != "onecycle" else 1.0 / 25)
    assert lrs[:4] == pytest.approx([lrs[4] * f for f in (0.2, 0.4, 0.6, 0.8)])


@pytest.mark.parametrize("kind", ["cosine", "step", "exponential", "plateau", "onecycle"])
def test_never_below_min_lr(kind):
    lrs = trace(kind, epochs=8, min_lr=0.3, gamma=0.1, step_size=1, plateau_patience=0, plateau_factor=0.1,
                warmup_steps=3, warmup_start_factor=0.01)
    assert min(lrs) >= 0.3 - 1e-12
    assert min(lrs) == pytest.approx(0.3), "the floor is reached, so it is what holds the lr up"


def test_state_dict_round_trip_continues_identically():
    cfg = TrainerConfig(scheduler="cosine", epochs=4, lr=1.0, warmup_steps=3)
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    a = LRSchedule(opt, cfg, STEPS)
    for _ in range(7):
        opt.step()
        a.step_batch()
    opt2 = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    b = LRSchedule(opt2, cfg, STEPS)
    opt2.load_state_dict(opt.state_dict())
    b.load_state_dict(a.state_dict())
    for _ in range(5):
        opt.step()
        a.step_batch()
        opt2.step()
        b.step_batch()
        assert a.lrs() == b.lrs()
