"""Model parameter vectors: extractors read a model's tensors, vectorizers turn them into one vector.

    from extractors import EXTRACTOR_REGISTRY, VECTORIZER_REGISTRY, build_extractor, build_vectorizer
    ext = build_extractor(ExtractorConfig(name="hf"))           # hf | hf_pipeline | siglip | clip | detector | state_dict
    vec = build_vectorizer(VectorizerConfig())                  # layer_stats (default) | flat
    result = vec.vectorize(ext.tensors(ModelSpec("google/vit-base-patch16-224", "google/vit-base-patch16-224")))

`run_extraction` (runner.py) does this for a list of models into an output folder (store.py):
one NPZ per model plus index.json; `python extract_model_vectors.py` is its command line.
Heavy libraries (transformers, open_clip) are imported only when a model needs them.
"""
from utils.registry import Registry

EXTRACTOR_REGISTRY = Registry("extractor")

# explicit imports register the extractors (no auto-discovery)
from extractors import clip, detector, hf, hf_pipeline, siglip, state_dict  # noqa: E402
from extractors.base import ExtractionError, Extractor, ModelSpec  # noqa: E402
from extractors.vectorizers import (  # noqa: E402
    VECTORIZER_REGISTRY,
    RobustNormalizer,
    Vectorizer,
    VectorResult,
    build_vectorizer,
    fit_normalizer,
)


def build_extractor(config, name: str | None = None) -> Extractor:
    """The extractor `name` (default: config.name) built on an ExtractorConfig; RegistryError if unknown."""
    return EXTRACTOR_REGISTRY.get(name or config.name)(config)


__all__ = [
    "EXTRACTOR_REGISTRY", "VECTORIZER_REGISTRY", "ExtractionError", "Extractor", "ModelSpec", "RobustNormalizer",
    "VectorResult", "Vectorizer", "build_extractor", "build_vectorizer", "clip", "detector", "fit_normalizer",
    "hf", "hf_pipeline", "siglip", "state_dict",
]
