"""Vectorizers on in-memory tensors: layout, determinism, permutation invariance, sampling, flat, normalizer."""
import dataclasses

import numpy as np
import pytest
import torch

from config import VectorizerConfig
from extractors import VECTORIZER_REGISTRY, RobustNormalizer, build_vectorizer, fit_normalizer
from extractors.base import ExtractionError
from extractors.vectorizers.layer_stats import GLOBAL_SIZE, resample
from extractors.vectorizers.roles import ROLES, classify
from extractors.vectorizers.tensor_stats import IDX, STATS, tensor_stats
from utils.errors import RegistryError, ZooRankError


def block_model(seed=0, hidden=32, width=16, layers=2):
    """A state dict shaped like a tiny ViT: patch conv, attention, MLP, norms, head."""
    g = torch.Generator().manual_seed(seed)
    sd = {"embed.patch_embed.proj.weight": torch.randn(width, 3, 4, 4, generator=g) * 0.1,
          "embed.pos_embed": torch.randn(1, 5, width, generator=g) * 0.02}
    for i in range(layers):
        p = f"blocks.{i}."
        sd[p + "attn.qkv.weight"] = torch.randn(3 * width, width, generator=g) * 0.2
        sd[p + "attn.proj.weight"] = torch.randn(width, width, generator=g) * 0.2
        sd[p + "norm1.weight"] = 1 + 0.1 * torch.randn(width, generator=g)
        sd[p + "norm1.bias"] = 0.1 * torch.randn(width, generator=g)
        sd[p + "mlp.fc1.weight"] = torch.randn(hidden, width, generator=g) * 0.2
        sd[p + "mlp.fc1.bias"] = torch.randn(hidden, generator=g) * 0.1
        sd[p + "mlp.fc2.weight"] = torch.randn(width, hidden, generator=g) * 0.2
        sd[p + "mlp.fc2.bias"] = torch.randn(width, generator=g) * 0.1
    sd["head.weight"] = torch.randn(10, width, generator=g) * 0.1
    sd["head.bias"] = torch.zeros(10)
    return sd


def mlp_forward(sd, x, i=0):
    p = f"blocks.{i}.mlp."
    h = torch.nn.functional.gelu(x @ sd[p + "fc1.weight"].T + sd[p + "fc1.bias"])
    return h @ sd[p + "fc2.weight"].T + sd[p + "fc2.bias"]


def vectorize(sd, **cfg):
    vec = build_vectorizer(dataclasses.replace(VectorizerConfig(), **cfg))
    return vec.vectorize(iter(sd.items())).vector


def test_layout_size_and_determinism():
    vec = build_vectorizer(VectorizerConfig())
    layout = vec.layout()
    assert len(layout) == 8192 and len(set(layout)) == 8192
    assert layout[0] == "global/log_params" and layout[GLOBAL_SIZE] == f"{ROLES[0]}/bin00/{STATS[0]}"
    v1, v2 = vectorize(block_model()), vectorize(block_model(), read_ahead=False)
    assert v1.dtype == np.float32 and v1.shape == (8192,) and np.isfinite(v1).all()
    assert np.array_equal(v1, v2)  # reading ahead in a thread changes nothing
    assert not np.allclose(v1, vectorize(block_model(seed=1)), atol=1e-3)
    small = vectorize(block_model(), size=512, depth_bins=12)  # too small for 12 bins: truncated
    assert small.shape == (512,) and np.array_equal(small, v1[:512])
    assert vectorize(block_model(), size=1024).shape == (1024,)  # auto bins: 1
    mask = dict(zip(layout, v1))
    assert mask["mask/attn_q"] == 1 and mask["mask/conv_kxk"] == 0 and mask["mask/stem"] == 1


def test_roles_of_common_names():
    assert [r for r, *_ in classify("blocks.0.attn.qkv.weight", (48, 16))] == ["attn_q", "attn_k", "attn_v"]
    assert classify("vit.layers.0.mlp.fc1.weight", (32, 16))[0][0] == "mlp_up"
    assert classify("vit.encoder.layer.0.output.dense.weight", (16, 32))[0][0] == "mlp_down"
    assert classify("vit.encoder.layer.0.attention.output.dense.weight", (16, 16))[0][0] == "attn_out"
    assert classify("resnet.embedder.embedder.convolution.weight", (8, 3, 7, 7))[0][0] == "stem"
    assert classify("layer.0.conv_3x3.convolution.weight", (48, 1, 3, 3))[0][0] == "conv_kxk"
    assert classify("layer.0.expand_1x1.convolution.weight", (48, 8, 1, 1))[0][0] == "conv_1x1"
    assert classify("layer.0.normalization.running_var", (48,))[0][0] == "bn_var"
    assert classify("vit.embeddings.cls_token", (1, 1, 16))[0][0] == "embedding"
    assert classify("classifier.weight", (3, 16))[0][0] == "head"


def test_hidden_unit_permutation_leaves_layer_stats_unchanged():
    sd = block_model()
    perm = torch.randperm(32, generator=torch.Generator().manual_seed(3))
    permuted = dict(sd)
    p = "blocks.0.mlp."
    permuted[p + "fc1.weight"] = sd[p + "fc1.weight"][perm]
    permuted[p + "fc1.bias"] = sd[p + "fc1.bias"][perm]
    permuted[p + "fc2.weight"] = sd[p + "fc2.weight"][:, perm]
    x = torch.randn(4, 16)
    assert torch.allclose(mlp_forward(sd, x), mlp_forward(permuted, x), atol=1e-5)  # a true symmetry
    assert not torch.equal(sd[p + "fc1.weight"], permuted[p + "fc1.weight"])
    a, b = vectorize(sd), vectorize(permuted)
    assert np.abs(a - b).max() < 1e-5
    flat = dataclasses.replace(VectorizerConfig(), name="flat")
    fa = build_vectorizer(flat).vectorize(iter(sd.items())).vector
    fb = build_vectorizer(flat).vectorize(iter(permuted.items())).vector
    assert not np.allclose(fa, fb)  # the raw-weight baseline is not invariant


def test_large_tensor_is_subsampled_deterministically_and_accurately():
    cfg = VectorizerConfig()
    w = torch.randn(1500, 5000) * 0.05  # 7.5M elements: sampled path (rows and columns)
    s1, s2 = tensor_stats("w", w, cfg), tensor_stats("w", w.clone(), cfg)
    assert np.array_equal(s1, s2) and np.isfinite(s1).all()
    assert abs(s1[IDX["std"]] - 0.05) < 0.002
    assert abs(s1[IDX["log_rms"]] - np.log(0.05)) < 0.02
    assert abs(s1[IDX["zq0.5"]]) < 0.05 and abs(s1[IDX["zq0.95"]] - 1.645) < 0.1
    half = tensor_stats("w", w.half(), cfg)
    assert np.allclose(half, s1, atol=2e-2)


def test_small_matrices_get_exact_spectra():
    w = torch.randn(100, 300, generator=torch.Generator().manual_seed(0))  # within sample_size: exact
    s = tensor_stats("w", w, VectorizerConfig())
    sv = torch.linalg.svdvals(w.double())
    assert np.isclose(np.exp(s[IDX["log_sigma1"]]), sv[0].item(), rtol=1e-6)
    assert np.isclose(s[IDX["sigma4_ratio"]], (sv[3] / sv[0]).item(), rtol=1e-6)
    assert np.isclose(np.exp(s[IDX["log_stable_rank"]]), (sv.square().sum() / sv[0] ** 2).item(), rtol=1e-6)


def test_nan_and_inf_are_errors_naming_the_tensor():
    sd = block_model()
    sd["blocks.1.mlp.fc2.weight"][3, 4] = float("nan")
    for read_ahead in (True, False):  # raised in the read-ahead thread, re-raised here
        with pytest.raises(ExtractionError, match=r"blocks\.1\.mlp\.fc2\.weight.*NaN"):
            vectorize(sd, read_ahead=read_ahead)
    big = torch.zeros(300, 300)
    big[7, 9] = float("inf")
    with pytest.raises(ExtractionError, match="inf"):
        tensor_stats("big", big, VectorizerConfig())


def test_resample_is_area_weighted():
    feats = np.arange(4, dtype=float)[:, None]
    assert np.allclose(resample(feats, 2)[:, 0], [0.5, 2.5])
    assert np.allclose(resample(feats, 8)[:, 0], [0, 0, 1, 1, 2, 2, 3, 3])
    assert np.allclose(resample(np.array([[1.0, 2.0]]), 3), [[1, 2]] * 3)


def test_flat_vectorizer_resamples_in_name_order():
    cfg = dataclasses.replace(VectorizerConfig(), name="flat", size=10)
    vec = build_vectorizer(cfg)
    small = vec.vectorize(iter([("b", torch.tensor([3.0, 4.0])), ("a", torch.tensor([1.0, 2.0]))]))
    assert small.names == ["a", "b"] and np.array_equal(small.vector[:4], [1, 2, 3, 4]) and not small.vector[4:].any()
    big = vec.vectorize(iter([("a", torch.arange(100.0)), ("b", torch.arange(100.0, 200.0))]))
    assert np.abs(big.vector - np.arange(10, 200, 20)).max() <= 5  # evenly spaced, to the kept grid


def test_unknown_vectorizer_is_a_registry_error():
    with pytest.raises(RegistryError, match="unknown vectorizer 'layer_stat'.*did you mean 'layer_stats'"):
        build_vectorizer(dataclasses.replace(VectorizerConfig(), name="layer_stat"))
    assert set(VECTORIZER_REGISTRY.list()) == {"flat", "layer_stats"}


def test_normalizer_fit_apply_save_load(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 2.0, size=(50, 6))
    train[:, 3] = 7.0  # a constant dimension (e.g. padding): scale falls back to 1
    train[0, 0] = 1e6  # an outlier: median/IQR barely move
    norm = fit_normalizer(train, ids=[f"m{i}" for i in range(50)], clip=4.0)
    z = norm.apply(train)
    assert z.dtype == np.float32 and np.allclose(np.median(z, axis=0), 0, atol=1e-6)
    assert norm.scale[3] == 1.0 and np.all(z[:, 3] == 0)
    assert z[0, 0] == 4.0  # clipped
    assert 1.5 < norm.scale[1] < 2.5
    norm.save(tmp_path / "n.npz")
    loaded = RobustNormalizer.load(tmp_path / "n.npz")
    assert loaded.ids == norm.ids and np.array_equal(loaded.apply(train[:3]), z[:3])
    with pytest.raises(ZooRankError, match="size 6"):
        loaded.apply(np.zeros(5))
    with pytest.raises(ZooRankError, match="at least 2"):
        fit_normalizer(train[:1])
