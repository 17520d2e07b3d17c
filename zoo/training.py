"""A minimal supervised loop for `transformers` image classifiers on in-memory tensors.

Used to pretrain zoo models and by the `finetune` ground-truth method. The data are a few thousand
preprocessed 32x32 images, so a plain loop over shuffled index batches beats a DataLoader; the
shared `Trainer` (train/) with its checkpoints and run folders is built for long runs, not for
hundreds of seconds-long fits.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def fit_classifier(model: torch.nn.Module, x: torch.Tensor, y: np.ndarray, epochs: int, lr: float,
                   batch_size: int, seed: int, device: torch.device, weight_decay: float = 0.05,
                   warmup_fraction: float = 0.1) -> float:
    """Train `model` (returns logits for `pixel_values`) on x [N, 3, H, W], y [N]; returns the last loss.

    AdamW with linear warmup then cosine decay to zero, per step; the order of the batches is seeded.
    """
    model.to(device).train()
    labels = torch.as_tensor(y, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = max(1, math.ceil(len(x) / batch_size))
    total = epochs * steps_per_epoch
    warmup = int(warmup_fraction * total)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, total - warmup))))
    loss_value = float("nan")
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            if len(idx) < 2 and len(x) > 1:  # BatchNorm cannot train on a batch of one
                continue
            logits = model(pixel_values=x[idx].to(device)).logits
            loss = torch.nn.functional.cross_entropy(logits, labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_value = float(loss.detach())
    model.eval()
    return loss_value


@torch.inference_mode()
def predict(model: torch.nn.Module, x: torch.Tensor, batch_size: int, device: torch.device) -> np.ndarray:
    """Predicted class per row of x: [N] int64."""
    model.to(device).eval()
    out = [model(pixel_values=x[i:i + batch_size].to(device)).logits.argmax(-1).cpu()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: np.ndarray, batch_size: int, device: torch.device) -> float:
    return float((predict(model, x, batch_size, device) == np.asarray(y)).mean())
