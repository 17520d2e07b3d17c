#!/usr/bin/env python3
"""Submit the whole ZooRank chain to SLURM, each step after the ones it needs (sbatch --dependency):

    vectors, tokens, ground truth, probes (job arrays)  ->  merge  ->  tasks, autoencoder, labels  ->  transformer

    python slurm/submit.py --preset default --vectors-tasks 8 --tokens-tasks 4 --gt-tasks 16 \\
        --sbatch-args="--account=A --partition=P" --train-sbatch-args="--gpus=1 --time=1-00:00:00"
    python slurm/submit.py --dry-run            # print the sbatch commands (a shell script) instead
    python slurm/submit.py --world my_world.ini --gt-tasks 16   # a world of your own models and datasets:

    prepare  ->  ground truth, vectors, tokens, probes (arrays)  ->  merge  ->  tasks, autoencoder, labels
             ->  transformer, benchmark  ->  report

Every step is one of the plain scripts in slurm/ (see slurm/README.md); this only chains them.
It needs no packages beyond Python's standard library. The world of the preset (python -m zoo
datasets|models|clip) must exist before the arrays start: build it first, or pass --after JOBID.
Environment variables the scripts read (ZOORANK_ARTIFACTS, VECTORS_DIR, TOKENS_DIR, GT_OUTPUT,
ZOORANK_PYTHON, ...) pass on from your shell; --preset sets PRESET. With --world every job gets the
world's --set values (its folders below <artifacts_dir>/worlds/<name>/, its CLIP, ...); reading the
world file needs the project's environment (the python that runs the jobs).
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

ARRAYS = ("vectors", "tokens", "ground_truth", "probes")
# the probe profiles and the sampled tasks: what the default ranker (probe_ranker) trains on
STEPS = (*ARRAYS, "merge", "tasks", "autoencoder", "labels", "transformer")
# each step starts after the nearest earlier level that was submitted
LEVELS = (ARRAYS, ("merge",), ("tasks", "autoencoder", "labels"), ("transformer",))
SCRIPTS = {"vectors": "slurm/extract_vectors.sbatch", "tokens": "slurm/extract_tokens.sbatch",
           "ground_truth": "slurm/ground_truth.sbatch", "probes": "slurm/run.sbatch", "merge": "slurm/merge.sbatch",
           "tasks": "slurm/run.sbatch", "labels": "slurm/run.sbatch", "autoencoder": "slurm/train.sbatch", "transformer": "slurm/train.sbatch"}
TRAINERS = {"autoencoder": "modelautoencoder", "transformer": "transformer"}
# a world of your own (--world): prepare first, the probe profiles as a fourth array, then the rest
WORLD_ARRAYS = ("ground_truth", "vectors", "tokens", "probes")
WORLD_LEVELS = (("prepare",), WORLD_ARRAYS, ("merge",), ("tasks", "autoencoder", "labels"), ("transformer", "benchmark"),
                ("report",))
WORLD_STEPS = tuple(s for level in WORLD_LEVELS for s in level)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default=os.environ.get("PRESET", "default"),
                   help="the world (python -m zoo --preset); default: $PRESET, else default")
    p.add_argument("--steps", help=f"comma-separated steps to submit, in chain order (default: {','.join(STEPS)}; "
                   f"--world: {','.join(WORLD_STEPS)})")
    p.add_argument("--world", metavar="FILE", help="a world file (INI) of your own models and datasets "
                   "(config/worlds/example_world.ini): its whole chain instead of a preset's")
    for step, tasks in (("vectors", 8), ("tokens", 4), ("gt", 16), ("probes", 4)):
        p.add_argument(f"--{step}-tasks", type=int, default=tasks, metavar="N",
                       help=f"array tasks (shards) for {step} (default: {tasks})")
    p.add_argument("--max-running", type=int, metavar="K", help="at most K tasks of each array at once (--array=...%%K)")
    p.add_argument("--after", metavar="JOBID", action="append", default=[],
                   help="start the first steps only after this job succeeded (e.g. the world build); repeatable")
    p.add_argument("--sbatch-args", default="", metavar="'ARGS'",
                   help='sbatch options for every job, e.g. --sbatch-args="--account=A --partition=P"')
    p.add_argument("--array-sbatch-args", default="", metavar="'ARGS'", help="sbatch options for the arrays")
    p.add_argument("--train-sbatch-args", default="", metavar="'ARGS'",
                   help='sbatch options for the two trainings, e.g. --train-sbatch-args="--gpus=1 --time=1-00:00:00"')
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="config override for every step; repeatable")
    for step in dict.fromkeys(STEPS + WORLD_STEPS):
        p.add_argument(f"--{step.replace('_', '-')}-args", default="", metavar="'ARGS'",
                       help=f"extra arguments of the {step} script")
    p.add_argument("--dry-run", action="store_true", help="print the commands as a shell script; submit nothing")
    return p


def world_paths(preset: str, env: dict[str, str]) -> dict[str, str]:
    """Where the scripts read and write by default, for the trainings' --set (relative to the checkout)."""
    world = f"{env.get('ZOORANK_ARTIFACTS', 'artifacts')}/zoo/{preset}"
    return {"matrix": env.get("GT_OUTPUT", f"{world}/dataset_model_performance.json"),
            "datasets": f"{world}/datasets/index.json", "models": f"{world}/models/index.json"}


def training_sets(step: str, preset: str, env: dict[str, str]) -> list[str]:
    """--set options that point a training at what the earlier steps wrote (only where not the default)."""
    out = []
    if step == "autoencoder" and env.get("VECTORS_DIR"):
        out += ["--set", f"model_autoencoder.vectors_dir={env['VECTORS_DIR']}"]
    if step in ("probes", "tasks"):  # the preset's world: its probe datasets, its ground truth
        out += ["--set", f"world.preset={preset}"]
    if step == "labels":  # the CLIP of the tokens (slurm/extract_tokens.sbatch's rule): text and images in one space
        world_clip = f"{env.get('ZOORANK_ARTIFACTS', 'artifacts')}/zoo/{preset}/clip"
        clip = env.get("CLIP") or (world_clip if Path(world_clip).is_dir() else "config")
        out += ["--set", f"dataset_tokens.clip_pretrained={clip}"] if clip != "config" else []
    if step == "tasks":  # scored from the features the ground truth kept beside its matrix
        out += ["--set", f"ranking_data.performance_file={world_paths(preset, env)['matrix']}"]
    if step == "transformer":
        paths = world_paths(preset, env)
        out += ["--set", f"ranking_data.performance_file={paths['matrix']}",
                "--set", f"ranking_data.dataset_index={paths['datasets']}"]
        if env.get("TOKENS_DIR"):
            out += ["--set", f"ranking_data.dataset_tokens_dir={env['TOKENS_DIR']}"]
    return out


def plan(args: argparse.Namespace, env: dict[str, str]) -> list[tuple[str, dict[str, str], list[str]]]:
    """(step, job environment, sbatch arguments but --dependency) for each chosen step, in chain order."""
    steps = [s.strip().replace("-", "_") for s in (args.steps or ",".join(STEPS)).split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise SystemExit(f"error: --steps: unknown {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    tasks = {"vectors": args.vectors_tasks, "tokens": args.tokens_tasks, "ground_truth": args.gt_tasks,
             "probes": args.probes_tasks}
    if any(n < 1 for n in tasks.values()):
        raise SystemExit("error: array sizes (--vectors-tasks, --tokens-tasks, --gt-tasks, --probes-tasks) must be >= 1")
    jobs = []
    for step in STEPS:
        if step not in steps:
            continue
        job_env = {"PRESET": args.preset}
        sbatch = shlex.split(args.sbatch_args)
        if step in ARRAYS:
            limit = f"%{args.max_running}" if args.max_running else ""
            sbatch += [f"--array=0-{tasks[step] - 1}{limit}", *shlex.split(args.array_sbatch_args)]
        if step in TRAINERS:
            sbatch += shlex.split(args.train_sbatch_args)
        if step == "merge":
            # what the arrays of this chain wrote; none chosen: all of them. A one-task ground truth (or probe
            # profile) array writes its product itself, with no shards to join.
            merged = [s for s in ARRAYS if s in steps] or list(ARRAYS)
            merged = [s for s in merged if not (s in ("ground_truth", "probes") and s in steps and tasks[s] == 1)]
            if not merged:
                continue
            job_env["MERGE"] = " ".join(merged)
        script_args = [TRAINERS[step]] if step in TRAINERS else []
        script_args += {"probes": ["extract_probe_profiles.py", "--models", world_paths(args.preset, env)["models"]],
                        "tasks": ["make_tasks.py"],
                        "labels": ["extract_model_labels.py", "--models", world_paths(args.preset, env)["models"]],
                        }.get(step, [])
        script_args += [x for o in args.overrides for x in ("--set", o)]
        script_args += training_sets(step, args.preset, env) if step in (*TRAINERS, "probes", "tasks", "labels") else []
        script_args += shlex.split(getattr(args, f"{step}_args"))
        jobs.append((step, job_env, [*sbatch, SCRIPTS[step], *script_args]))
    return jobs


def world_plan(args: argparse.Namespace, env: dict[str, str]) -> list[tuple[str, dict[str, str], list[str]]]:
    """plan() for --world: every job with the world's --set values, the steps of WORLD_LEVELS."""
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from config import ConfigParser, RunConfig
    from config.cli import DEFAULT_CONFIG
    from config.world_file import read_world_file
    from config.world_plan import world_layout, world_overrides
    from utils.errors import ZooRankError

    try:
        wf = read_world_file(args.world)
        base = ConfigParser(DEFAULT_CONFIG, args.overrides).get(RunConfig).artifacts_dir
    except ZooRankError as err:
        raise SystemExit(f"error: {err}") from None
    layout = world_layout(base, wf)
    world = layout.world
    steps = [s.strip().replace("-", "_") for s in (args.steps or ",".join(WORLD_STEPS)).split(",") if s.strip()]
    unknown = sorted(set(steps) - set(WORLD_STEPS) | ({"probes"} & set(steps) if not wf.probes else set()))
    if unknown:
        raise SystemExit(f"error: --steps: unknown {', '.join(unknown)} for this world; choose from "
                         f"{', '.join(s for s in WORLD_STEPS if wf.probes or s != 'probes')}")
    if not wf.probes and args.steps is None:
        steps.remove("probes")  # no probe datasets: no profiles
    tasks = {"vectors": args.vectors_tasks, "tokens": args.tokens_tasks, "ground_truth": args.gt_tasks,
             "probes": args.probes_tasks}
    if any(n < 1 for n in tasks.values()):
        raise SystemExit("error: array sizes (--vectors-tasks, --tokens-tasks, --gt-tasks, --probes-tasks) must be >= 1")
    models, targets = str(world.models_index), str(world.datasets_index)
    run = ["slurm/run.sbatch"]
    commands = {"prepare": [*run, "-m", "zoo", "prepare", "--world", str(wf.path)],
                "ground_truth": ["slurm/ground_truth.sbatch", "--models", models, "--datasets", targets],
                "vectors": ["slurm/extract_vectors.sbatch"], "tokens": ["slurm/extract_tokens.sbatch"],
                "probes": [*run, "extract_probe_profiles.py", "--models", models], "merge": ["slurm/merge.sbatch"],
                "tasks": [*run, "make_tasks.py"], "labels": [*run, "extract_model_labels.py", "--models", models],
                "autoencoder": ["slurm/train.sbatch", "modelautoencoder"],
                "transformer": ["slurm/train.sbatch", "transformer"], "benchmark": [*run, "benchmark.py", "run"],
                "report": [*run, "benchmark.py", "report"]}
    # the user's artifacts_dir is already in the world's (its own folder below it): not again
    mine = [o for o in args.overrides if o.split("=", 1)[0].strip() != "run.artifacts_dir"]
    sets = [x for o in world_overrides(wf, layout) + mine for x in ("--set", o)]
    # the probe datasets get tokens too (the probe ranker relates a target to them)
    tokenized = " ".join([targets, *([str(world.probes_index)] if wf.probes else [])])
    where = {"GT_OUTPUT": str(world.matrix), "MODELS": models, "DATASETS": tokenized, "CLIP": "config"}
    needs = {"ground_truth": ("GT_OUTPUT",), "vectors": ("MODELS",), "tokens": ("DATASETS", "CLIP"),
             "merge": ("GT_OUTPUT", "MODELS")}
    jobs = []
    for step in WORLD_STEPS:
        if step not in steps:
            continue
        job_env = {k: where[k] for k in needs.get(step, ())}  # what the slurm/ scripts read
        sbatch = shlex.split(args.sbatch_args)
        if step in WORLD_ARRAYS:
            limit = f"%{args.max_running}" if args.max_running else ""
            sbatch += [f"--array=0-{tasks[step] - 1}{limit}", *shlex.split(args.array_sbatch_args)]
        if step in TRAINERS:
            sbatch += shlex.split(args.train_sbatch_args)
        if step == "merge":  # a one-task ground truth (or probe profile) array wrote its product itself
            merged = [s for s in WORLD_ARRAYS if s in steps and not (s in ("ground_truth", "probes") and tasks[s] == 1)]
            if not merged:
                continue
            job_env["MERGE"] = " ".join(merged)
        jobs.append((step, job_env, [*sbatch, *commands[step], *sets, *shlex.split(getattr(args, f"{step}_args"))]))
    return jobs


def dependency(step: str, submitted: dict[str, str], after: list[str], levels: tuple = LEVELS) -> list[str]:
    """--dependency on the nearest earlier level of the chain that has jobs (else on --after)."""
    level = next(i for i, names in enumerate(levels) if step in names)
    for names in reversed(levels[:level]):
        ids = [submitted[s] for s in names if s in submitted]
        if ids:
            break
    else:
        ids = after
    return [f"--dependency=afterok:{':'.join(ids)}", "--kill-on-invalid-dep=yes"] if ids else []


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = dict(os.environ)
    root = Path(env.get("ZOORANK_ROOT") or Path(__file__).resolve().parent.parent)
    jobs = world_plan(args, env) if args.world else plan(args, env)
    levels = WORLD_LEVELS if args.world else LEVELS
    if not jobs:
        raise SystemExit("error: no steps to submit")
    submitted: dict[str, str] = {}
    if args.dry_run:
        print("#!/bin/bash\n# the ZooRank chain (python slurm/submit.py --dry-run)\nset -euo pipefail")
        print(f"cd {shlex.quote(str(root))}")
    for step, job_env, argv_ in jobs:
        deps = dependency(step, {s: f"${s}" for s in submitted} if args.dry_run else submitted, args.after, levels)
        cmd = ["sbatch", "--parsable", *deps, *argv_]
        # as a shell line; a dry run's --dependency names the shell variables of earlier lines
        line = " ".join([*(f"{k}={shlex.quote(v)}" for k, v in job_env.items()),
                         *(c if c.startswith("--dependency=") else shlex.quote(c) for c in cmd)])
        if args.dry_run:
            print(f"{step}=$({line})")
            submitted[step] = step
            continue
        proc = subprocess.run(cmd, cwd=root, env={**env, **job_env}, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(f"error: sbatch for {step} failed: {proc.stderr.strip()}\n")
            if submitted:
                sys.stderr.write(f"already submitted (scancel them if you stop here): {' '.join(submitted.values())}\n")
            return 1
        submitted[step] = proc.stdout.strip().split(";")[0]  # "jobid" or "jobid;cluster"
        print(f"{step:12s} {submitted[step]:>8s}  {line}")
    if args.dry_run:
        print('echo "submitted: ' + " ".join(f"{s}=${s}" for s in submitted) + '"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
