"""Neural network modules: the parameter autoencoder and the ranking models (one file each).

`RANKER_REGISTRY` holds the ranking models; each maps (dataset tokens, model tokens, masks) to one
score per candidate model (higher = better).
"""
from utils.registry import Registry

RANKER_REGISTRY = Registry("ranking model")

from model.custom_similarity_transformer import CustomSimilarityTransformer  # noqa: E402
from model.model_encoder import AutoEncoder, ModelAutoEncoder  # noqa: E402
from model.probe_ranker import ProbeRanker  # noqa: E402
from model.ranking_transformer import RankingCrossAttentionTransformer  # noqa: E402

RANKER_REGISTRY.register(RankingCrossAttentionTransformer, name="ranking_transformer")
RANKER_REGISTRY.register(CustomSimilarityTransformer, name="custom_similarity")
RANKER_REGISTRY.register(ProbeRanker, name="probe_ranker")

__all__ = ["RANKER_REGISTRY", "AutoEncoder", "CustomSimilarityTransformer", "ModelAutoEncoder", "ProbeRanker",
           "RankingCrossAttentionTransformer"]
