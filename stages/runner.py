"""Run the stages in order, each a subprocess of its own script, skipping those whose key is unchanged."""
from __future__ import annotations

import configparser
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from config import ConfigParser, RunConfig
from config.layout import Layout
from stages import STAGES, Stage, preset_layout, stage_overrides
from utils.errors import ConfigError, ZooRankError
from utils.hashing import stable_hash
from utils.io import write_json

ROOT = Path(__file__).resolve().parent.parent
PRESETS_DIR = ROOT / "config" / "presets"


def preset_overrides(preset: str) -> list[str]:
    """config/presets/<preset>.ini as --set values (smaller models and fewer epochs for `tiny`)."""
    path = PRESETS_DIR / f"{preset}.ini"
    if not path.is_file():
        return []
    ini = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    ini.optionxform = str
    ini.read(path, encoding="utf-8")
    return [f"{sec}.{key}={value}" for sec in ini.sections() for key, value in ini.items(sec, raw=True)]


def own_key(stage: Stage, resolved: dict[str, dict[str, Any]]) -> str:
    """The stage's own settings: what its script's cache cannot tell apart (a world's stages are forced then)."""
    run = resolved["run"]
    return stable_hash({"config": {s: resolved[s] for s in stage.sections},
                        "seed": [run["seed"], run["deterministic"]] if stage.seeded else None})


def stage_key(stage: Stage, resolved: dict[str, dict[str, Any]], upstream: dict[str, str], preset: str,
              inputs: dict[str, Any] | None = None) -> str:
    run = resolved["run"]
    data = {"stage": stage.name, "preset": preset, "config": {s: resolved[s] for s in stage.sections},
            "after": {s: upstream[s] for s in stage.after},
            "seed": [run["seed"], run["deterministic"]] if stage.seeded else None}
    if stage.inputs is not None:  # a world file's models / datasets with their fingerprints
        data["inputs"] = (inputs or {}).get(stage.inputs)
    return stable_hash(data)


def read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # missing or corrupt: a rerun of the stages, never a wrong skip
        return {}


class Pipeline:
    def __init__(self, config_path: Path, overrides: list[str], preset: str, verbose: bool = False,
                 world_file: Path | None = None) -> None:
        base = ConfigParser(config_path, overrides)
        quiet = [] if verbose else ["run.log_level=WARNING"]
        # the user's artifacts_dir is already in the paths (a preset's or world's own folder below it): not again
        mine = [o for o in overrides if o.split("=", 1)[0].strip() != "run.artifacts_dir"]
        self.stages, self.inputs, self.precise = STAGES, {}, False
        if world_file is None:
            self.paths: Layout = preset_layout(base.get(RunConfig).artifacts_dir, preset)
            self.sets = stage_overrides(self.paths) + preset_overrides(preset) + quiet + mine
            self.again = f"--preset {preset}"
        else:
            from config.world_file import read_world_file
            from config.world_plan import input_keys, world_layout, world_overrides
            from stages.world import world_stages

            wf = read_world_file(world_file)  # a bad world file fails here, before any stage
            self.paths = world_layout(base.get(RunConfig).artifacts_dir, wf)
            # the world's own settings ([settings] in the file) come with its overrides; the command line wins
            self.sets = world_overrides(wf, self.paths) + quiet + mine
            self.stages = world_stages(wf.path, probes=bool(wf.probes))
            keys = input_keys(wf)  # the models' and datasets' fingerprints: a changed file redoes what reads it
            self.inputs = {"all": {"file": wf.content(), **keys}, **keys}
            self.precise = True  # prepare drops what changed: a script's cache is forced only for its own settings
            self.again = f"--world {world_file}"
        self.config_path = Path(config_path)
        self.resolved = ConfigParser(config_path, self.sets).resolved()  # every stage's settings checked up front
        self.state_file = self.paths.pipeline_state

    def command(self, stage: Stage) -> list[str]:
        argv = stage.argv(self.paths) + ["--config", str(self.config_path)]
        for item in self.sets:
            argv += ["--set", item]
        return argv

    def run(self, from_stage: str | None = None, out=sys.stdout) -> int:
        names = [s.name for s in self.stages]
        if from_stage is not None and from_stage not in names:
            raise ConfigError(f"--from {from_stage}: unknown stage; stages: {', '.join(names)}")
        state = read_state(self.state_file)
        keys: dict[str, str] = {}
        forced = False
        rerun: set[str] = set()  # stages run now: what reads their outputs runs again too
        total = time.perf_counter()
        for i, stage in enumerate(self.stages, 1):
            key = keys[stage.name] = stage_key(stage, self.resolved, keys, self.paths.preset, self.inputs)
            own = own_key(stage, self.resolved)
            forced = forced or stage.name == from_stage
            prev = state.get(stage.name) or {}
            head = f"[{i}/{len(self.stages)}] {stage.name:<11s}"
            if not forced and not rerun & set(stage.after) and prev.get("key") == key:
                out.write(f"{head} cached ({prev.get('seconds', 0):.1f} s when run): {prev.get('summary', '')}\n")
                out.flush()
                continue
            argv = self.command(stage)
            # its own cache does not know why the pipeline reruns it; a world's knows its inputs (prepare
            # dropped what changed), so there only a change of the stage's own settings forces it
            if stage.force_flag and prev and (forced or not self.precise or prev.get("own") != own):
                argv.append(stage.force_flag)
            start = time.perf_counter()
            proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            seconds = time.perf_counter() - start
            if proc.returncode != 0:
                out.write(f"{head} FAILED after {seconds:.1f} s (exit {proc.returncode}); the error is above. "
                          f"Fix it, then rerun: python pipeline.py {self.again} "
                          "(finished stages are kept)\n")
                return proc.returncode
            rerun.add(stage.name)
            state[stage.name] = {"key": key, "own": own, "seconds": seconds, "summary": stage.summary(self.paths),
                                 "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                 "command": " ".join(argv)}
            write_json(self.state_file, state)
            out.write(f"{head} done in {seconds:.1f} s: {state[stage.name]['summary']}\n")
            out.flush()
        out.write(f"pipeline '{self.paths.preset}' finished in {time.perf_counter() - total:.1f} s; "
                  f"report: {self.paths.benchmark / 'report.md'}\n")
        return 0


def run_pipeline(config_path: Path, overrides: list[str], preset: str, from_stage: str | None = None,
                 verbose: bool = False, check: Callable[[dict[str, dict[str, Any]]], None] | None = None,
                 world_file: Path | None = None) -> int:
    """`check(resolved)` raises on settings the config parser cannot judge (registry names); `world_file`:
    a world the user describes (config/world_file.py) instead of the preset's."""
    if not Path(config_path).is_file():
        raise ZooRankError(f"config file {config_path} not found; pass --config PATH to an existing INI")
    pipeline = Pipeline(config_path, overrides, preset, verbose, world_file)
    if check is not None:
        check(pipeline.resolved)
    return pipeline.run(from_stage)
