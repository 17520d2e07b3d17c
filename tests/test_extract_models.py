"""Extractors on real tiny models created from configs (no hub): transformers, SigLIP, detectors, open_clip."""
import json

import numpy as np
import pytest
import torch

from config import ExtractorConfig, VectorizerConfig
from extractors import EXTRACTOR_REGISTRY, ModelSpec, build_extractor, build_vectorizer
from extractors.base import ExtractionError

transformers = pytest.importorskip("transformers")

TINY_VIT = dict(image_size=16, patch_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=32)


def tiny_models():
    t = transformers
    resnet = t.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic", num_labels=3)
    return {
        "resnet": t.ResNetForImageClassification(resnet),
        "convnext": t.ConvNextForImageClassification(
            t.ConvNextConfig(num_stages=2, hidden_sizes=[8, 16], depths=[1, 1], num_labels=3)),
        "vit": t.ViTForImageClassification(t.ViTConfig(**TINY_VIT, num_labels=3)),
        "mobilenet_v2": t.MobileNetV2ForImageClassification(
            t.MobileNetV2Config(image_size=32, depth_multiplier=0.25, num_labels=3)),
        "siglip": t.SiglipModel(t.SiglipConfig(
            text_config=dict(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=32, max_position_embeddings=16, bos_token_id=1, eos_token_id=2,
                             pad_token_id=0),
            vision_config=TINY_VIT)),
        "yolos": t.YolosForObjectDetection(t.YolosConfig(
            **{**TINY_VIT, "image_size": [32, 32]}, num_detection_tokens=3, num_labels=3)),
        "detr": t.DetrForObjectDetection(t.DetrConfig(
            use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=resnet.__class__(
                embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic", out_features=["stage2"]),
            d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
            encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=5, num_labels=3)),
    }


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    torch.manual_seed(0)
    for name, model in tiny_models().items():
        model.save_pretrained(root / name)
    transformers.ViTImageProcessor(size={"height": 16, "width": 16}).save_pretrained(root / "vit")
    return root


def run(extractor, source, vectorizer=None, **cfg):
    ext = build_extractor(ExtractorConfig(**cfg), extractor)
    return (vectorizer or build_vectorizer(VectorizerConfig())).vectorize(ext.tensors(ModelSpec("m", str(source))))


def test_transformers_architectures_give_distinct_finite_vectors(zoo):
    vectors = {}
    for name in ("resnet", "convnext", "vit", "mobilenet_v2"):
        result = run("hf", zoo / name)
        assert result.vector.shape == (8192,) and result.vector.dtype == np.float32
        assert np.isfinite(result.vector).all() and np.count_nonzero(result.vector) > 500
        assert all("num_batches_tracked" not in n for n in result.names)  # integer buffers are skipped
        vectors[name] = result.vector
    names = list(vectors)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.abs(vectors[a] - vectors[b]).max() > 1e-2, (a, b)


def test_instantiating_the_model_gives_the_same_vector_as_reading_files(zoo):
    direct = run("hf", zoo / "resnet")
    built = run("hf", zoo / "resnet", read_files_directly=False)
    assert np.allclose(direct.vector, built.vector, atol=1e-6)
    pipe = run("hf_pipeline", zoo / "vit")
    assert np.allclose(pipe.vector, run("hf", zoo / "vit").vector, atol=1e-6)


def test_siglip_keeps_the_vision_tower(zoo):
    result = run("siglip", zoo / "siglip")
    assert result.names and all(n.startswith("vision_model.") for n in result.names)
    assert np.isfinite(result.vector).all()
    built = run("siglip", zoo / "siglip", read_files_directly=False)
    assert np.allclose(result.vector, built.vector, atol=1e-6)
    whole = run("hf", zoo / "siglip")
    assert len(whole.names) > len(result.names)


@pytest.mark.parametrize("name", ["yolos", "detr"])
def test_detectors_backbone_and_heads(zoo, name):
    full = run("detector", zoo / name)
    heads = run("detector", zoo / name, parts=("heads",))
    backbone = run("detector", zoo / name, parts=("backbone",))
    assert heads.names and all(n.startswith(("class_labels_classifier", "bbox_predictor")) for n in heads.names)
    assert backbone.names and not set(backbone.names) & set(heads.names)
    assert len(full.names) >= len(heads.names) + len(backbone.names)
    assert np.isfinite(full.vector).all() and not np.allclose(full.vector, heads.vector)
    assert np.allclose(full.vector, run("detector", zoo / name, read_files_directly=False).vector, atol=1e-6)


def test_open_clip_vision_tower(tmp_path):
    open_clip = pytest.importorskip("open_clip")
    from safetensors.torch import save_file

    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 16, "layers": 2, "width": 16, "patch_size": 8, "head_width": 8},
           "text_cfg": {"context_length": 8, "vocab_size": 50, "width": 16, "heads": 2, "layers": 1}}
    (tmp_path / "ZooRankTinyCLIP.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "ZooRankTinyCLIP.json")
    torch.manual_seed(0)
    model = open_clip.create_model("ZooRankTinyCLIP")
    folder = tmp_path / "tiny_clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "open_clip_model.safetensors")
    torch.save(model.state_dict(), tmp_path / "tiny_clip.pt")
    results = [
        run("clip", folder),  # streamed from the safetensors file
        run("clip", f"local-dir:{folder}", read_files_directly=False),  # open_clip.create_model
        run("clip", f"ZooRankTinyCLIP@{tmp_path / 'tiny_clip.pt'}"),  # a registered config + .pt weights
        run("siglip", folder),  # siglip's open_clip backend
    ]
    for r in results:
        assert r.names and all(n.startswith("visual.") for n in r.names)
        assert np.allclose(r.vector, results[0].vector, atol=1e-6)
    assert "visual.transformer.resblocks.0.attn.in_proj_weight" in results[0].names
    assert results[0].roles[results[0].names.index("visual.transformer.resblocks.0.attn.in_proj_weight")] == \
        "attn_q+attn_k+attn_v"


def test_unloadable_model_is_an_extraction_error(tmp_path):
    with pytest.raises(ExtractionError, match="'m'.*nonexistent-org/nonexistent-model"):
        run("hf", "nonexistent-org/nonexistent-model")  # offline and not cached
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    with pytest.raises(ExtractionError, match="cannot load"):
        run("hf", tmp_path / "broken")
    assert set(EXTRACTOR_REGISTRY.list()) == {"clip", "detector", "hf", "hf_pipeline", "siglip", "state_dict"}
