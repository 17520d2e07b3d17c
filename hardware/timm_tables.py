"""Import timm's public inference benchmarks (`benchmark-infer-*.csv`) as profiles of their devices.

File names say what was measured: `benchmark-infer-<precision>-<layout>-pt<torch>-<cuda|cpu>-<device>
[-dynamo].csv`. One profile per device (rtx3090, rtx4090, rtx5090, rtx-pro-6000-maxq, i9-10940x,
i7-12700h); when several files measured a device, each model comes whole (all its input sizes) from the
first file that has it, in this order: newest torch, eager before torch.compile (dynamo), amp before
amp_bf16 / bf16 / fp32, NCHW before NHWC. Rows give throughput at `infer_batch_size` (GPU: 256-2048,
CPU: 1), `infer_step_time` (ms per batch), `param_count` (millions), `infer_gmacs` (multiply-adds).
Entries: throughput; latency_ms = step time only where the batch size is 1 (the CPU tables; the GPU
tables have no batch-1 latency, so it is null); gflops = 2 x GMACs; params = millions x 1e6; no memory.
A model measured at several input sizes gets its 224 px row (else its smallest) as the entry and the
others under "sizes" (`Profile.lookup(id, img_size=...)`).
"""
from __future__ import annotations

import csv
import dataclasses
import fnmatch
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hardware.profile import read_profile, write_profile
from utils.errors import ZooRankError
from utils.log import get_logger

logger = get_logger(__name__)
FILE_RE = re.compile(r"^benchmark-infer-(?P<precision>[a-z0-9_]+)-(?P<layout>nchw|nhwc)-pt(?P<torch>\d+)-"
                     r"(?P<backend>cu\d+|cpu)-(?P<device>.+?)(?P<dynamo>-dynamo)?\.csv$")
# file-name device token -> (profile name, device name as torch / /proc/cpuinfo would spell it)
DEVICES = {
    "rtx3090": ("rtx3090", "NVIDIA GeForce RTX 3090"), "3090": ("rtx3090", "NVIDIA GeForce RTX 3090"),
    "rtx4090": ("rtx4090", "NVIDIA GeForce RTX 4090"), "4090": ("rtx4090", "NVIDIA GeForce RTX 4090"),
    "rtx5090": ("rtx5090", "NVIDIA GeForce RTX 5090"), "5090": ("rtx5090", "NVIDIA GeForce RTX 5090"),
    "pro6000maxq": ("rtx-pro-6000-maxq", "NVIDIA RTX PRO 6000 Blackwell Max-Q"),
    "i9_10940x": ("i9-10940x", "Intel Core i9-10940X"),
    "i7_12700h": ("i7-12700h", "Intel Core i7-12700H"),
}
PRECISION_ORDER = ("amp", "amp_bf16", "bf16", "fp16", "fp32")
REQUIRED = ("model", "infer_samples_per_sec", "infer_batch_size", "infer_img_size")
DEFAULT_SIDE = 224
ORIGIN = "huggingface/pytorch-image-models results/benchmark-infer-*.csv"


@dataclasses.dataclass(frozen=True)
class TableFile:
    path: Path
    precision: str
    layout: str
    torch_tag: str
    backend: str
    token: str
    dynamo: bool

    @property
    def profile_name(self) -> str:
        return DEVICES.get(self.token, (re.sub(r"[^a-z0-9]+", "-", self.token.lower()),))[0]

    @property
    def device(self) -> str:
        return DEVICES.get(self.token, (None, self.token))[1]

    @property
    def kind(self) -> str:
        return "cpu" if self.backend == "cpu" else "gpu"

    @property
    def torch(self) -> str:
        """pt291 -> 2.9.1, pt240 -> 2.4.0, pt113 -> 1.13 (timm's spelling drops the dots)."""
        t = self.torch_tag
        return f"{t[0]}.{t[1:]}" if t.startswith("1") else f"{t[0]}.{t[1:-1]}.{t[-1]}" if len(t) >= 3 else t

    def rank(self) -> tuple:
        prec = PRECISION_ORDER.index(self.precision) if self.precision in PRECISION_ORDER else len(PRECISION_ORDER)
        return (-int(self.torch_tag), self.dynamo, prec, self.layout != "nchw", self.path.name)

    def describe(self) -> dict[str, Any]:
        return {"file": self.path.name, "precision": self.precision, "layout": self.layout, "torch": self.torch,
                "backend": self.backend, "dynamo": self.dynamo}


def scan_tables(folder: str | Path) -> list[TableFile]:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ZooRankError(f"timm tables folder {folder} not found; pass --tables or set [hardware] timm_tables")
    files = []
    for path in sorted(folder.glob("benchmark-infer-*.csv")):
        m = FILE_RE.match(path.name)
        if m is None:
            logger.warning("%s: file name not understood (benchmark-infer-<precision>-<layout>-pt<ver>-<cuNNN|cpu>-"
                           "<device>[-dynamo].csv); skipped", path.name)
            continue
        files.append(TableFile(path, m["precision"], m["layout"], m["torch"], m["backend"], m["device"],
                               bool(m["dynamo"])))
    if not files:
        raise ZooRankError(f"no benchmark-infer-*.csv tables in {folder}; pass --tables to timm's results/ folder")
    return files


def _num(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and value == value else None


def read_table(table: TableFile) -> dict[str, list[dict[str, Any]]]:
    """model -> its rows (one per input size), as profile fields."""
    with open(table.path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ZooRankError(f"{table.path}: not a timm inference benchmark table (no {', '.join(missing)} column)")
        rows: dict[str, list[dict[str, Any]]] = {}
        for rec in reader:
            tput, bs, side = (_num(rec.get(k)) for k in ("infer_samples_per_sec", "infer_batch_size", "infer_img_size"))
            if not rec.get("model") or not tput or not bs or not side:
                continue
            step, params, gmacs = (_num(rec.get(k)) for k in ("infer_step_time", "param_count", "infer_gmacs"))
            rows.setdefault(rec["model"].strip(), []).append({
                "params": int(round(params * 1e6)) if params is not None else None,
                "gflops": round(2 * gmacs, 4) if gmacs is not None else None,
                "latency_ms": step if bs == 1 else None,
                "throughput": tput, "batch_size": int(bs), "peak_memory_mb": None,
                "img_size": int(side), "batch_time_ms": step,
            })
    return rows


def _entry(rows: list[dict[str, Any]], source_file: str) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: r["img_size"])
    main = next((r for r in rows if r["img_size"] == DEFAULT_SIDE), rows[0])
    entry = dict(main, source_file=source_file)
    others = {str(r["img_size"]): {k: r[k] for k in ("gflops", "latency_ms", "throughput", "batch_size", "batch_time_ms")}
              for r in rows if r is not main}
    if others:
        entry["sizes"] = others
    return entry


def build_profiles(files: Sequence[TableFile]) -> dict[str, dict[str, Any]]:
    """Profile name -> profile dict, merging each device's files by `TableFile.rank`."""
    by_device: dict[str, list[TableFile]] = {}
    for f in files:
        by_device.setdefault(f.profile_name, []).append(f)
    profiles = {}
    for name, group in sorted(by_device.items()):
        group.sort(key=TableFile.rank)
        models: dict[str, dict[str, Any]] = {}
        used = []
        for table in group:
            rows = read_table(table)
            fresh = {m: r for m, r in rows.items() if m not in models}
            models.update({m: _entry(r, table.path.name) for m, r in fresh.items()})
            used.append(dict(table.describe(), rows=sum(len(r) for r in rows.values()), models_used=len(fresh)))
        primary = group[0]
        profiles[name] = {
            "device": primary.device, "kind": primary.kind, "source": "timm", "torch": primary.torch,
            "settings": {
                "origin": ORIGIN, "files": used,
                "merge": "each model from the first file listed that has it (newest torch, eager before dynamo, "
                         "amp before amp_bf16/bf16/fp32, nchw before nhwc)",
                "latency_ms": "infer_step_time where infer_batch_size is 1 (CPU tables); null otherwise",
                "throughput": "infer_samples_per_sec at infer_batch_size", "gflops": "2 x infer_gmacs",
                "params": "param_count (millions) x 1e6", "peak_memory_mb": "not in the tables (null)",
                "img_size": f"entry: the {DEFAULT_SIDE} px row, else the smallest; other input sizes under 'sizes'",
            },
            "models": dict(sorted(models.items())),
        }
    return profiles


def import_timm_tables(tables_dir: str | Path, output_dir: str | Path, devices: Sequence[str] = ()) -> list[Path]:
    """Write one `<output_dir>/<device>.json` per device measured in `tables_dir` (or only `devices`:
    profile names or wildcards). Everything is read and checked before the first file is written."""
    files = scan_tables(tables_dir)
    if devices:
        wanted = [d.strip().lower() for d in devices if d.strip()]
        keep = [f for f in files if any(fnmatch.fnmatch(f.profile_name, w) or fnmatch.fnmatch(f.token.lower(), w)
                                        for w in wanted)]
        if not keep:
            known = ", ".join(sorted({f.profile_name for f in files}))
            raise ZooRankError(f"--devices {','.join(devices)} matches none of the tables' devices: {known}")
        files = keep
    profiles = build_profiles(files)
    out = Path(output_dir)
    for name in profiles:
        path = out / f"{name}.json"
        if path.exists() and read_profile(path).source != "timm":
            raise ZooRankError(f"{path} is a measured profile; import the timm tables into another --output")
    written = []
    for name, data in profiles.items():
        written.append(write_profile(out / f"{name}.json", data))
        logger.info("%s: %d models (%s)", name, len(data["models"]), data["device"])
    return written
