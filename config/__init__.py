"""Typed configuration: one dataclass per INI section. Importing this package registers all sections."""
from config.benchmark import BenchmarkConfig
from config.cli import DEFAULT_CONFIG, add_config_args, load_config
from config.clip import ClipPretrainConfig  # noqa: F401  (registers [clip_pretrain])
from config.data import DatasetLoaderConfig
from config.dataset_tokens import DatasetTokensConfig
from config.extraction import ExtractorConfig, VectorizerConfig
from config.hardware import HardwareConfig
from config.layout import Layout
from config.parser import SECTIONS, ConfigParser, config_section
from config.probes import ProbesConfig
from config.ranking import ModelAutoEncoderConfig, TransformerTrainerConfig
from config.ranking_data import RankingDataConfig
from config.recommend import RecommendConfig
from config.run import RunConfig
from config.tasks import TasksConfig
from config.training import TrainerConfig
from config.world import GroundTruthConfig, WorldConfig, ZooConfig

__all__ = [
    "BenchmarkConfig", "DEFAULT_CONFIG", "SECTIONS", "ConfigParser", "DatasetLoaderConfig", "DatasetTokensConfig", "ExtractorConfig", "GroundTruthConfig",
    "HardwareConfig", "Layout",
    "ModelAutoEncoderConfig", "ProbesConfig", "RankingDataConfig", "RecommendConfig", "RunConfig", "TasksConfig", "TrainerConfig", "TransformerTrainerConfig", "VectorizerConfig", "WorldConfig", "ZooConfig",
    "add_config_args", "config_section", "load_config",
]
