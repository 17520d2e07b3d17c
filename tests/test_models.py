"""Model modules: shapes, masking, and order-equivariance over candidate models."""
import pytest
import torch

from model.custom_similarity_transformer import CustomSimilarityTransformer
from model.model_encoder import AutoEncoder
from model.ranking_transformer import RankingCrossAttentionTransformer


@pytest.mark.parametrize("activation", ["gelu", "relu", "leaky_relu"])
def test_autoencoder_shapes_and_learns(activation):
    torch.manual_seed(0)
    ae = AutoEncoder(input_dim=64, hidden_dims=(32,), code_dim=8, activation=activation, dropout=0.0)
    x = torch.randn(16, 8) @ torch.randn(8, 64)  # rank-8 data: an 8-dim code can reconstruct it
    recon, code = ae(x)
    assert recon.shape == (16, 64) and code.shape == (16, 8) and torch.equal(ae.encode(x), code)
    opt = torch.optim.Adam(ae.parameters(), lr=1e-2)
    first = None
    for _ in range(200):
        loss = torch.nn.functional.mse_loss(ae(x)[0], x)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


def batch(b=2, t=5, m=6, dd=12, dm=10):
    torch.manual_seed(1)
    dmask = torch.ones(b, t, dtype=torch.bool)
    dmask[1, 3:] = False
    mmask = torch.ones(b, m, dtype=torch.bool)
    mmask[0, 4:] = False
    return {"dataset_tokens": torch.randn(b, t, dd), "dataset_mask": dmask,
            "model_tokens": torch.randn(b, m, dm), "model_mask": mmask}


@pytest.fixture(params=["ranking", "similarity"])
def ranker(request):
    torch.manual_seed(0)
    cls = RankingCrossAttentionTransformer if request.param == "ranking" else CustomSimilarityTransformer
    return cls(dataset_dim=12, model_dim=10, d_model=16, heads=2, dropout=0.0).eval()


def scores(model, b):
    return model(b["dataset_tokens"], b["dataset_mask"], b["model_tokens"], b["model_mask"])


def test_scores_shape_and_padding(ranker):
    b = batch()
    s = scores(ranker, b)
    assert s.shape == (2, 6)
    assert torch.isinf(s[0, 4:]).all() and torch.isfinite(s[0, :4]).all() and torch.isfinite(s[1]).all()
    # padded dataset tokens and padded models do not change the real models' scores
    b2 = {k: v.clone() for k, v in b.items()}
    b2["dataset_tokens"][1, 3:] = 100.0
    b2["model_tokens"][0, 4:] = -50.0
    assert torch.allclose(scores(ranker, b2)[b["model_mask"]], s[b["model_mask"]], atol=1e-5)


def test_permuting_models_permutes_scores(ranker):
    """No per-model learned IDs: scores follow the tokens, so any model can be ranked from its weights."""
    b = batch()
    perm = torch.tensor([3, 1, 0, 2, 5, 4])
    b2 = dict(b, model_tokens=b["model_tokens"][:, perm], model_mask=b["model_mask"][:, perm])
    assert torch.allclose(scores(ranker, b2)[1], scores(ranker, b)[1][perm], atol=1e-5)


def test_similarity_outputs_a_distribution():
    m = CustomSimilarityTransformer(12, 10, d_model=16, heads=2).eval()
    b = batch()
    p = m.probabilities(b["dataset_tokens"], b["dataset_mask"], b["model_tokens"], b["model_mask"])
    assert torch.allclose(p.sum(-1), torch.ones(2)) and (p[0, 4:] == 0).all()


def chunked(chunk, m=7):
    torch.manual_seed(0)
    model = RankingCrossAttentionTransformer(dataset_dim=12, model_dim=10, d_model=16, heads=2, dropout=0.0,
                                             candidate_chunk=chunk).eval()
    return model, batch(m=m)


@pytest.mark.parametrize("chunk", [7, 8, 100])
def test_a_chunk_of_every_candidate_scores_as_all_at_once(chunk):
    whole, b = chunked(0)
    model, _ = chunked(chunk)
    with torch.no_grad():
        assert torch.equal(scores(model, b), scores(whole, b))
        # and as nn.Transformer's own forward, which the model called before it could chunk
        out = whole.transformer(whole.dataset_in(b["dataset_tokens"]), whole.model_in(b["model_tokens"]),
                                src_key_padding_mask=~b["dataset_mask"], tgt_key_padding_mask=~b["model_mask"],
                                memory_key_padding_mask=~b["dataset_mask"])
        reference = whole.head(out).squeeze(-1).masked_fill(~b["model_mask"], float("-inf"))
    assert torch.allclose(scores(whole, b), reference, atol=1e-6)


def test_smaller_chunks_attend_within_their_chunk_only():
    model, b = chunked(3)
    whole, _ = chunked(0)
    b["model_mask"][:] = True
    with torch.no_grad():
        s = scores(model, b)
        for start in (0, 3, 6):  # each chunk scores as if it were the whole candidate set
            part = {**b, "model_tokens": b["model_tokens"][:, start:start + 3],
                    "model_mask": b["model_mask"][:, start:start + 3]}
            assert torch.allclose(s[:, start:start + 3], scores(whole, part), atol=1e-6)
        assert not torch.allclose(s, scores(whole, b), atol=1e-4)


def test_candidate_chunk_comes_from_the_config():
    from config.ranking import TransformerTrainerConfig
    from utils.errors import ConfigError

    model = RankingCrossAttentionTransformer.from_config(TransformerTrainerConfig(candidate_chunk=5), 12, 10)
    assert model.candidate_chunk == 5
    with pytest.raises(ConfigError, match="candidate_chunk"):
        TransformerTrainerConfig(candidate_chunk=-1).check()
