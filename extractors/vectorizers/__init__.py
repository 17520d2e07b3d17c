"""Vectorizers behind `VECTORIZER_REGISTRY`: a model's tensors -> one fixed-size float32 vector.

    vec = build_vectorizer(VectorizerConfig())      # [vectorizer] name = layer_stats (default) | flat
    result = vec.vectorize(extractor.tensors(spec))  # result.vector: float32 [size]
"""
from utils.registry import Registry

VECTORIZER_REGISTRY = Registry("vectorizer")

# explicit imports register the vectorizers (no auto-discovery)
from extractors.vectorizers import flat, layer_stats  # noqa: E402
from extractors.vectorizers.base import Vectorizer, VectorResult  # noqa: E402
from extractors.vectorizers.normalizer import RobustNormalizer, fit_normalizer  # noqa: E402


def build_vectorizer(config) -> Vectorizer:
    """The vectorizer named by `config.name` (a VectorizerConfig); RegistryError if unknown."""
    return VECTORIZER_REGISTRY.get(config.name)(config)


__all__ = [
    "VECTORIZER_REGISTRY", "RobustNormalizer", "VectorResult", "Vectorizer", "build_vectorizer",
    "fit_normalizer", "flat", "layer_stats",
]
