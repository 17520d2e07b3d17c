"""Typed configuration: one dataclass per INI section. Importing this package registers all sections."""
from config import data, run, training  # noqa: F401  (registers sections)
from config.cli import DEFAULT_CONFIG, add_config_args, load_config
from config.data import DatasetLoaderConfig
from config.parser import SECTIONS, ConfigParser, config_section
from config.run import RunConfig
from config.training import ToyRegressionConfig, TrainerConfig

__all__ = [
    "DEFAULT_CONFIG", "DatasetLoaderConfig", "SECTIONS", "ConfigParser", "RunConfig", "ToyRegressionConfig", "TrainerConfig",
    "add_config_args", "config_section", "load_config",
]
