"""Dataset loaders behind `DATASET_LOADER_REGISTRY` (configured by `[dataset_loader]`), samplers,
and the procedural dataset generator (`dataloader.synthetic`)."""
from utils.registry import Registry

DATASET_LOADER_REGISTRY = Registry("dataset loader")

# explicit imports register the loaders (no auto-discovery)
from dataloader import hf_loader, image_folder_loader  # noqa: E402,F401
from dataloader.image_dataset import ImageClassificationDataset, load_dataset_from_config  # noqa: E402
from dataloader.samplers import ClassBalancedBatchSampler  # noqa: E402
from utils.sampling import class_balanced_indices  # noqa: E402

__all__ = [
    "DATASET_LOADER_REGISTRY", "ClassBalancedBatchSampler", "ImageClassificationDataset",
    "class_balanced_indices", "load_dataset_from_config",
]
