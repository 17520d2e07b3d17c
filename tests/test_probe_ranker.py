"""ProbeRanker: it starts as the training-free probe ranker, and probe dropout hides the nearest probe in training."""
import numpy as np
import pytest
import torch

from metrics.probe_similarity import probe_similarity_scores
from model.probe_ranker import ProbeRanker

P, S, M, T, D = 4, 2, 12, 6, 16


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    probes = torch.randn(P, T, D, generator=g)
    target = probes[1] + 0.05 * torch.randn(T, D, generator=g)  # looks like probe 1
    acc = torch.rand(M, P, generator=g)
    z = (acc - acc.mean(0)) / acc.std(0, unbiased=False)  # ProbeProfiles' z-scores over the zoo
    tokens = torch.cat([torch.randn(M, 3, generator=g), torch.stack([z, torch.rand(M, P, generator=g)], -1).reshape(M, -1)], 1)
    return probes, target, acc, tokens


def _ranker(probes, dropout=0.0, **kwargs):
    torch.manual_seed(0)
    return ProbeRanker(D, 3 + P * S, probes, torch.ones(P, T, dtype=torch.bool), 3, S, d_model=16,
                       probe_dropout=dropout, **kwargs)


def test_untrained_ranker_is_the_training_free_probe_ranker():
    probes, target, acc, tokens = _inputs()
    ranker = _ranker(probes).eval()
    with torch.no_grad():
        got = ranker(target[None], torch.ones(1, T, dtype=torch.bool), tokens[None], torch.ones(1, M, dtype=torch.bool))[0]
    want = probe_similarity_scores(target.numpy(), probes.mean(1).numpy(), acc.numpy(), 0.05)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-4)


def test_probe_dropout_hides_the_nearest_probe_only_in_training():
    probes, target, _, tokens = _inputs()
    masks = torch.ones(1, T, dtype=torch.bool), torch.ones(1, M, dtype=torch.bool)
    ranker = _ranker(probes, dropout=1.0)
    with torch.no_grad():
        weights_train = ranker.train().relation(target[None], masks[0])[0]
        weights_eval = ranker.eval().relation(target[None], masks[0])[0]
        ranker.probe_dropout = 0.0
        plain_train = ranker.train().relation(target[None], masks[0])[0]
    assert weights_eval[0, 1] > 0.9 and plain_train[0, 1] > 0.9  # the target's own probe dominates
    assert weights_train[0, 1] == 0 and torch.isclose(weights_train.sum(), torch.tensor(1.0))


def test_far_gate_flattens_the_weights_only_for_a_target_no_probe_resembles():
    probes, near_target, _, _ = _inputs()
    far_target = torch.randn(T, D, generator=torch.Generator().manual_seed(7))  # like no probe
    mask = torch.ones(1, T, dtype=torch.bool)
    ranker = _ranker(probes).eval()

    def entropy(target):
        with torch.no_grad():
            w = ranker.relation(target[None], mask)[0][0]
        return float(-(w * w.clamp_min(1e-12).log()).sum())

    before = entropy(near_target), entropy(far_target)
    with torch.no_grad():
        ranker.far.fill_(0.2)  # k = 20
    after = entropy(near_target), entropy(far_target)
    assert after[1] > before[1] + 0.3  # far: much flatter
    assert abs(after[0] - before[0]) < 0.05  # near (cosine ~1): as before


def test_without_corrections_it_learns_only_temperature_gate_and_mix_and_starts_as_the_baseline():
    probes, target, acc, tokens = _inputs()
    ranker = _ranker(probes, corrections=False).eval()
    assert sorted(n for n, _ in ranker.named_parameters()) == ["far", "log_inv_temp", "mix"]
    with torch.no_grad():
        got = ranker(target[None], torch.ones(1, T, dtype=torch.bool), tokens[None], torch.ones(1, M, dtype=torch.bool))[0]
    want = probe_similarity_scores(target.numpy(), probes.mean(1).numpy(), acc.numpy(), 0.05)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-4)


def test_probe_dropout_hides_the_whole_family_of_the_nearest_probe():
    probes, target, _, _ = _inputs()
    groups = torch.tensor([0, 1, 1, 2])  # probes 1 and 2: one family
    ranker = _ranker(probes, dropout=1.0, probe_groups=groups).train()
    with torch.no_grad():
        weights = ranker.relation(target[None], torch.ones(1, T, dtype=torch.bool))[0][0]
    assert weights[1] == 0 and weights[2] == 0 and torch.isclose(weights.sum(), torch.tensor(1.0))


def test_far_fallback_ranks_a_far_target_by_general_quality_outside_training_only():
    probes, near_target, _, tokens = _inputs()
    far_target = torch.randn(T, D, generator=torch.Generator().manual_seed(7))  # like no probe
    coef = torch.randn(P * S + 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    masks = torch.ones(1, T, dtype=torch.bool), torch.ones(1, M, dtype=torch.bool)
    plain = _ranker(probes, corrections=False)
    ranker = _ranker(probes, corrections=False, fallback=coef, far_threshold=0.9)
    ranker.load_state_dict(plain.state_dict(), strict=False)

    def scores(model, target, training=False):
        with torch.no_grad():
            return model.train(training)(target[None], masks[0], tokens[None], masks[1])[0]

    assert float(ranker.eval().nearest(near_target[None], masks[0])[0]) > 0.9
    assert float(ranker.nearest(far_target[None], masks[0])[0]) < 0.9
    general = (tokens[:, 3:].double() @ coef[:-1] + coef[-1]).float()
    torch.testing.assert_close(scores(ranker, far_target), general)
    torch.testing.assert_close(scores(ranker, near_target), scores(plain, near_target))
    torch.testing.assert_close(scores(ranker, far_target, training=True), scores(plain, far_target, training=True))
    again = ProbeRanker.from_config(type("Cfg", (), {"d_model": 16, "heads": 4, "dropout": 0.1, "probe_corrections": False})(),
                                    D, 3 + P * S, **ProbeRanker.probe_kwargs(ranker.state_dict()))
    again.load_state_dict(ranker.state_dict())
    torch.testing.assert_close(scores(again, far_target), general)


def test_token_matching_finds_the_probe_a_class_subset_comes_from():
    """A target made of one of a probe's four classes: its mean token is far from that probe's mean (cosine 0.5),
    nearer a one-class probe that only resembles it (0.8); each target token's best match finds its own probe."""
    e = torch.eye(D)
    probes = torch.stack([e[:4], (0.8 * e[0] + 0.6 * e[4]).expand(4, D)])  # [2, 4, D]
    mask = torch.ones(2, 4, dtype=torch.bool)
    target, tmask = torch.stack([e[0], e[0], torch.zeros(D)])[None], torch.tensor([[True, True, False]])
    mean = ProbeRanker(D, 2, probes, mask, 0, 1, corrections=False, match="mean").similarity(target, tmask)[0]
    tokens = ProbeRanker(D, 2, probes, mask, 0, 1, corrections=False, match="tokens")
    np.testing.assert_allclose(mean.numpy(), [0.5, 0.8], atol=1e-6)
    np.testing.assert_allclose(tokens.similarity(target, tmask)[0].numpy(), [1.0, 0.8], atol=1e-6)  # padding ignored
    acc = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])  # model 0 is best on probe 0, model 1 on probe 1
    with torch.no_grad():
        scores = tokens.eval()(target, tmask, acc[None], torch.ones(1, 2, dtype=torch.bool))[0]
    assert scores[0] > scores[1]  # ranked by the probe its classes come from


def test_a_checkpoint_is_rebuilt_with_the_matching_it_was_trained_with_whatever_the_config_says():
    probes, target, _, tokens = _inputs()
    masks = torch.ones(1, T, dtype=torch.bool), torch.ones(1, M, dtype=torch.bool)
    for trained, config in (("tokens", "mean"), ("mean", "tokens")):  # "mean": a checkpoint from before token matching
        ranker = _ranker(probes, match=trained, corrections=False).eval()
        cfg = type("Cfg", (), {"d_model": 16, "heads": 4, "dropout": 0.1, "probe_corrections": False,
                               "probe_match": config})()
        again = ProbeRanker.from_config(cfg, D, 3 + P * S, **ProbeRanker.probe_kwargs(ranker.state_dict()))
        again.load_state_dict(ranker.state_dict())
        assert again.match == trained
        with torch.no_grad():
            torch.testing.assert_close(again.eval()(target[None], masks[0], tokens[None], masks[1]),
                                       ranker(target[None], masks[0], tokens[None], masks[1]))


def test_a_far_target_adds_the_companions_ranking_and_the_companion_never_trains():
    """With a companion (a weights-only ranker over some of the model token's columns), a far target's scores are
    z(general quality) + w z(companion's scores) over the candidates; a near target's are the probe ranker's own; the
    companion's weights get no gradient; a state rebuilds the same ranker."""
    from model.custom_similarity_transformer import CustomSimilarityTransformer
    from model.probe_ranker import standardize

    probes, near_target, _, tokens = _inputs()
    far_target = torch.randn(T, D, generator=torch.Generator().manual_seed(7))
    coef = torch.randn(P * S + 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    masks = torch.ones(1, T, dtype=torch.bool), torch.ones(1, M, dtype=torch.bool)
    columns = torch.arange(3)  # the weights part of the model token
    torch.manual_seed(1)
    companion = CustomSimilarityTransformer(D, 3, d_model=8, heads=2, layers=1)
    alone = _ranker(probes, corrections=False, fallback=coef, far_threshold=0.9)
    ranker = _ranker(probes, corrections=False, fallback=coef, far_threshold=0.9, companion=companion,
                     companion_columns=columns, companion_weight=0.25)
    ranker.load_state_dict({**ranker.state_dict(), **alone.state_dict()})

    def scores(model, target):
        with torch.no_grad():
            return model.eval()(target[None], masks[0], tokens[None], masks[1])[0]

    with torch.no_grad():
        other = companion.eval()(far_target[None], masks[0], tokens[None, :, :3], masks[1]).double()
    general = (tokens[:, 3:].double() @ coef[:-1] + coef[-1])[None]
    expected = (standardize(general, masks[1]) + 0.25 * standardize(other, masks[1]))[0].float()
    torch.testing.assert_close(scores(ranker, far_target), expected)
    assert not torch.allclose(scores(ranker, far_target).argsort(), scores(alone, far_target).argsort())
    torch.testing.assert_close(scores(ranker, near_target), scores(alone, near_target))
    z = standardize(torch.tensor([[1.0, 2.0, 3.0, 5.0]]), torch.tensor([[True, True, True, False]]))
    torch.testing.assert_close(z, torch.tensor([[-1.2247449, 0.0, 1.2247449, 0.0]]))

    ranker.train()
    ranker(near_target[None], masks[0], tokens[None], masks[1]).sum().backward()
    assert all(p.grad is None for p in ranker.companion.parameters())
    assert not any(p.requires_grad for p in ranker.companion.parameters())

    kwargs = ProbeRanker.probe_kwargs(ranker.state_dict())
    assert kwargs["companion_columns"].tolist() == [0, 1, 2] and float(kwargs["companion_weight"]) == 0.25
    cfg = type("Cfg", (), {"d_model": 16, "heads": 4, "dropout": 0.1, "probe_corrections": False})()
    again = ProbeRanker.from_config(cfg, D, 3 + P * S, **kwargs,
                                    companion=CustomSimilarityTransformer(D, 3, d_model=8, heads=2, layers=1))
    again.load_state_dict(ranker.state_dict())
    torch.testing.assert_close(scores(again, far_target), expected)


def test_a_far_target_adds_how_much_it_looks_like_what_each_model_names():
    """With label columns (each model's label vector, features/labels.py), a far target's scores are z(general
    quality) + w z(cosine of its mean token with each label vector); a near target's are the probe ranker's own; a
    model naming no classes (zeros) reads as average; a state rebuilds the same ranker."""
    from model.probe_ranker import standardize

    probes, near_target, _, tokens = _inputs()
    g = torch.Generator().manual_seed(5)
    far_target = torch.randn(T, D, generator=g)
    labels = torch.nn.functional.normalize(torch.randn(M, D, generator=g), dim=-1)
    labels[0] = 0.0  # names no classes
    labels[1] = torch.nn.functional.normalize(far_target.mean(0), dim=0)  # trained to name what the target shows
    tokens = torch.cat([tokens, labels], 1)
    columns = torch.arange(3 + P * S, 3 + P * S + D)
    coef = torch.randn(P * S + 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    masks = torch.ones(1, T, dtype=torch.bool), torch.ones(1, M, dtype=torch.bool)

    def build(**kw):
        torch.manual_seed(0)
        return ProbeRanker(D, 3 + P * S + D, probes, masks[0].expand(P, -1), 3, S, d_model=16, corrections=False,
                           fallback=coef, far_threshold=0.9, **kw).eval()

    alone, ranker = build(), build(label_columns=columns, label_weight=0.4)
    ranker.load_state_dict({**ranker.state_dict(), **alone.state_dict()})

    def scores(model, target):
        with torch.no_grad():
            return model(target[None], masks[0], tokens[None], masks[1])[0]

    general = (tokens[:, 3:3 + P * S].double() @ coef[:-1] + coef[-1])[None]
    unit = torch.nn.functional.normalize(far_target.double().mean(0), dim=0)
    cosine = (tokens[:, columns].double() @ unit)[None]
    assert float(cosine[0, 0]) == 0.0 and float(cosine[0, 1]) == pytest.approx(1.0)
    expected = (standardize(general, masks[1]) + 0.4 * standardize(cosine, masks[1]))[0].float()
    torch.testing.assert_close(scores(ranker, far_target), expected)
    assert scores(ranker, far_target).argsort().tolist() != scores(alone, far_target).argsort().tolist()
    torch.testing.assert_close(scores(ranker, near_target), scores(alone, near_target))

    kwargs = ProbeRanker.probe_kwargs(ranker.state_dict())
    assert kwargs["label_columns"].tolist() == columns.tolist() and float(kwargs["label_weight"]) == 0.4
    cfg = type("Cfg", (), {"d_model": 16, "heads": 4, "dropout": 0.1, "probe_corrections": False})()
    again = ProbeRanker.from_config(cfg, D, 3 + P * S + D, **kwargs)
    again.load_state_dict(ranker.state_dict())
    torch.testing.assert_close(scores(again.eval(), far_target), expected)
    assert not build(label_columns=columns, label_weight=0.0).reads_labels  # weight 0: not read
    with pytest.raises(ValueError, match="another CLIP"):
        build(label_columns=columns[:-1], label_weight=0.4)
