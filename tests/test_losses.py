"""Ranking and reconstruction losses: hand-computed values, masking, gradient direction, registry."""
import math

import numpy as np
import pytest
import torch

from loss import LOSS_REGISTRY
from loss.approx_ndcg import ApproxNDCGLoss
from loss.base import RankingLoss, ReconstructionLoss
from loss.lambdarank import LambdaRankLoss
from loss.listmle import ListMLELoss
from loss.listnet import ListNetLoss
from loss.pairwise_logistic import PairwiseLogisticLoss
from utils.errors import ConfigError, ZooRankError

RANKING = [n for n in LOSS_REGISTRY if issubclass(LOSS_REGISTRY.get(n), RankingLoss)]
RECONSTRUCTION = [n for n in LOSS_REGISTRY if issubclass(LOSS_REGISTRY.get(n), ReconstructionLoss)]

# One row, three models: true order 2 > 1 > 0, predicted order 1 > 0 > 2.
S = [1.0, 2.0, 0.0]
T = [0.0, 1.0, 2.0]


def t64(rows):
    return torch.tensor(np.asarray(rows, dtype=np.float64))


def softplus(x):
    return math.log1p(math.exp(x))


def test_registry_names_and_suffix_lookup():
    assert LOSS_REGISTRY.list() == ["approx_ndcg", "lambdarank", "listmle", "listnet", "mse", "pairwise_logistic", "smooth_l1"]
    assert LOSS_REGISTRY.get("ListNetLoss") is ListNetLoss
    assert LOSS_REGISTRY.get("listmle") is ListMLELoss
    assert set(RANKING) | set(RECONSTRUCTION) == set(LOSS_REGISTRY.list())


def test_listnet_hand_computed():
    s, t = np.array(S), np.array(T)
    for temperature in (1.0, 0.5):
        p = np.exp(t / temperature) / np.exp(t / temperature).sum()
        log_q = s - np.log(np.exp(s).sum())
        value = ListNetLoss(temperature=temperature)(t64([S]), t64([T]))
        assert value.item() == pytest.approx(-(p * log_q).sum())


def test_listmle_hand_computed():
    # True order: model 2 (s=0), model 1 (s=2), model 0 (s=1).
    expected = math.log(math.exp(0) + math.exp(2) + math.exp(1)) - 0 + math.log(math.exp(2) + math.exp(1)) - 2
    assert ListMLELoss()(t64([S]), t64([T])).item() == pytest.approx(expected)
    # Batch mean over rows; a perfectly ordered, well separated row costs almost nothing.
    batch = ListMLELoss()(t64([S, [0.0, 50.0, 100.0]]), t64([T, T]))
    assert batch.item() == pytest.approx(expected / 2)


def test_pairwise_logistic_hand_computed():
    # Pairs (better, worse): (2, 1) with s diff -2, (2, 0) with -1, (1, 0) with +1.
    terms = {(2, 1): softplus(2.0), (2, 0): softplus(1.0), (1, 0): softplus(-1.0)}
    assert PairwiseLogisticLoss()(t64([S]), t64([T])).item() == pytest.approx(sum(terms.values()) / 3)
    weights = {(2, 1): 1.0, (2, 0): 2.0, (1, 0): 1.0}  # |true_i - true_j|
    weighted = sum(weights[p] * terms[p] for p in terms) / sum(weights.values())
    assert PairwiseLogisticLoss(weighted=True)(t64([S]), t64([T])).item() == pytest.approx(weighted)
    sigma2 = (softplus(4.0) + softplus(2.0) + softplus(-2.0)) / 3
    assert PairwiseLogisticLoss(sigma=2.0)(t64([S]), t64([T])).item() == pytest.approx(sigma2)


def test_lambdarank_hand_computed():
    # Predicted ranks: model 1 -> 1, model 0 -> 2, model 2 -> 3; gains = true - min = [0, 1, 2].
    d = {0: 1 / math.log2(3), 1: 1.0, 2: 0.5}
    g = {0: 0.0, 1: 1.0, 2: 2.0}
    ideal = 2 * 1.0 + 1 / math.log2(3)
    terms = {(2, 1): softplus(2.0), (2, 0): softplus(1.0), (1, 0): softplus(-1.0)}
    expected = sum(abs(g[i] - g[j]) * abs(d[i] - d[j]) / ideal * terms[i, j] for i, j in terms)
    assert LambdaRankLoss()(t64([S]), t64([T])).item() == pytest.approx(expected)
    # NDCG@1: only swaps that move a model into or out of first place (model 1's) count.
    at1 = (1 * 1 / 2) * terms[2, 1] + (1 * 1 / 2) * terms[1, 0]
    assert LambdaRankLoss(k=1)(t64([S]), t64([T])).item() == pytest.approx(at1)
    # Weights depend on gain differences relative to the ideal DCG only.
    assert LambdaRankLoss()(t64([S]), t64([T]) * 7 + 60).item() == pytest.approx(expected)


def test_approx_ndcg_hand_computed():
    s, g = np.array(S), np.array(T)  # gains = true - min = true
    for temperature in (1.0, 0.1):
        ranks = [1 + sum(1 / (1 + math.exp(-(s[j] - s[i]) / temperature)) for j in range(3) if j != i)
                 for i in range(3)]
        dcg = sum(g[i] / math.log2(1 + ranks[i]) for i in range(3))
        ideal = 2 / math.log2(2) + 1 / math.log2(3)
        value = ApproxNDCGLoss(temperature=temperature)(t64([S]), t64([T]))
        assert value.item() == pytest.approx(1 - dcg / ideal)
    # With a small temperature the smooth ranks are the true ranks: 1 - NDCG of order 1, 0, 2.
    exact = 1 - (1 / math.log2(2) + 2 / math.log2(4)) / ideal
    assert ApproxNDCGLoss(temperature=1e-3)(t64([S]), t64([T])).item() == pytest.approx(exact)


@pytest.mark.parametrize(
    "make", [lambda: ListNetLoss(temperature=0), lambda: ApproxNDCGLoss(temperature=-1),
             lambda: LambdaRankLoss(k=0), lambda: LOSS_REGISTRY.get("smooth_l1")(beta=0)],
)
def test_bad_hyperparameters_are_config_errors(make):
    with pytest.raises(ConfigError):
        make()


def test_reconstruction_hand_computed():
    rec, target = t64([[0.5, -2.0, 0.0]]), t64([[0.0, 0.0, 0.0]])
    assert LOSS_REGISTRY.get("mse")()(rec, target).item() == pytest.approx((0.25 + 4.0) / 3)
    # beta = 1: 0.5 d^2 below 1, |d| - 0.5 above.
    assert LOSS_REGISTRY.get("smooth_l1")()(rec, target).item() == pytest.approx((0.125 + 1.5) / 3)
    assert LOSS_REGISTRY.get("smooth_l1")(beta=4.0)(rec, target).item() == pytest.approx(
        (0.5 * 0.25 / 4 + 0.5 * 4.0 / 4) / 3
    )
    with pytest.raises(ZooRankError, match="same shape"):
        LOSS_REGISTRY.get("mse")()(rec, target[:, :2])


def _rows():
    rng = np.random.default_rng(0)
    return [(rng.normal(size=n), rng.normal(size=n)) for n in (5, 2, 3)]


@pytest.mark.parametrize("name", RANKING)
@pytest.mark.parametrize("padding", [1e6, float("nan")])
def test_padding_changes_neither_value_nor_gradient(name, padding):
    loss_fn = LOSS_REGISTRY.get(name)()
    rows = _rows()
    width = 7
    scores = torch.full((len(rows), width), padding, dtype=torch.float64)
    true = torch.full((len(rows), width), padding, dtype=torch.float64)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    separate, leaves = [], []
    for b, (s, t) in enumerate(rows):
        scores[b, : len(s)], true[b, : len(t)], mask[b, : len(s)] = t64(s), t64(t), True
        leaf = t64([s]).requires_grad_()
        separate.append(loss_fn(leaf, t64([t])))
        leaves.append(leaf)
    scores.requires_grad_()
    padded = loss_fn(scores, true, mask)
    padded.backward()
    reference = torch.stack(separate).mean()
    reference.backward()
    assert padded.item() == pytest.approx(reference.item(), rel=1e-12)
    for b, leaf in enumerate(leaves):
        n = leaf.shape[1]
        assert torch.allclose(scores.grad[b, :n], leaf.grad[0], rtol=1e-10, atol=1e-14)
        assert torch.all(scores.grad[b, n:] == 0)


@pytest.mark.parametrize("name", RANKING)
def test_rows_with_fewer_than_two_models_are_ignored(name):
    loss_fn = LOSS_REGISTRY.get(name)()
    alone = loss_fn(t64([S]), t64([T]))
    scores = t64([S, [4.0, 0.0, 0.0]]).requires_grad_()
    mask = torch.tensor([[True] * 3, [True, False, False]])
    with_single = loss_fn(scores, t64([T, [0.0, 9.0, 1.0]]), mask)
    assert with_single.item() == pytest.approx(alone.item())
    empty = t64([[1.0, 2.0]]).requires_grad_()
    value = loss_fn(empty, t64([[1.0, 0.0]]), torch.zeros(1, 2, dtype=torch.bool))
    value.backward()
    assert value.item() == 0.0 and torch.all(empty.grad == 0)


@pytest.mark.parametrize("name", RANKING)
def test_gradient_direction(name):
    loss_fn = LOSS_REGISTRY.get(name)()
    true = t64([[1.0, 3.0, 0.0, 2.0]])  # best model 1, worst model 2
    # Model 1 is already first, so the step below changes no rank (lambdarank's weights follow ranks).
    scores = t64([[0.2, 0.3, 0.1, 0.0]]).requires_grad_()
    value = loss_fn(scores, true)
    value.backward()
    assert scores.grad[0, 1] < 0 < scores.grad[0, 2]
    with torch.no_grad():
        up = loss_fn(scores + t64([[0.0, 0.1, 0.0, 0.0]]), true)
    assert up < value
    # Fixing an inversion (models 1 and 3 swapped) lowers the loss; the true order is best of all.
    inverted = loss_fn(t64([[1.0, 2.0, 0.0, 3.0]]), true)
    fixed = loss_fn(t64([[1.0, 3.0, 0.0, 2.0]]), true)
    assert fixed < inverted < loss_fn(t64([[2.0, 0.0, 3.0, 1.0]]), true)


@pytest.mark.parametrize("name", LOSS_REGISTRY.list())
def test_every_registered_loss_is_finite_and_differentiable(name):
    torch.manual_seed(0)
    loss_fn = LOSS_REGISTRY.get(name)()
    scores = torch.randn(4, 6, requires_grad=True)
    if name in RANKING:
        mask = torch.rand(4, 6) > 0.3
        value = loss_fn(scores, torch.rand(4, 6), mask)
    else:
        value = loss_fn(scores, torch.randn(4, 6))
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(scores.grad).all() and scores.grad.abs().sum() > 0


@pytest.mark.parametrize("name", RANKING)
def test_bad_ranking_inputs_are_user_errors(name):
    loss_fn = LOSS_REGISTRY.get(name)()
    with pytest.raises(ZooRankError, match="same shape"):
        loss_fn(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ZooRankError, match="bool mask"):
        loss_fn(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 3))
    with pytest.raises(ZooRankError):
        loss_fn(torch.zeros(3), torch.zeros(3))
