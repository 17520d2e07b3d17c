"""Budgeted re-ranking (evaluation/budget.py), the benchmark's ranker variants (evaluation/variants.py) and task
dependence (evaluation/dependence.py) on arrays and names whose answers are known."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cosine

from evaluation.budget import choose_k, fit_alpha, parse_budgets
from evaluation.dependence import prior_spearman, task_dependence
from evaluation.variants import VARIANT_REGISTRY, resolve, resolve_all
from metrics import weighted_tau
from metrics.fusion import fused_scores, shortlist
from metrics.novelty import far_threshold, hidden_nearest_cosine, nearest_probe_cosine, probe_cosines
from utils.errors import ConfigError

RNG = np.random.default_rng(0)


def order(x: np.ndarray) -> list[int]:
    return list(np.argsort(-np.asarray(x), kind="stable"))


@pytest.mark.parametrize("seed", range(5))
def test_k0_is_the_ranker_and_k_all_with_a0_is_the_estimator(seed):
    rng = np.random.default_rng(seed)
    ranker, est = rng.normal(size=12), rng.normal(size=12) * 50 + 3  # other scales: z within the shortlist
    assert order(fused_scores(ranker, est, 0, 0.3)) == order(ranker)
    assert order(fused_scores(ranker, est, None, 0.0)) == order(est)
    assert order(fused_scores(ranker, est, None, 1.0)) == order(ranker)


def test_the_shortlist_is_reordered_and_the_rest_keeps_the_rankers_order_below_it():
    ranker = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    est = np.array([0.0, 1.0, 9.0, 8.0, 7.0, np.nan])  # NaN: not computed outside the shortlist
    final = fused_scores(ranker, est, 3, 0.0)
    assert order(final) == [2, 1, 0, 3, 4, 5]  # the top 3 by the estimator, then models 3, 4, 5 as ranked
    assert list(shortlist(ranker, 3)) == [0, 1, 2]
    assert np.isfinite(final).all()


def test_fit_alpha_picks_the_estimator_when_it_is_right_and_the_ranker_when_it_is():
    items_est, items_rank = [], []
    for _ in range(4):
        true, noise = RNG.normal(size=10), RNG.normal(size=10)
        items_est.append((true, noise, true))  # the estimator knows the truth
        items_rank.append((true, true, noise))  # the ranker does
    assert fit_alpha(items_est, None)[0] == 0.0 and fit_alpha(items_est, None)[1] == pytest.approx(1.0)
    assert fit_alpha(items_rank, None)[0] == 1.0
    ranker_tau = np.mean([weighted_tau(t, r) for t, r, _ in items_est])
    assert fit_alpha(items_est, 0) == (1.0, pytest.approx(ranker_tau))  # K = 0: the ranker alone, a unused


def test_the_headline_k_is_the_smallest_within_tolerance_of_the_best():
    assert choose_k({0: 0.70, 4: 0.796, 8: 0.80, 12: 0.801, None: 0.79}) == 4
    assert choose_k({0: 0.70, 4: 0.79, None: 0.80}) is None
    assert choose_k({0: 0.80, 4: 0.80, None: 0.80}) == 0
    assert parse_budgets(["0", " 4", "All"]) == [0, 4, None]


def test_variants_resolve_and_an_unknown_name_is_one_clear_error():
    assert set(VARIANT_REGISTRY.list()) >= {"ranking_transformer", "custom_similarity", "probe_ranker", "probe_weights",
                                           "probe_no_tasks", "probe_ranker_strict"}
    strict = resolve("probe_ranker_strict")
    assert strict.ranker == "probe_ranker" and strict.strict
    assert "ranking_data.probe_exclude=src_a,src_b" in strict.overrides(["src_a", "src_b"])
    assert not any("probe_exclude" in s for s in resolve("probe_ranker").overrides(["src_a"]))
    headline = resolve("probe_ranker").overrides()
    assert "ranking_data.model_token_parts=embedding,log_params,probe,labels" in headline
    # the rows without labels read the profiles and the weights only, the same gate and settings otherwise
    for name in ("probe_no_labels", "probe_alone", "probe_no_labels_strict", "probe_alone_strict"):
        sets = resolve(name).overrides()
        assert "ranking_data.model_token_parts=embedding,log_params,probe" in sets
        assert [s for s in sets if not any(k in s for k in ("model_token_parts", "far_companion", "probe_exclude"))] == [
            s for s in headline if "model_token_parts" not in s]
    assert resolve("probe_no_labels").companion == resolve("probe_no_labels_strict").companion == "custom_similarity"
    assert resolve("probe_no_labels_strict").strict and resolve("probe_ranker_strict").strict
    assert "transformer.probe_corrections=false" in headline
    assert "ranking_data.model_token_parts=embedding,log_params,probe" in resolve("probe_weights").overrides()
    assert "ranking_data.tasks=false" in resolve("probe_no_tasks").overrides()
    # the headline reads custom_similarity's fold run as its far companion; probe_alone has none (its own run's
    # default companion would otherwise be trained inside the fold)
    assert resolve("probe_ranker").companion == "custom_similarity" and not resolve("probe_alone").companion
    assert "transformer.far_companion=" in resolve("probe_alone").overrides()
    assert not any(s.startswith("transformer.far_companion") for s in headline)
    # a companion is trained first, named or not
    assert [v.name for v in resolve_all(["probe_ranker", "custom_similarity"])] == ["custom_similarity", "probe_ranker"]
    assert [v.name for v in resolve_all(["probe_alone", "probe_ranker"])] == ["custom_similarity", "probe_alone",
                                                                             "probe_ranker"]
    assert [v.name for v in resolve_all(["probe_alone", "ranking_transformer"])] == ["probe_alone", "ranking_transformer"]
    with pytest.raises(ConfigError) as err:
        resolve("probe_rankr")
    msg = str(err.value)
    assert "[benchmark] rankers: unknown ranker 'probe_rankr'" in msg and "probe_weights" in msg and "\n" not in msg


def test_task_dependence_is_the_spearman_to_the_prior_per_family():
    models = ["a", "b", "c", "d", "e"]
    prior = [5.0, 4.0, 3.0, 2.0, 1.0]
    like, mixed = [10.0, 9.0, 8.0, 7.0, 6.0], [1.0, 3.0, 2.0, 5.0, 4.0]
    row = lambda fold, pred, ms=models: {"fold": fold, "models": ms, "predicted": pred}  # noqa: E731
    methods = {"mean_train_score": {"datasets": {"d1": row("f1", prior), "d2": row("f2", prior)}},
               "copycat": {"datasets": {"d1": row("f1", like), "d2": row("f2", like)}},
               "other": {"datasets": {"d1": row("f1", mixed), "d2": row("f2", like[::-1][:3], ["c", "d", "e"])}}}
    dep = task_dependence(methods)
    assert dep["copycat"] == pytest.approx({"f1": 1.0, "f2": 1.0, "all": 1.0})
    expected = stats.spearmanr(prior, mixed)[0]
    assert dep["other"]["f1"] == pytest.approx(expected) and dep["other"]["f2"] == pytest.approx(-1.0)
    assert dep["other"]["all"] == pytest.approx((expected - 1.0) / 2)
    assert prior_spearman({"a": 1.0, "b": 2.0}, {"a": 2.0, "b": 1.0, "z": 0.0}) == pytest.approx(-1.0)
    assert task_dependence({"copycat": methods["copycat"]}) == {}


def test_the_nearest_probe_is_the_largest_cosine_of_mean_tokens_and_far_is_below_every_training_dataset():
    rng = np.random.default_rng(3)
    probes = rng.normal(size=(5, 16))
    target = rng.normal(size=(7, 16))
    cos = probe_cosines(target, probes)
    assert cos == pytest.approx([1 - cosine(target.mean(0), p) for p in probes])
    shifted = target - target.mean(0) + 2.5 * probes[3]  # its mean token points at probe 3
    assert nearest_probe_cosine(shifted, probes) == pytest.approx(1.0)
    assert int(np.argmax(probe_cosines(shifted, probes))) == 3
    training = [nearest_probe_cosine(rng.normal(size=(4, 16)) + 3 * probes[i], probes) for i in range(5)]
    threshold = far_threshold(training)
    assert threshold == min(training) and nearest_probe_cosine(-shifted, probes) < threshold
    with pytest.raises(ValueError):
        far_threshold([])


def test_far_is_also_below_the_quantile_of_the_training_datasets_with_their_own_family_hidden():
    rng = np.random.default_rng(4)
    probes = rng.normal(size=(4, 16))
    families = ["a", "a", "b", "c"]
    # training datasets of family a sit on probe 0: hiding family a leaves probes 2 and 3, far from them
    train = [rng.normal(scale=0.3, size=(4, 16)) + 3 * probes[0] for _ in range(6)]
    near = [nearest_probe_cosine(t, probes) for t in train]
    hidden = [hidden_nearest_cosine(t, probes, families, "a") for t in train]
    assert all(h == pytest.approx(probe_cosines(t, probes)[2:].max()) for h, t in zip(hidden, train))
    assert max(hidden) < min(near)
    assert far_threshold(near, hidden, 0.0) == min(near)  # quantile 0: the old rule
    assert far_threshold(near, hidden, 0.5) == min(near)  # the median hidden cosine is lower: the minimum stands
    # a lone training dataset far from every probe sets the minimum low; the median of the hidden ones lifts it
    lone = nearest_probe_cosine(rng.normal(scale=0.1, size=(4, 16)) - 3 * probes.sum(0), probes)
    assert lone < float(np.median(hidden))
    assert far_threshold([*near, lone], [*hidden, lone], 0.5) == pytest.approx(np.quantile([*hidden, lone], 0.5))
    assert hidden_nearest_cosine(train[0], probes, ["a"] * 4, "a") is None
    assert far_threshold(near, [None] * len(near), 0.5) == min(near)


def test_speed_against_logme_is_taken_on_the_datasets_both_were_timed_on():
    """A ranker timed on one large dataset is compared with LogME on that dataset, not with LogME's mean over all."""
    from evaluation.report import summarize

    metrics = {k: 0.5 for k in ("weighted_tau_rank_none", "weighted_tau_rank_true", "kendall_tau", "spearman",
                                "pearson", "top1_recall", "ndcg@1", "top3_recall", "ndcg@3", "top1_regret")}

    def rows(seconds):
        return {"datasets": {d: {"fold": "f", "metrics": metrics, "seconds": s, "missing_models": 0}
                             for d, s in seconds.items()}}
    results = {"methods": {"logme": {"kind": "estimator", **rows({"small": 1.0, "large": 3.0})},
                           "ranker:probe_ranker": {"kind": "ranker", **rows({"small": None, "large": 1.0})},
                           "random": {"kind": "trivial", **rows({"small": 0.0, "large": 0.0})}}}
    s = summarize(results)
    assert s["ranker:probe_ranker"]["speedup_vs_logme"] == pytest.approx(3.0)  # not 2.0 (LogME's mean) / 1.0
    assert s["logme"]["speedup_vs_logme"] == pytest.approx(1.0)
    assert s["random"]["speedup_vs_logme"] is None and s["logme"]["seconds_per_dataset"] == pytest.approx(2.0)
