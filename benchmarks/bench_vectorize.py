"""Throughput and memory of `layer_stats` on a multi-GB checkpoint, against merely reading it.

    python benchmarks/bench_vectorize.py --size-gb 2.5 [--dir /tmp] [--keep]

Writes a sharded safetensors checkpoint of large fp32 and fp16 tensors (random, LLM-like shapes) into
a temporary folder, reads it once to warm the page cache, then runs each mode in its own subprocess:

  read       safe_open each shard and sum every tensor (the I/O + one pass baseline)
  vectorize  extract_model_vectors' state_dict extractor + layer_stats vectorizer, default settings

(each after a tiny warm-up, so that lazily loaded kernels count like imports: outside the timing),
repeated --repeat times (the fastest run counts: this machine may be shared), and prints the
throughput ratio vectorize/read (target >= 0.5) and each mode's peak RSS
(getrusage ru_maxrss) against 2 x the largest tensor + 300 MB, both as the absolute peak and as the
growth over the process's RSS after its imports (python + torch alone take ~0.5 GB).
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1 << 20
# (shape, dtype) of one transformer-like "layer" of tensors; repeated until the size is reached
LAYER = [((4096, 4096), "F32"), ((11008, 4096), "F16"), ((4096, 11008), "F16"), ((4096,), "F32"),
         ((3, 1024, 1024), "F32"), ((4096, 4096), "F16")]
EMBEDDING = ((32000, 4096), "F16")
NBYTES = {"F32": 4, "F16": 2}


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def plan(size_gb: float) -> list[tuple[str, tuple[int, ...], str]]:
    tensors = [("embed_tokens.weight", *EMBEDDING)]
    total, layer = NBYTES[EMBEDDING[1]] * math.prod(EMBEDDING[0]), 0
    while total < size_gb * 1024 * MB:
        names = ("attn.qkv_like", "mlp.up_proj", "mlp.down_proj", "norm", "conv3d_like", "attn.o_proj")
        for name, (shape, dtype) in zip(names, LAYER):
            suffix = "weight" if len(shape) > 1 else "bias"
            tensors.append((f"layers.{layer}.{name}.{suffix}", shape, dtype))
            total += NBYTES[dtype] * math.prod(shape)
        layer += 1
    return tensors


def write_checkpoint(folder: Path, size_gb: float, shard_gb: float = 1.0) -> tuple[int, int]:
    """Sharded safetensors written tensor by tensor (never the whole model in memory)."""
    import numpy as np

    rng = np.random.default_rng(0)
    shards: list[list] = [[]]
    used = 0
    for name, shape, dtype in plan(size_gb):
        nbytes = NBYTES[dtype] * int(np.prod(shape))
        if shards[-1] and used + nbytes > shard_gb * 1024 * MB:
            shards.append([])
            used = 0
        shards[-1].append((name, shape, dtype, nbytes))
        used += nbytes
    weight_map, total, largest = {}, 0, 0
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {}, 0
        for name, shape, dtype, nbytes in shard:
            header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = fname
            total, largest = total + nbytes, max(largest, nbytes)
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with open(folder / fname, "wb") as fh:
            fh.write(len(raw).to_bytes(8, "little") + raw)
            for _name, shape, dtype, _ in shard:
                values = rng.standard_normal(shape, dtype=np.float32) * 0.02
                fh.write(values.astype(np.float16 if dtype == "F16" else np.float32).tobytes())
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return total, largest


def worker(mode: str, folder: Path, size_gb: float) -> None:
    """One step in this (fresh) process; prints a JSON line."""
    if mode == "write":
        total, largest = write_checkpoint(folder, size_gb)
        print(json.dumps({"total": total, "largest": largest}))
        return
    sys.path.insert(0, str(ROOT))
    import torch  # noqa: F401  (import cost is outside the timing and in the baseline RSS)

    if mode == "vectorize":
        from config import ExtractorConfig, VectorizerConfig
        from extractors import ModelSpec, build_extractor, build_vectorizer

        extractor = build_extractor(ExtractorConfig(), "state_dict")
        vectorizer = build_vectorizer(VectorizerConfig())
        # warm-up: lazily loaded kernels (LAPACK, ...) are a one-time cost per process, like imports
        vectorizer.vectorize([("w.weight", torch.randn(300, 300)), ("b.bias", torch.randn(300))])
    else:
        from safetensors import safe_open

        torch.randn(300, 300).sum()
    base = rss_mb()
    start = time.perf_counter()
    if mode == "read":
        total = 0.0
        for path in sorted(folder.glob("*.safetensors")):
            with safe_open(str(path), framework="pt") as fh:
                for key in fh.keys():
                    total += float(fh.get_tensor(key).sum())  # native dtype: the fastest full pass
    else:
        result = vectorizer.vectorize(extractor.tensors(ModelSpec("bench", str(folder))))
        assert result.vector.size == VectorizerConfig().size and result.info["num_params"] > 0
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "seconds": seconds, "peak_rss_mb": peak, "base_rss_mb": base}))


def measure(mode: str, folder: Path, size_gb: float = 0.0) -> dict:
    """Run `mode` in a child process. The parent stays small: Linux carries the parent's peak RSS
    over into a child's ru_maxrss across fork/exec, so the checkpoint is written by a child too."""
    cmd = [sys.executable, __file__, "--worker", mode, str(folder), str(size_gb)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{mode} worker failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gb", type=float, default=2.5, help="checkpoint size (default %(default)s)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary checkpoint goes (default: $TMPDIR)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode; the fastest counts")
    parser.add_argument("--keep", action="store_true", help="keep the checkpoint folder")
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "FOLDER", "SIZE_GB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), float(args.worker[2]))
        return
    folder = Path(tempfile.mkdtemp(prefix="zoorank_bench_", dir=args.dir))
    try:
        t0 = time.perf_counter()
        written = measure("write", folder, args.size_gb)
        total, largest = written["total"], written["largest"]
        print(f"checkpoint: {total / MB / 1024:.2f} GB in {len(list(folder.glob('*.safetensors')))} shards, "
              f"largest tensor {largest / MB:.0f} MB, written in {time.perf_counter() - t0:.0f} s ({folder})")
        for path in folder.glob("*.safetensors"):  # warm the page cache so both modes read from memory
            with open(path, "rb") as fh:
                while fh.read(64 * MB):
                    pass
        runs = {m: [measure(m, folder) for _ in range(args.repeat)] for m in ("read", "vectorize")}
        best = {m: min(r, key=lambda x: x["seconds"]) for m, r in runs.items()}
        bound = 2 * largest / MB + 300
        print(f"{'mode':10s} {'seconds':>8s} {'GB/s':>6s} {'peak RSS MB':>12s} {'after imports':>14s} {'growth':>8s}")
        for m, r in best.items():
            print(f"{m:10s} {r['seconds']:8.2f} {total / r['seconds'] / 1024**3:6.2f} {r['peak_rss_mb']:12.0f} "
                  f"{r['base_rss_mb']:14.0f} {r['peak_rss_mb'] - r['base_rss_mb']:8.0f}")
        ratio = best["read"]["seconds"] / best["vectorize"]["seconds"]
        vec = best["vectorize"]
        print(f"throughput ratio vectorize/read = {ratio:.2f} (target >= 0.5: {'ok' if ratio >= 0.5 else 'MISSED'})")
        print(f"vectorize peak RSS / (2 x largest + 300 MB = {bound:.0f} MB) = {vec['peak_rss_mb'] / bound:.2f} "
              f"absolute, {(vec['peak_rss_mb'] - vec['base_rss_mb']) / bound:.2f} growth over imports "
              f"(target <= 1: {'ok' if vec['peak_rss_mb'] <= bound else 'MISSED'} / "
              f"{'ok' if vec['peak_rss_mb'] - vec['base_rss_mb'] <= bound else 'MISSED'})")
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
