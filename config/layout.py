"""Where every product lives below [run] artifacts_dir: the one owner of the artifact folder names.

Scripts, stages, folds, trainers and the recommender ask a `Layout` for a default path instead of
joining folder names themselves. A config field that names a path (e.g. [extractor] output_dir) stays
an explicit override: `cfg.output_dir or layout.model_vectors`.

    <artifacts_dir>/
        model_vectors/                extract_model_vectors.py
        dataset_tokens/               extract_dataset_tokens.py
        probe_profiles/               extract_probe_profiles.py
        model_labels/                 extract_model_labels.py (labels.npz)
        tasks/                        make_tasks.py (sampled training tasks)
        models/<trainer>/runs/<run>/  train.py <trainer> (autoencoder, transformer)
        models/autoencoder/embeddings.npz   the autoencoder's published embeddings (+ model, normalizer)
        added_models/                 recommend.py add-model
        recommend/                    recommend.py --pareto plots
        ground_truth/                 python -m zoo ground-truth with custom --models / --datasets
        zoo/<preset>/                 the embedded world (python -m zoo build)
        benchmark/<preset>/           benchmark.py
        pipeline/<preset>/state.json  pipeline.py's stage cache
        <preset>/                     pipeline.py --preset P (P != default): the stages' own artifacts_dir
        worlds/<name>/                pipeline.py --world FILE: a world the user describes (config/world_file.py),
                                      laid out like artifacts_dir itself, with world/ (its indexes and ground
                                      truth), benchmark/ and pipeline/<name>/state.json
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PRESET = "default"
EMBEDDINGS = "embeddings.npz"  # the autoencoder's published embeddings, and add-model's in <added_models_dir>


@dataclass(frozen=True)
class WorldLayout:
    """The files of one embedded world (zoo/build.py writes them)."""

    root: Path

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def datasets_index(self) -> Path:
        return self.datasets_dir / "index.json"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def models_index(self) -> Path:
        return self.models_dir / "index.json"

    @property
    def matrix(self) -> Path:
        return self.root / "dataset_model_performance.json"

    @property
    def spread(self) -> Path:
        return self.root / "dataset_model_performance.spread.json"

    @property
    def clip(self) -> Path:
        return self.root / "clip"

    @property
    def features(self) -> Path:
        """The ground truth's kept frozen features (features/store.py): beside the matrix."""
        return self.matrix.parent / "features"

    # ---- a world the user describes (python -m zoo prepare --world FILE) ------------------
    @property
    def probes_index(self) -> Path:
        """The world file's probe datasets (role = probe); datasets_index holds its target datasets."""
        return self.datasets_dir / "probes.json"

    @property
    def record(self) -> Path:
        """The world file and the --set values that point a script at the world (recommend.py --world NAME)."""
        return self.root / "world.json"

    @property
    def inputs(self) -> Path:
        """Each model's and dataset's fingerprint when last prepared: what changed since is redone."""
        return self.root / "inputs.json"


@dataclass(frozen=True)
class Layout:
    """Every default path below `artifacts_dir` for one preset's world."""

    artifacts_dir: Path
    preset: str = DEFAULT_PRESET
    world_root: Path | None = None  # [world] root; None: <artifacts_dir>/zoo/<preset>
    benchmark_dir: Path | None = None  # None: <artifacts_dir>/benchmark/<preset>

    @classmethod
    def from_run(cls, run: Any, preset: str | None = None, world: Any = None) -> Layout:
        """From a [run] section, and optionally a [world] section (its preset and root)."""
        preset = preset or (world.preset if world is not None else DEFAULT_PRESET)
        return cls(Path(run.artifacts_dir), preset, world.root if world is not None else None)

    @classmethod
    def from_config(cls, config: Any, preset: str | None = None) -> Layout:
        from config.run import RunConfig
        from config.world import WorldConfig

        return cls.from_run(config.get(RunConfig), preset, config.get(WorldConfig))

    # ---- extracted inputs of the learned part ---------------------------------------------
    @property
    def model_vectors(self) -> Path:
        return self.artifacts_dir / "model_vectors"

    @property
    def dataset_tokens(self) -> Path:
        return self.artifacts_dir / "dataset_tokens"

    @property
    def probe_profiles(self) -> Path:
        return self.artifacts_dir / "probe_profiles"

    @property
    def model_labels(self) -> Path:
        return self.artifacts_dir / "model_labels"

    @property
    def tasks(self) -> Path:
        """The sampled training tasks (features/tasks.py): their ground truth and tokens."""
        return self.artifacts_dir / "tasks"

    # ---- trained models -------------------------------------------------------------------
    def trainer_dir(self, trainer: str) -> Path:
        return self.artifacts_dir / "models" / trainer

    def runs_dir(self, trainer: str) -> Path:
        return self.trainer_dir(trainer) / "runs"

    @property
    def autoencoder(self) -> Path:
        """Where train.py modelautoencoder publishes its model, normalizer and embeddings."""
        return self.trainer_dir("autoencoder")

    @property
    def embeddings(self) -> Path:
        return self.autoencoder / EMBEDDINGS

    @property
    def autoencoder_latest(self) -> Path:
        """Which autoencoder run published the embeddings (its run folder)."""
        return self.autoencoder / "latest_run.json"

    @property
    def transformer_runs(self) -> Path:
        return self.runs_dir("transformer")

    # ---- serving --------------------------------------------------------------------------
    @property
    def added_models(self) -> Path:
        return self.artifacts_dir / "added_models"

    @property
    def recommend(self) -> Path:
        return self.artifacts_dir / "recommend"

    # ---- the embedded world, benchmark, pipeline ------------------------------------------
    @property
    def world(self) -> WorldLayout:
        return WorldLayout(self.world_root or self.artifacts_dir / "zoo" / self.preset)

    @property
    def ground_truth(self) -> Path:
        return self.artifacts_dir / "ground_truth"

    @property
    def benchmark(self) -> Path:
        return self.benchmark_dir or self.artifacts_dir / "benchmark" / self.preset

    @property
    def pipeline_state(self) -> Path:
        return self.artifacts_dir / "pipeline" / self.preset / "state.json"

    def for_preset(self, preset: str) -> Layout:
        """The layout of `pipeline.py --preset P`'s stages: the default preset uses artifacts_dir itself
        (where the scripts look by default); another preset gets its own subfolder for its products so that
        worlds never overwrite each other's, while its world and benchmark stay at <artifacts_dir>/zoo/<preset>
        and <artifacts_dir>/benchmark/<preset>."""
        top = Layout(self.artifacts_dir, preset)
        own = self.artifacts_dir if preset == DEFAULT_PRESET else self.artifacts_dir / preset
        return Layout(own, preset, top.world.root, top.benchmark)

    def for_world(self, name: str) -> Layout:
        """The layout of `pipeline.py --world FILE`: every product of the user's world `name` below
        <artifacts_dir>/worlds/<name>/ (the stages' own artifacts_dir), its model and dataset indexes and
        ground truth in world/, its benchmark in benchmark/; worlds never share a file with presets."""
        own = self.artifacts_dir / "worlds" / name
        return Layout(own, name, own / "world", own / "benchmark")
