"""The main job: from nothing to a benchmark report, every stage in order.

    python pipeline.py                       # the default embedded world (about 25 minutes on 2 CPU cores)
    python pipeline.py --preset tiny         # the small world of the tests (a few minutes)
    python pipeline.py --from transformer    # redo a stage and everything after it
    python pipeline.py --set transformer.lr=1e-3   # any config change redoes what it affects
    python pipeline.py --world my_world.ini  # your own models and datasets (config/worlds/example_world.ini)

Stages: world (python -m zoo build) -> vectors (extract_model_vectors.py) -> tokens
(extract_dataset_tokens.py) -> autoencoder (train.py modelautoencoder) -> transformer (train.py
transformer) -> benchmark (benchmark.py run) -> report (benchmark.py report). Each is cached by its
inputs and config (<artifacts>/pipeline/<preset>/state.json); each prints one summary line.
With --world, the world stage is python -m zoo prepare (check the world file's models and datasets),
then ground_truth (python -m zoo ground-truth on them); everything goes to <artifacts>/worlds/<name>/.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from config import add_config_args
from stages import STAGE_NAMES
from stages.world import WORLD_STAGE_NAMES
from utils import log  # noqa: F401  (beautilog contained before anything else imports it)
from utils.errors import ConfigError, RegistryError, run_cli
from utils.plugins import load_plugins
from zoo.population import PRESETS


def check_names(resolved: dict[str, dict]) -> None:
    """Every registry name the stages will use, checked before the first stage runs: a typo in
    [transformer] model would otherwise surface after the world has been built. Plugins named in
    ZOORANK_PLUGINS (which the stages' processes inherit) register theirs first."""
    from evaluation.estimator_scores import estimator_names
    from evaluation.variants import resolve_all
    from loss import LOSS_REGISTRY
    from metrics.trivial import TRIVIAL_REGISTRY
    from model import RANKER_REGISTRY

    load_plugins()
    bench = resolved["benchmark"]
    checks = [("[transformer] model", lambda: RANKER_REGISTRY.canonical(resolved["transformer"]["model"])),
              ("[transformer] loss", lambda: LOSS_REGISTRY.canonical(resolved["transformer"]["loss"])),
              ("[model_autoencoder] reconstruction_loss",
               lambda: LOSS_REGISTRY.canonical(resolved["model_autoencoder"]["reconstruction_loss"])),
              ("[benchmark] rankers", lambda: resolve_all(bench["rankers"])),
              ("[benchmark] trivial", lambda: [TRIVIAL_REGISTRY.canonical(t) for t in bench["trivial"]]),
              ("[benchmark] estimators", lambda: estimator_names(tuple(bench["estimators"])))]
    for where, check in checks:
        try:
            check()
        except RegistryError as err:
            raise ConfigError(f"{where}: {err.args[0]}") from None

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=PRESETS, default="default", help="embedded world (default: %(default)s)")
    parser.add_argument("--world", type=Path, metavar="FILE", help="a world file (INI) of your own models and "
                        "datasets instead of an embedded preset; see config/worlds/example_world.ini")
    names = tuple(dict.fromkeys(STAGE_NAMES + WORLD_STAGE_NAMES))
    parser.add_argument("--from", dest="from_stage", metavar="STAGE", choices=names,
                        help=f"force this stage and everything after it ({', '.join(names)})")
    parser.add_argument("--verbose", action="store_true", help="the stages' INFO logs too (default: warnings only)")
    add_config_args(parser)
    args = parser.parse_args(argv)
    from stages.runner import run_pipeline

    return run_pipeline(args.config, args.overrides, args.preset, args.from_stage, args.verbose, check_names,
                        args.world)


if __name__ == "__main__":
    run_cli(main)
