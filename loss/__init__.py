"""Loss functions behind `LOSS_REGISTRY` (ranking losses and autoencoder reconstruction losses)."""
from utils.registry import Registry

LOSS_REGISTRY = Registry("loss", suffix="Loss")

# Imported for their registration side effect; keep this list explicit (no auto-discovery).
from loss import approx_ndcg, lambdarank, listmle, listnet, mse, pairwise_logistic, smooth_l1  # noqa: E402, F401
