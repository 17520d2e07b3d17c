"""Transferability estimators: registry, reference agreement, input errors, determinism."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from estimators import ESTIMATOR_REGISTRY, EstimatorInputError, MissingInputError, build_estimator
from estimators.gbc import gbc
from estimators.leep import leep
from estimators.linear_probe import balanced_subsample
from estimators.logme import logme, logme_icml
from utils.errors import ZooRankError

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"
ALL = ESTIMATOR_REGISTRY.list()
STOCHASTIC = ["nleep", "linear_probe", "gbc", "knn"]
# Reference JSON key -> registered estimator name.
REFERENCE_METHODS = {
    "logme_fixed_point": "logme",
    "logme_icml": "logme_icml",
    "leep": "leep",
    "nce": "nce",
    "h_score": "h_score",
}
NON_METHOD_KEYS = {"N", "D", "C", "source_classes", "targets", "note"}


def _problem(separable: bool, seed: int = 0, n: int = 90, d: int = 12, k: int = 3, c_s: int = 7):
    """Small classification problem; `separable` puts classes far apart and makes the source head
    informative, otherwise features and source probabilities are pure noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    features = rng.normal(size=(n, d))
    logits = rng.normal(size=(n, c_s))
    if separable:
        features += 4.0 * rng.normal(size=(k, d))[labels]
        logits[np.arange(n), labels] += 4.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, features, probs


# ---------------------------------------------------------------- registry and smoke tests


def test_registry_lists_every_method():
    assert set(ALL) == {
        "logme", "logme_icml", "leep", "nleep", "nce", "h_score", "h_score_shrinkage", "gbc", "knn",
        "linear_probe",
    }
    for name, cls in ESTIMATOR_REGISTRY.items():
        assert cls.name == name
        assert cls.requires <= {"features", "source_probs"} and cls.requires


def test_registry_lookup_is_case_insensitive_and_helpful():
    assert ESTIMATOR_REGISTRY.get("LogME") is ESTIMATOR_REGISTRY.get("logme")
    with pytest.raises(ZooRankError, match="did you mean 'logme'"):
        ESTIMATOR_REGISTRY.get("logmee")


@pytest.mark.parametrize("name", ALL)
def test_smoke_finite_and_separable_beats_noise(name):
    est = build_estimator(name)
    good = est.score(*_problem(separable=True))
    bad = est.score(*_problem(separable=False))
    assert isinstance(good, float) and np.isfinite(good) and np.isfinite(bad)
    assert good > bad


@pytest.mark.parametrize("name", ALL)
def test_arbitrary_label_ids_are_remapped(name):
    labels, features, probs = _problem(separable=True)
    est = build_estimator(name)
    assert est.score(labels * 10 + 3, features, probs) == pytest.approx(est.score(labels, features, probs))


# ---------------------------------------------------------------- reference agreement


def _reference():
    if not (FIXTURES / "transferability_reference.json").exists():
        pytest.skip(f"reference fixtures not found under {FIXTURES}")
    expected = json.loads((FIXTURES / "transferability_reference.json").read_text())["expected"]
    return expected, np.load(FIXTURES / "transferability_reference.npz")


def _reference_cases():
    path = FIXTURES / "transferability_reference.json"
    if not path.exists():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"no fixtures under {FIXTURES}"))]
    expected = json.loads(path.read_text())["expected"]
    return [(case, key) for case, vals in expected.items() for key in vals if key not in NON_METHOD_KEYS]


@pytest.mark.parametrize(("case", "key"), _reference_cases())
def test_agrees_with_reference(case, key):
    expected, arrays = _reference()
    assert key in REFERENCE_METHODS, f"reference method {key!r} has no estimator mapped in this test"
    name = REFERENCE_METHODS[key]
    if case == "reg":
        value = build_estimator(name, regression=True).score(arrays["reg_targets"], arrays["reg_features"])
    else:
        probs = arrays[f"{case}_source_probs"] if f"{case}_source_probs" in arrays else None
        value = build_estimator(name).score(arrays[f"{case}_labels"], arrays[f"{case}_features"], probs)
    assert value == pytest.approx(expected[case][key], rel=1e-6, abs=0)


def test_fixed_point_logme_is_corrected_when_n_below_d():
    """thuml/LogME issue 23: the reference fixed-point variant drops the D - rank(F) zero eigenvalues
    from log|A|. Ours keeps them, so it lands next to the ICML variant instead of ~1 nat away."""
    expected, arrays = _reference()
    f, y = arrays["small_features"], arrays["small_labels"]
    assert f.shape[0] < f.shape[1]
    assert logme(f, y) == pytest.approx(expected["small"]["logme_icml"], abs=5e-4)
    # Same correction when F is rank deficient with N > D (duplicated columns).
    f, y = arrays["cls_a_features"], arrays["cls_a_labels"]
    f2 = np.hstack([f, f[:, :8]])
    assert logme(f2, y) == pytest.approx(logme_icml(f2, y), abs=5e-5)


def test_leep_matches_loop_definition():
    labels, _, probs = _problem(separable=True, c_s=5)
    joint = np.stack([probs[labels == c].sum(axis=0) for c in range(3)]) / len(labels)
    cond = joint / joint.sum(axis=0)
    direct = np.mean([np.log(probs[i] @ cond[labels[i]]) for i in range(len(labels))])
    assert leep(probs, labels) == pytest.approx(direct, rel=1e-12)


def test_gbc_matches_pairwise_definition():
    labels, features, _ = _problem(separable=False, d=4)
    stats = [(features[labels == c].mean(0), features[labels == c].var(0)) for c in range(3)]
    direct = 0.0
    for i, (mu_i, var_i) in enumerate(stats):
        for j, (mu_j, var_j) in enumerate(stats):
            if i != j:
                avg = (var_i + var_j) / 2
                dist = np.sum((mu_i - mu_j) ** 2 / avg) / 8 + 0.5 * np.log(
                    np.prod(avg) / np.sqrt(np.prod(var_i) * np.prod(var_j))
                )
                direct -= np.exp(-dist)
    assert gbc(features, labels, pca_dim=None) == pytest.approx(direct, rel=1e-10)


def test_knn_k1_matches_nearest_neighbour():
    labels, features, _ = _problem(separable=False)
    dist = ((features[:, None] - features[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    direct = np.mean(labels[dist.argmin(axis=1)] == labels)
    est = build_estimator("knn", k=1, metric="euclidean")
    assert est.score(labels, features) == pytest.approx(direct)


def test_balanced_subsample_is_balanced():
    labels = np.repeat([0, 1, 2], [100, 7, 30])
    idx = balanced_subsample(labels, per_class=10, seed=1)
    assert np.bincount(labels[idx]).tolist() == [10, 7, 10]
    assert len(np.unique(idx)) == len(idx)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["leep", "nce"])
def test_missing_source_probs_raises(name):
    labels, features, _ = _problem(separable=True)
    with pytest.raises(MissingInputError, match="no source classifier head") as info:
        build_estimator(name).score(labels, features=features)
    assert isinstance(info.value, ZooRankError) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", [n for n in ALL if "features" in ESTIMATOR_REGISTRY.get(n).requires])
def test_missing_features_raises(name):
    labels, _, probs = _problem(separable=True)
    with pytest.raises(MissingInputError):
        build_estimator(name).score(labels, source_probs=probs)


@pytest.mark.parametrize("name", ALL)
def test_single_class_raises(name):
    _, features, probs = _problem(separable=True)
    with pytest.raises(EstimatorInputError, match="at least 2 classes"):
        build_estimator(name).score(np.zeros(len(features), dtype=int), features, probs)


def _nan_first(x):
    x = x.copy()
    x[0, 0] = np.nan
    return x


@pytest.mark.parametrize(
    ("name", "mutate", "message"),
    [
        ("logme", lambda y, f, p: (y, _nan_first(f), p), "NaN"),
        ("logme", lambda y, f, p: (y[:-1], f, p), "rows but there are"),
        ("logme", lambda y, f, p: (y, f[:, 0], p), r"shape \[N, D\]"),
        ("logme", lambda y, f, p: (y.reshape(-1, 1), f, p), r"shape \[N\]"),
        ("logme", lambda y, f, p: (y + 0.5, f, p), "integer class ids"),
        ("leep", lambda y, f, p: (y, f, _nan_first(p)), "NaN"),
        ("leep", lambda y, f, p: (y, f, np.log(p)), "softmax"),
        ("nce", lambda y, f, p: (y, f, p[1:]), "rows but there are"),
    ],
)
def test_invalid_inputs_raise_one_line_errors(name, mutate, message):
    labels, features, probs = mutate(*_problem(separable=True))
    with pytest.raises(EstimatorInputError, match=message) as info:
        build_estimator(name).score(labels, features, probs)
    assert "\n" not in str(info.value) and str(info.value).startswith(name)


def test_unused_inputs_are_not_validated():
    labels, features, probs = _problem(separable=True)
    assert np.isfinite(build_estimator("leep").score(labels, _nan_first(features), probs))
    assert np.isfinite(build_estimator("logme").score(labels, features, np.log(probs)))


def test_bad_hyperparameters_raise():
    with pytest.raises(EstimatorInputError):
        build_estimator("knn", metric="manhattan")
    with pytest.raises(EstimatorInputError):
        build_estimator("linear_probe", folds=1)


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", STOCHASTIC)
def test_deterministic(name):
    labels, features, probs = _problem(separable=False, seed=3)
    kwargs = {"knn": {"folds": 3}, "gbc": {"pca_dim": 4}}.get(name, {})
    first = build_estimator(name, **kwargs).score(labels, features, probs)
    again = build_estimator(name, **kwargs).score(labels.copy(), features.copy(), probs.copy())
    assert first == again


# ---- unreliable scores: flagged once per run and in the report, not warned per pair -----------------
def test_h_score_flags_n_at_most_d_and_nothing_else():
    est = build_estimator("h_score")
    assert "N=40 <= D=64" in est.caveat(40, 64) and est.caveat(65, 64) is None
    assert build_estimator("logme").caveat(40, 64) is None


def test_h_score_unreliable_warning_once_per_run_however_many_pairs(caplog):
    from evaluation.caveats import caveat_lines, caveat_warning, collect_caveats

    rng = np.random.default_rng(0)
    records = {}
    with caplog.at_level("DEBUG"):
        for m in range(6):
            for d in range(5):
                feats, labels = rng.normal(size=(20, 32)), np.arange(20) % 4
                score = build_estimator("h_score").score(labels, features=feats)
                records[(f"m{m}", f"d{d}")] = {"scores": {"h_score": score, "logme": 0.0}, "n_images": 20,
                                               "feature_dim": 32}
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # 30 pairs, no warning yet
    caveats = collect_caveats(records, ("h_score", "logme"))
    assert list(caveats) == ["h_score"] and sum(len(v) for v in caveats["h_score"].values()) == 30
    line = caveat_warning(caveats, len(records))
    assert "\n" not in line and "h_score on 30 of 30 model-dataset pairs" in line
    assert caveat_warning({}, 30) is None and caveat_lines({}, 6) == []
    text = "\n".join(caveat_lines(caveats, 6))
    assert "**h_score** on 30 model-dataset pairs" in text and "  - d0: every model" in text
