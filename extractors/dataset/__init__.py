"""Dataset feature extractors behind `DATASET_EXTRACTOR_REGISTRY` (`[dataset_tokens] extractor`),
and the token builder that turns a dataset split into a set of L2-normalized feature tokens."""
from utils.registry import Registry

DATASET_EXTRACTOR_REGISTRY = Registry("dataset feature extractor")

# explicit imports register the extractors (no auto-discovery)
from extractors.dataset import clip_features, hf_image_features  # noqa: E402,F401
from extractors.dataset.base import FeatureExtractor  # noqa: E402
from extractors.dataset.tokens import TOKEN_TYPES, build_tokens  # noqa: E402

__all__ = ["DATASET_EXTRACTOR_REGISTRY", "TOKEN_TYPES", "FeatureExtractor", "build_tokens"]
