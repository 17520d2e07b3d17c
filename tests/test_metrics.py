"""Ranking metrics: the Model Spider table, hand-computed top-k cases, conventions and edge cases."""
import json
import math
import warnings

import numpy as np
import pytest
from conftest import SHARED
from scipy import stats

from metrics import (
    WEIGHTED_TAU_CONVENTIONS,
    WEIGHTED_TAU_RANK_NONE,
    WEIGHTED_TAU_RANK_TRUE,
    kendall_tau,
    ndcg_at_k,
    pearson,
    ranking_metrics,
    spearman,
    top1_regret,
    top_k_recall,
    weighted_tau,
)
from utils.errors import ZooRankError

MODEL_SPIDER = SHARED / "fixtures" / "model_spider_single_source.json"
# The fixture states these in prose ("README Aircraft cells for LEEP, NLEEP and LogME do not reproduce").
KNOWN_DISCREPANCIES = {("LEEP", "Aircraft"), ("NLEEP", "Aircraft"), ("LogME", "Aircraft")}


@pytest.fixture(scope="module")
def spider():
    if not MODEL_SPIDER.exists():
        pytest.skip(f"fixture {MODEL_SPIDER} not available")
    return json.loads(MODEL_SPIDER.read_text())


def _spider_tau(spider, estimator, dataset):
    models = spider["models"]
    accuracy = [spider["finetune_accuracy"][dataset][m] for m in models]
    score = [spider["scores"][estimator][dataset][m] for m in models]
    return weighted_tau(accuracy, score, WEIGHTED_TAU_RANK_NONE)


def test_model_spider_table_reproduces_except_known_aircraft_cells(spider):
    table = spider["readme_weighted_tau"]
    assert len(table) == 9 and all(len(row) == 8 for row in table.values())
    differ = set()
    for estimator, row in table.items():
        for dataset, printed in row.items():
            if abs(_spider_tau(spider, estimator, dataset) - printed) > 5e-4 + 1e-12:
                differ.add((estimator, dataset))
    assert differ == KNOWN_DISCREPANCIES
    note = spider["known_discrepancies"]
    assert all(name in note for name, _ in KNOWN_DISCREPANCIES) and "Aircraft" in note
    # The note quotes LogME on Aircraft: 0.552 computed vs 0.540 printed.
    assert round(_spider_tau(spider, "LogME", "Aircraft"), 3) == 0.552
    assert table["LogME"]["Aircraft"] == 0.540


def test_weighted_tau_conventions_match_scipy_and_differ():
    true = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    pred = np.array([5.0, 4.0, 3.0, 2.0, 6.0])  # the worst model is predicted best
    none = weighted_tau(true, pred, WEIGHTED_TAU_RANK_NONE)
    both = weighted_tau(true, pred, WEIGHTED_TAU_RANK_TRUE)
    assert none == pytest.approx(stats.weightedtau(true, pred, rank=None).statistic)
    assert both == pytest.approx(stats.weightedtau(true, pred).statistic)
    # rank_none weights by the true order, where the mistake sits at the unimportant bottom;
    # rank_true also weights by the predicted order, where it sits at the top.
    assert none > both + 0.1
    # rank_true is symmetric in its arguments; rank_none is not.
    assert weighted_tau(pred, true, "rank_true") == pytest.approx(both)
    assert weighted_tau(pred, true, "rank_none") != pytest.approx(none)
    assert set(WEIGHTED_TAU_CONVENTIONS) == {"rank_none", "rank_true"}


def test_correlations_match_scipy():
    rng = np.random.default_rng(0)
    true, pred = rng.normal(size=12), rng.normal(size=12)
    assert kendall_tau(true, pred) == pytest.approx(stats.kendalltau(true, pred).statistic)
    assert spearman(true, pred) == pytest.approx(stats.spearmanr(true, pred).statistic)
    assert pearson(true, pred) == pytest.approx(stats.pearsonr(true, pred).statistic)


def test_unknown_convention_is_a_user_error():
    with pytest.raises(ZooRankError, match="rank_none"):
        weighted_tau([1, 2], [1, 2], "rank")


def test_top_k_recall_hand_computed():
    true = [0.9, 0.8, 0.7, 0.6, 0.5]  # true top-3: models 0, 1, 2
    pred = [0.1, 0.9, 0.8, 0.2, 0.7]  # predicted top-3: models 1, 2, 4
    assert top_k_recall(true, pred, 3) == pytest.approx(2 / 3)
    assert top_k_recall(true, pred, 1) == 0.0
    assert top_k_recall(true, pred, 2) == pytest.approx(1 / 2)  # {0, 1} vs {1, 2}
    assert top_k_recall(true, pred, 5) == 1.0
    assert top_k_recall(true, pred, 50) == 1.0  # k clipped to M


def test_top_k_recall_ties():
    # Models 1 and 2 tie for the predicted first place: each is picked with probability 1/2.
    assert top_k_recall([1.0, 2.0, 3.0], [1.0, 5.0, 5.0], 1) == pytest.approx(0.5)
    # Models 1 and 2 tie for the true second place: either counts as a true top-2 model.
    assert top_k_recall([3.0, 2.0, 2.0], [9.0, 1.0, 8.0], 2) == 1.0


def test_ndcg_hand_computed():
    true = [3.0, 2.0, 1.0, 0.0]  # gains = true - min = true
    pred = [0.5, 0.9, 0.1, 0.3]  # predicted order: models 1, 0, 3, 2 -> gains 2, 3, 0, 1
    dcg = 2 / math.log2(2) + 3 / math.log2(3) + 0 / math.log2(4)
    ideal = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(true, pred, 3) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(true, pred, 1) == pytest.approx(2 / 3)
    assert ndcg_at_k(true, true, 3) == pytest.approx(1.0)
    # Gains are shifted by the minimum: adding a constant to the truth changes nothing.
    assert ndcg_at_k(np.add(true, 60.0), pred, 3) == pytest.approx(dcg / ideal)


def test_ndcg_ties_in_pred_use_the_mean_gain():
    # Models 0 and 1 tie at the top: each of the first two positions holds gain (2 + 0) / 2.
    true, pred = [2.0, 0.0, 1.0], [1.0, 1.0, 0.0]
    dcg = 1 / math.log2(2) + 1 / math.log2(3)
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(true, pred, 2) == pytest.approx(dcg / ideal)


def test_top1_regret_hand_computed():
    assert top1_regret([70.0, 75.0, 72.0], [0.9, 0.1, 0.5]) == pytest.approx(5.0)
    assert top1_regret([70.0, 75.0, 72.0], [0.1, 0.9, 0.5]) == 0.0
    assert top1_regret([1.0, 2.0, 3.0], [1.0, 5.0, 5.0]) == pytest.approx(0.5)  # tie: mean of 2 and 3


def test_ranking_metrics_keys_and_perfect_ranking():
    true = np.array([0.6, 0.9, 0.7, 0.8, 0.5, 0.65])
    out = ranking_metrics(true, true * 10 - 3)
    expected = {
        "weighted_tau_rank_none", "weighted_tau_rank_true", "kendall_tau", "spearman", "pearson",
        "top1_recall", "top3_recall", "top5_recall", "ndcg@1", "ndcg@3", "ndcg@5", "top1_regret",
    }
    assert set(out) == expected
    assert all(isinstance(v, float) for v in out.values())
    for key, value in out.items():
        assert value == pytest.approx(0.0 if key == "top1_regret" else 1.0), key


def test_reversed_ranking():
    true = np.arange(6.0)
    out = ranking_metrics(true, -true, ks=(2,))
    for key in ("weighted_tau_rank_none", "weighted_tau_rank_true", "kendall_tau", "spearman", "pearson"):
        assert out[key] == pytest.approx(-1.0), key
    assert out["top2_recall"] == 0.0 and out["top1_regret"] == 5.0


def test_constant_predictions_are_defined_and_warning_free():
    true = np.array([1.0, 4.0, 2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ranking_metrics(true, np.zeros(4), ks=(1, 2))
    for key in ("weighted_tau_rank_none", "weighted_tau_rank_true", "kendall_tau", "spearman", "pearson"):
        assert out[key] == 0.0, key
    # A constant ranker earns what a random ranking earns in expectation.
    assert out["top1_recall"] == pytest.approx(1 / 4) and out["top2_recall"] == pytest.approx(2 / 4)
    assert out["top1_regret"] == pytest.approx(4.0 - true.mean())
    mean_gain = (true - 1.0).mean()
    assert out["ndcg@1"] == pytest.approx(mean_gain / 3.0)


def test_constant_truth_every_ranking_is_ideal():
    out = ranking_metrics([2.0, 2.0, 2.0], [0.3, 0.1, 0.2], ks=(1, 2))
    assert out["ndcg@1"] == out["ndcg@2"] == out["top1_recall"] == out["top2_recall"] == 1.0
    assert out["top1_regret"] == 0.0 and out["kendall_tau"] == 0.0


@pytest.mark.parametrize(
    "true, pred, k",
    [([1.0, np.nan], [1.0, 2.0], 1), ([1.0, 2.0], [1.0, 2.0, 3.0], 1), ([1.0], [1.0], 1),
     ([[1.0, 2.0]], [[1.0, 2.0]], 1), ([1.0, 2.0], [1.0, 2.0], 0)],
)
def test_bad_inputs_are_user_errors(true, pred, k):
    with pytest.raises(ZooRankError):
        ranking_metrics(true, pred, ks=(k,))


def test_general_quality_reads_the_mean_training_score_from_the_profiles():
    from metrics.general_quality import fit_general_quality, mean_training_score

    rng = np.random.default_rng(0)
    profiles = rng.normal(size=(40, 6))
    quality = profiles @ np.array([1.0, -0.5, 0.0, 0.0, 0.3, 0.0])
    scores = 50 + 5 * quality[None] + rng.normal(scale=0.5, size=(8, 40))  # 8 datasets, each its own scale
    scores[3] = 3 * scores[3] - 40
    prior = mean_training_score(scores)
    assert np.allclose(mean_training_score(scores[[3]]), (scores[3] - scores[3].mean()) / scores[3].std())
    coef, bias = fit_general_quality(profiles, scores)
    assert np.corrcoef(profiles @ coef + bias, prior)[0, 1] > 0.95
    assert abs(coef[2]) < 0.1 < coef[0]


def test_probe_transfer_weights_the_probes_that_rank_other_families():
    from metrics.general_quality import fit_probe_transfer

    rng = np.random.default_rng(0)
    m = 40
    good, own = rng.normal(size=m), rng.normal(size=m)  # what family b's datasets reward; what family a's reward
    scores = np.stack([good + 0.3 * rng.normal(size=m) for _ in range(3)]
                      + [own + 0.3 * rng.normal(size=m) for _ in range(3)])  # 3 datasets of b, then 3 of a
    families = ["b"] * 3 + ["a"] * 3
    profiles = rng.normal(size=(m, 3, 2))
    # the same column on a probe of family a and on one of family b: only the first ranks another family's datasets
    profiles[:, 0, 0] = profiles[:, 1, 0] = good + 0.1 * rng.normal(size=m)
    profiles[:, 0, 1] = 5 * good  # another statistic: never read
    coef, bias = fit_probe_transfer(profiles, scores, families, ["a", "b", "c"], temperature=0.05)
    weights = coef.reshape(3, 2)
    assert bias == 0.0 and np.all(weights[:, 1] == 0) and weights[:, 0].sum() == pytest.approx(1.0)
    assert weights[0, 0] > 0.99  # the probe of family b is judged on family a's datasets only, which it cannot rank
    quality = profiles.reshape(m, -1) @ coef
    assert np.corrcoef(quality, good)[0, 1] > 0.99
    hot = fit_probe_transfer(profiles, scores, families, ["a", "b", "c"], temperature=10.0)[0].reshape(3, 2)
    assert weights[0, 0] > hot[0, 0] > 1 / 3 > hot[1, 0]  # a higher temperature: flatter weights
    with pytest.raises(ValueError):
        fit_probe_transfer(profiles, scores[:3], families[:3], ["b", "b", "b"], temperature=0.05)


def test_the_mix_reading_sums_the_standardized_prior_and_transfer_readings():
    from metrics.fusion import zscore
    from metrics.general_quality import fit_general_quality, fit_probe_transfer, fit_reading

    rng = np.random.default_rng(2)
    profiles = rng.normal(size=(30, 3, 2))
    scores = 40 + 10 * profiles[None, :, 2, 1] + rng.normal(size=(4, 30))  # the prior reads a statistic transfer never does
    fams, probe_fams = ["a", "b", "a", "b"], ["a", "b", "a"]
    coef, bias, used = fit_reading("mix", profiles, scores, fams, probe_fams, 0.03)
    flat = profiles.reshape(30, -1)
    prior = flat @ fit_general_quality(flat, scores)[0]
    transfer = flat @ fit_probe_transfer(profiles, scores, fams, probe_fams, 0.03)[0]
    assert used == "mix" and np.allclose(flat @ coef + bias, zscore(prior) + zscore(transfer), atol=1e-6)
    assert coef.reshape(3, 2)[2, 1] > 0 and not np.allclose(zscore(prior), zscore(transfer))
    assert fit_reading("mix", profiles, scores, ["a"] * 4, ["a", "a", "a"], 0.03)[2] == "prior"


def test_the_transfer_reading_becomes_the_prior_where_no_probe_has_another_family():
    from metrics.general_quality import fit_general_quality, fit_probe_transfer, fit_reading

    rng = np.random.default_rng(1)
    profiles, scores = rng.normal(size=(30, 3, 2)), rng.normal(size=(4, 30))
    coef, bias, used = fit_reading("transfer", profiles, scores, ["a", "b", "a", "b"], ["a", "b", "a"], 0.03)
    assert used == "transfer" and np.allclose(coef, fit_probe_transfer(profiles, scores, ["a", "b", "a", "b"],
                                                                       ["a", "b", "a"], 0.03)[0])
    prior = fit_general_quality(profiles.reshape(30, -1), scores)
    for reading, fams in (("transfer", ["a", "a", "a"]), ("prior", ["a", "b", "c"])):
        coef, bias, used = fit_reading(reading, profiles, scores, ["a"] * 4, fams, 0.03)
        assert used == "prior" and np.allclose(coef, prior[0]) and bias == pytest.approx(prior[1])
