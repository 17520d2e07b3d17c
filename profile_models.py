"""Hardware profiles: measure models on this machine, or import timm's public benchmark tables.

    python profile_models.py --models zoo/index.json ./my_model google/vit-base-patch16-224
    python profile_models.py                    # [hardware] models, else the embedded zoo's models/index.json
    python profile_models.py --set run.device=cuda --set hardware.batch_size=64 --force
    python profile_models.py import-timm [--tables ../shared/data/timm_results] [--devices 'rtx*']
    python profile_models.py list ['*4090*']
    python profile_models.py show rtx4090 [--models timm/resnet50.a1_in1k convnext_tiny] [--top 20]

Measuring writes <[hardware] profiles_dir>/<device-slug>.json (device: [run] device; the CPU model or
the GPU name), rewritten atomically after each model; a rerun skips the models already in it unless
--force. The subcommand, when there is one, comes first. Settings: [hardware] in config.ini.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from config import RunConfig, add_config_args
from config.cli import configure, with_default_command
from config.hardware import HardwareConfig
from hardware import list_profiles, load_profile, read_profile
from utils import log
from utils.errors import ZooRankError, run_cli

logger = log.get_logger("profile_models")
COMMANDS = ("measure", "import-timm", "list", "show")
COLUMNS = (("params", "params(M)", 1e-6, ".2f"), ("gflops", "GFLOPs", 1, ".4g"), ("latency_ms", "latency ms", 1, ".4g"),
           ("throughput", "img/s", 1, ".5g"), ("batch_size", "batch", 1, "d"), ("peak_memory_mb", "mem MiB", 1, ".4g"))
WIDTH = 10


def table(rows: list[tuple[str, dict[str, Any] | None]]) -> str:
    """Fixed-width text table of profile entries (None: the model is not in the profile)."""
    width = max([len(r[0]) for r in rows] + [5])
    lines = [f"{'model':{width}s} " + " ".join(f"{title:>{WIDTH}s}" for _, title, _, _ in COLUMNS)]
    for model_id, entry in rows:
        if entry is None:
            lines.append(f"{model_id:{width}s} (not in this profile)")
            continue
        cells = []
        for key, _, scale, spec in COLUMNS:
            value = entry.get(key)
            cells.append(f"{'-':>{WIDTH}s}" if value is None else f"{(value * scale if scale != 1 else value):>{WIDTH}{spec}}")
        lines.append(f"{model_id:{width}s} " + " ".join(cells))
    return "\n".join(lines) + "\n"


def default_models(config: Any, run: RunConfig) -> list[str]:
    from config import WorldConfig
    from zoo.build import world_for

    world = world_for(config.get(WorldConfig), run)
    index = world.files.models_index
    if not index.is_file():
        raise ZooRankError(f"no models to profile: pass --models, set [hardware] models, or build the embedded "
                           f"zoo first (python -m zoo models --preset {world.preset}); {index} not found")
    return [str(index)]


def measure(args: argparse.Namespace, config: Any, run: RunConfig, hw: HardwareConfig) -> int:
    from extractors.specs import parse_models
    from hardware.profiler import MeasureSettings, profile_models

    if (args.image_size is not None and args.image_size < 0) or (args.batch_size is not None and args.batch_size < 1):
        raise ZooRankError("--image-size must be >= 0 (0: each model's own) and --batch-size >= 1")
    settings = MeasureSettings.from_config(hw, run.num_threads)
    settings.image_size = args.image_size if args.image_size is not None else settings.image_size
    settings.batch_size = args.batch_size if args.batch_size is not None else settings.batch_size
    specs = parse_models(args.models or hw.models or default_models(config, run))
    if not specs:
        raise ZooRankError("no models to profile: pass --models or set [hardware] models")
    result = profile_models(specs, settings, device=args.device or run.device, profiles_dir=hw.profiles_dir,
                            output=args.output, force=args.force)
    prof = result.profile
    sys.stdout.write(table([(s.id, prof.models.get(s.id)) for s in specs]))
    sys.stdout.write(f"{len(result.measured)} measured, {len(result.skipped)} already profiled (--force re-measures) "
                     f"on {prof.device} -> {prof.path}\n")
    return 0


def import_timm(args: argparse.Namespace, hw: HardwareConfig) -> int:
    from hardware.timm_tables import import_timm_tables

    devices = [d for item in args.devices for d in item.split(",") if d.strip()]
    written = import_timm_tables(args.tables or hw.timm_tables, args.output or hw.profiles_dir, devices)
    for path in written:
        prof = read_profile(path)
        first = prof.settings["files"][0]["file"]
        sys.stdout.write(f"{prof.name:20s} {prof.kind:4s} {len(prof):5d} models  {prof.device}  (first: {first})\n")
    return 0


def list_cmd(args: argparse.Namespace, hw: HardwareConfig) -> int:
    names = list_profiles(args.pattern, hw.profiles_dir)
    if not names:
        sys.stderr.write(f"no profiles matching '{args.pattern}' in {hw.profiles_dir}\n")
    bad = []
    for name in names:
        try:
            prof = read_profile(Path(hw.profiles_dir) / f"{name}.json")
        except ZooRankError:
            bad.append(name)
            continue
        sys.stdout.write(f"{name:32s} {prof.kind:4s} {prof.source:9s} {len(prof):5d} models  {prof.device}\n")
    if bad:
        raise ZooRankError(f"unreadable profile(s) in {hw.profiles_dir}: {', '.join(bad)}; "
                           f"`profile_models.py show {bad[0]}` says why")
    return 0


def show(args: argparse.Namespace, hw: HardwareConfig) -> int:
    prof = load_profile(args.profile, hw.profiles_dir)
    if args.models:
        rows = [(m, prof.lookup(m)) for m in args.models]
    else:
        key = args.sort
        items = sorted(prof.models.items(), key=lambda kv: (kv[1].get(key) is None, -(kv[1].get(key) or 0)))
        rows = items[: args.top] if args.top else items
    sys.stdout.write(f"# {prof.name}: {prof.device} ({prof.kind}, {prof.source}, torch {prof.torch}), "
                     f"{len(prof)} models\n")
    sys.stdout.write(table(rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    add_config_args(common)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", parents=[common], help="measure models on this device (the default)")
    m.add_argument("--models", nargs="+", metavar="MODEL", help="hub ids, folders or JSON indexes "
                   "(default: [hardware] models, else the embedded zoo's models/index.json)")
    m.add_argument("--output", type=Path, help="profile file (.json) or folder (default: [hardware] profiles_dir)")
    m.add_argument("--image-size", type=int, help="force this input side (default: each model's own)")
    m.add_argument("--batch-size", type=int, help="throughput batch size (default: [hardware] batch_size)")
    m.add_argument("--device", help="cpu | cuda | cuda:N (default: [run] device)")
    m.add_argument("--force", action="store_true", help="re-measure models already in the profile")
    t = sub.add_parser("import-timm", parents=[common], help="timm's benchmark-infer-*.csv -> one profile per device")
    t.add_argument("--tables", type=Path, help="folder of the CSVs (default: [hardware] timm_tables)")
    t.add_argument("--output", type=Path, help="profiles folder (default: [hardware] profiles_dir)")
    t.add_argument("--devices", nargs="+", default=[], metavar="NAME", help="only these devices (wildcards ok)")
    ls = sub.add_parser("list", parents=[common], help="list profiles (wildcards ok)")
    ls.add_argument("pattern", nargs="?", default="*")
    s = sub.add_parser("show", parents=[common], help="print a profile's models")
    s.add_argument("profile", help="profile name, device name, wildcard or path")
    s.add_argument("--models", nargs="+", metavar="MODEL", help="look these ids up (tolerant matching)")
    s.add_argument("--sort", default="throughput", choices=[c[0] for c in COLUMNS], help="sort key (descending)")
    s.add_argument("--top", type=int, default=0, help="only the first N (default: all)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(with_default_command(argv, COMMANDS, "measure"))
    config, run = configure(args)
    hw = config.get(HardwareConfig)
    if args.command == "import-timm":
        return import_timm(args, hw)
    if args.command == "list":
        return list_cmd(args, hw)
    if args.command == "show":
        return show(args, hw)
    return measure(args, config, run, hw)


if __name__ == "__main__":
    run_cli(main)
