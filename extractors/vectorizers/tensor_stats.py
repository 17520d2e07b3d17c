"""Permutation-invariant statistics of one weight tensor (`STATS`, 37 numbers).

A tensor is viewed as a matrix [rows = shape[0], cols = the rest]. A tensor of at most
`sample_size` elements is described exactly (every element, float64). A larger one costs one pass
over the data (a sum in the stored dtype: the exact mean and NaN/inf detection) plus fixed-size work
on a seeded submatrix sample (`row_sample` random rows x at most COL_SAMPLE random columns, upcast
to float32), so vectorizing keeps pace with merely reading the checkpoint:

* `sample_size` random elements of the submatrix: std, skew, kurtosis, quantiles of the
  standardized values including the tails (0.1% / 99.9%), zero and near-zero fractions;
* the submatrix: RMS (log-norm per sqrt(numel)), row- and column-norm quantiles (rescaled by the
  sampling rates), and the spectrum: top `svd_rank` singular values from an exact SVD, the eigenvalues
  of the sample's Gram matrix, or a seeded `torch.svd_lowrank` when both sides exceed
  `svd_exact_max`. For sampled matrices the singular values are the submatrix's rescaled by
  sqrt(rows * cols / sampled entries) (exact for rank-one structure, an overestimate for noise-like
  spectra): comparable between models with the same shapes, which is what the ranking needs.

Permuting hidden units (rows of one layer, matching columns of the next) leaves every statistic
unchanged: exactly for tensors within `sample_size` (all tiny models), in distribution otherwise.
"""
from __future__ import annotations

import contextlib
import math
import zlib
from collections.abc import Iterator

import numpy as np
import torch

from extractors.base import ExtractionError

QUANTILES = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)
SIGMA_RATIOS = (2, 4, 8, 16)
STATS = (
    "mean", "std", "abs_mean_over_rms", "skew", "log_kurtosis",
    *(f"zq{q:g}" for q in QUANTILES),  # quantiles of (x - mean) / std
    "frac_zero", "frac_small", "log_rms", "log_numel", "log_fan_out", "log_fan_in", "log_kernel",
    "row_q10", "row_q50", "row_q90", "row_cv",  # log RMS of each row (output unit): quantiles, spread
    "col_q10", "col_q50", "col_q90", "col_cv",  # same for columns (input units)
    "log_sigma1", "log_stable_rank", "stable_rank_frac", *(f"sigma{k}_ratio" for k in SIGMA_RATIOS),
    "spectral_entropy",
)
IDX = {name: i for i, name in enumerate(STATS)}
TINY = 1e-12
EXACT_SVD_ELEMENTS = 1 << 16
COL_SAMPLE = 4096  # columns kept in the submatrix sample of wider tensors


class BadTensorError(ExtractionError):
    """A tensor with NaN or inf values."""


def _log(x: float) -> float:
    return math.log(max(x, TINY))


def _seed(cfg, shape: tuple[int, ...], salt: int) -> int:
    # depends on the shape only: tensors of one shape are sampled at the same positions
    return cfg.seed * 1_000_003 + zlib.crc32(f"{tuple(shape)}/{salt}".encode())


def _generator(cfg, shape: tuple[int, ...], salt: int) -> torch.Generator:
    return torch.Generator().manual_seed(_seed(cfg, shape, salt))


def _pick(n: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """About k distinct sorted indices below n (k draws with replacement, deduplicated): O(k), not O(n)."""
    return torch.unique(torch.randint(n, (k,), generator=gen))


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run small ops on one thread: thread-pool handoffs cost more than the work (and far more on a
    busy node); the one pass over the whole tensor keeps every thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def checked_sum(name: str, tensor: torch.Tensor) -> float:
    """Sum of all elements (one pass in the stored dtype); BadTensorError on NaN/inf."""
    total = float(tensor.sum())
    if math.isfinite(total):
        return total
    if bool(torch.isfinite(tensor).all()):  # a finite sum that overflowed the stored dtype
        return float(tensor.sum(dtype=torch.float64))
    kind = "NaN" if bool(torch.isnan(tensor).any()) else "inf"
    raise BadTensorError(f"tensor '{name}' {tuple(tensor.shape)} contains {kind} values")


def _norm_features(sq: np.ndarray, length: int) -> list[float]:
    """Quantiles of log RMS of the units and the coefficient of variation of their norms."""
    norms = np.sqrt(np.maximum(sq, 0.0))
    logs = np.log(np.maximum(norms / math.sqrt(length), TINY))
    mean = norms.mean()
    cv = norms.std() / mean if mean > TINY and norms.size > 1 else 0.0
    return [*np.quantile(logs, (0.1, 0.5, 0.9)).tolist(), float(cv)]


def _singular_values(sub: torch.Tensor, cfg) -> np.ndarray:
    """Top `svd_rank` singular values of the float32 matrix `sub`, descending."""
    rank = min(sub.shape)
    if sub.numel() <= EXACT_SVD_ELEMENTS:
        sv = torch.linalg.svdvals(sub.double())
    elif rank <= cfg.svd_exact_max:  # eigenvalues of the small Gram matrix: one matmul
        gram = sub @ sub.T if sub.shape[0] <= sub.shape[1] else sub.T @ sub
        sv = torch.linalg.eigvalsh(gram).double().flip(0).clamp_min(0).sqrt()
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_seed(cfg, tuple(sub.shape), 2))
            sv = torch.svd_lowrank(sub, q=min(cfg.svd_rank + 4, rank), niter=cfg.svd_niter)[1].double()
    return sv[: cfg.svd_rank].numpy()


def tensor_stats(name: str, tensor: torch.Tensor, cfg, total: float | None = None) -> np.ndarray:
    """STATS of `tensor` (float64 array); raises BadTensorError on NaN/inf.

    `total`: checked_sum(name, tensor) when the caller did the full pass already (read-ahead)."""
    if tensor.numel() == 0:
        return np.zeros(len(STATS))
    total = checked_sum(name, tensor) if total is None else total
    with one_thread():
        return _sample_stats(tensor, total, cfg)


def _sample_stats(tensor: torch.Tensor, total: float, cfg) -> np.ndarray:
    shape, numel = tuple(tensor.shape), tensor.numel()
    out = np.zeros(len(STATS))
    rows = shape[0] if len(shape) >= 2 else 1
    mat = tensor.reshape(rows, numel // rows)
    cols = mat.shape[1]
    mean, exact = total / numel, numel <= cfg.sample_size
    sub, row_scale, col_scale = mat, 1.0, 1.0  # the submatrix sample and its inverse sampling rates
    if not exact and rows > cfg.row_sample:
        pick = _pick(rows, cfg.row_sample, _generator(cfg, shape, 1))
        sub, row_scale = sub[pick], rows / pick.numel()
    if not exact and cols > COL_SAMPLE:
        pick = _pick(cols, COL_SAMPLE, _generator(cfg, shape, 3))
        sub, col_scale = sub[:, pick], cols / pick.numel()
    sub = sub.float()
    subn = sub.numpy()
    row_sq = np.einsum("ij,ij->i", subn, subn).astype(np.float64) * col_scale
    mean_sq = float(row_sq.sum()) / (sub.numel() * col_scale)
    if exact:  # every element, in float64 (independent of summation order)
        sample = mat.reshape(-1).double().numpy()
        mean, mean_sq = float(sample.mean()), float(np.square(sample).mean())
    else:  # elements of the (cache-resident) submatrix sample: a random sample of the tensor
        pool = subn.reshape(-1)
        if pool.size > cfg.sample_size:
            pool = pool[torch.randint(pool.size, (cfg.sample_size,), generator=_generator(cfg, shape, 0)).numpy()]
        sample = pool.astype(np.float64)
    var = mean_sq - mean * mean
    if exact or var < 1e-3 * mean_sq:  # exact, or avoid cancellation
        var = float(sample.var()) + (float(sample.mean()) - mean) ** 2
    std, rms = math.sqrt(max(var, 0.0)), math.sqrt(mean_sq)
    out[IDX["mean"]], out[IDX["std"]] = mean, std
    out[IDX["abs_mean_over_rms"]] = float(np.abs(sample).mean()) / rms if rms > TINY else 0.0
    if std > 1e-6 * rms and std > TINY:
        z = (sample - mean) / std
        z2 = z * z
        out[IDX["skew"]] = float((z2 * z).mean())
        out[IDX["log_kurtosis"]] = _log(float((z2 * z2).mean()))
        out[IDX["zq0.001"] : IDX["zq0.999"] + 1] = np.quantile(z, QUANTILES)
    out[IDX["frac_zero"]] = float((sample == 0).mean())
    out[IDX["frac_small"]] = float((np.abs(sample) < 0.05 * rms).mean())
    kernel = math.prod(shape[2:]) if len(shape) > 2 else 1
    out[IDX["log_rms"]], out[IDX["log_numel"]] = _log(rms), math.log(numel)
    out[IDX["log_fan_out"]], out[IDX["log_fan_in"]] = math.log(rows), math.log(max(cols // kernel, 1))
    out[IDX["log_kernel"]] = math.log(kernel)
    if rows < 2 or cols < 2:
        return out
    out[IDX["row_q10"] : IDX["row_cv"] + 1] = _norm_features(row_sq, cols)
    col_sq = np.einsum("ij,ij->j", subn, subn).astype(np.float64) * row_scale
    out[IDX["col_q10"] : IDX["col_cv"] + 1] = _norm_features(col_sq, rows)
    sv = _singular_values(sub, cfg) * math.sqrt(row_scale * col_scale)
    s1 = float(sv[0])
    if s1 > TINY:
        stable = mean_sq * numel / (s1 * s1)
        out[IDX["log_sigma1"]], out[IDX["log_stable_rank"]] = math.log(s1), _log(stable)
        out[IDX["stable_rank_frac"]] = stable / min(rows, cols)
        for k in SIGMA_RATIOS:
            out[IDX[f"sigma{k}_ratio"]] = float(sv[k - 1]) / s1 if k <= sv.size else 0.0
        if sv.size > 1:
            p = sv**2 / (sv**2).sum()
            out[IDX["spectral_entropy"]] = float(-(p * np.log(np.maximum(p, TINY))).sum() / math.log(sv.size))
    return out
