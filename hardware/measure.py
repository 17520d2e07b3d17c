"""Measure one model on one device: parameters, FLOPs, batch-1 latency, throughput, peak memory.

- FLOPs: `torch.utils.flop_counter.FlopCounterMode` over one batch-1 forward pass at the model's input
  size. It counts matmuls, convolutions and attention (2 FLOPs per multiply-add), not element-wise ops.
- Latency: median wall time of `repeats` batch-1 forward passes after `warmup` untimed ones
  (eval mode, `torch.inference_mode`, float32, `torch.cuda.synchronize` around each pass on GPU).
- Throughput: `batch_size` / median time of a batch of `batch_size` images, timed the same way.
- Peak memory (MiB): GPU: `torch.cuda.max_memory_allocated` minus what was allocated before the weights
  were loaded. CPU: the growth of the process's peak resident set (VmHWM, reset through
  /proc/self/clear_refs just before the weights are loaded) over the resident set at that moment:
  weights, activations at `batch_size`, allocator and kernel workspaces, and the kernel code a fresh
  process pages in on first use (after a tiny conv/matmul warm-up of the runtime, tiny models still
  show a floor of ~15-20 MiB). It is only reported when the model runs in a fresh process
  (`isolate`, hardware/worker.py): in a process that already ran models, freed memory is reused and
  the growth would be understated, so in-process CPU runs report null.
"""
from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from utils.errors import ZooRankError

MIB = 1 << 20
MIN_TIMED = 3


def _status_kb(field: str) -> int | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


class CpuPeakMemory:
    """Growth of the peak RSS from `start()` on. Needs Linux's VmHWM reset (clear_refs 5, Linux >= 4.0);
    without it falls back to getrusage's ru_maxrss, which may include an earlier peak (an upper bound)."""

    def start(self) -> None:
        import resource

        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.method = "vmhwm"
        except OSError:
            self.method = "ru_maxrss"
        self.base_kb = _status_kb("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def peak_mb(self) -> float:
        import resource

        peak = _status_kb("VmHWM") if self.method == "vmhwm" else None
        peak = peak or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
        return max(0.0, (peak - self.base_kb) / 1024)


class CudaPeakMemory:
    def __init__(self, device: str) -> None:
        self.device = device
        self.method = "cuda_max_memory_allocated"

    def start(self) -> None:
        import torch

        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        self.base = torch.cuda.memory_allocated(self.device)

    def peak_mb(self) -> float:
        import torch

        return (torch.cuda.max_memory_allocated(self.device) - self.base) / MIB


def _sub(config: Any, key: str) -> Any:
    value = getattr(config, key, None)
    vision = getattr(config, "vision_config", None)
    return value if value is not None or vision is None else getattr(vision, key, None)


def input_side(config: Any, entry_size: Any, force: int, default: int) -> int:
    """--image-size / [hardware] image_size when > 0, else the index entry's, else the config's, else default."""
    for value in (force or None, entry_size, _sub(config, "image_size"), default):
        if isinstance(value, (list, tuple)) and value:
            value = max(int(v) for v in value)
        if isinstance(value, (int, float)) and int(value) > 0:
            return int(value)
    return default


def load_model(source: str, device: str) -> tuple[Any, Callable[[], Any]]:
    """(config, build) of a transformers checkpoint; build() loads the float32 weights onto `device` in
    eval mode. The config and the model class are read first, so that memory tracking starts after them."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForImageClassification

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ZooRankError(f"cannot load the model config of {source}: {first}") from None
    cls = None
    for auto in (AutoModelForImageClassification, AutoModel):
        try:
            cls = auto._model_mapping[type(config)]  # imports the modeling module now, before memory is tracked
            break
        except (KeyError, AttributeError):
            continue
    if cls is None:
        raise ZooRankError(f"{source}: transformers has no model class for model_type '{config.model_type}'")
    return config, lambda: cls.from_pretrained(source, config=config, dtype=torch.float32).to(device).eval()


def _warm_runtime() -> None:
    """Start torch's CPU thread pool and allocator before memory tracking begins."""
    import torch

    with torch.inference_mode():
        x = torch.randn(1, 3, 16, 16)
        y = torch.nn.functional.conv2d(x, torch.randn(4, 3, 3, 3)).flatten(1)
        torch.nn.functional.layer_norm(y @ torch.randn(y.shape[1], 8), (8,)).softmax(-1)


def _forward(model: Any) -> Callable[[Any], Any]:
    if "ImageClassification" not in type(model).__name__ and hasattr(model, "get_image_features"):
        return lambda x: model.get_image_features(pixel_values=x)  # CLIP-like: the image tower
    return lambda x: model(pixel_values=x)


def time_forward(fn: Callable[[Any], Any], x: Any, warmup: int, repeats: int, max_seconds: float,
                 sync: Callable[[], None]) -> float:
    """Median seconds of one `fn(x)` over up to `repeats` timed calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn(x)
    sync()
    times: list[float] = []
    start = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        sync()
        times.append(time.perf_counter() - t0)
        if len(times) >= min(MIN_TIMED, repeats) and time.perf_counter() - start > max_seconds:
            break
    return statistics.median(times)


def _sig(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def measure_model(source: str, device: str = "cpu", *, image_size: int = 0, entry_image_size: Any = None,
                  default_image_size: int = 224, batch_size: int = 32, warmup: int = 3, repeats: int = 10,
                  max_seconds: float = 30.0, track_memory: bool = True) -> dict[str, Any]:
    """One profile entry for the checkpoint at `source` (folder or hub id) on `device` ("cpu", "cuda:N")."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    config, build = load_model(source, device)
    side = input_side(config, entry_image_size, image_size, default_image_size)
    channels = int(_sub(config, "num_channels") or 3)
    gpu = device.startswith("cuda")
    memory = CudaPeakMemory(device) if gpu else CpuPeakMemory() if track_memory else None
    if memory is not None:
        if not gpu:
            _warm_runtime()
        memory.start()
    model = build()
    fn = _forward(model)
    sync = (lambda: torch.cuda.synchronize(device)) if gpu else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    x1 = torch.randn(1, channels, side, side, generator=gen).to(device)
    xb = torch.randn(batch_size, channels, side, side, generator=gen).to(device)
    with torch.inference_mode():
        with FlopCounterMode(display=False) as counter:
            fn(x1)
        flops = counter.get_total_flops()
        latency = time_forward(fn, x1, warmup, repeats, max_seconds, sync)
        batch_time = time_forward(fn, xb, warmup, repeats, max_seconds, sync)
    return {
        "params": int(sum(p.numel() for p in model.parameters())),
        "gflops": _sig(flops / 1e9),
        "latency_ms": _sig(latency * 1e3),
        "throughput": _sig(batch_size / batch_time),
        "batch_size": batch_size,
        "peak_memory_mb": round(memory.peak_mb(), 2) if memory is not None else None,
        "img_size": side,
        "batch_time_ms": _sig(batch_time * 1e3),
        "threads": torch.get_num_threads() if not gpu else None,
        "memory_method": memory.method if memory is not None else None,
    }
