"""Assign each tensor a role from its name and shape, architecture-agnostically.

Rules are tried in order (first match wins); names are matched per dotted component, lower-cased:

1. BatchNorm statistics (`running_mean`, `running_var`)        -> bn_mean, bn_var
2. a head component (classifier, head, bbox_predictor, ...)       -> head
3. position/class/register/query tokens and token tables          -> embedding
4. 1-D tensors of a norm layer (norm, ln_*, bn*, layernorm, ...)  -> norm_weight / norm_bias
5. patch embedding or stem (patch/stem/embedder, or a conv on 3 input channels) -> stem
6. convolutions (>= 3-D with a kernel): k x k (incl. depthwise)   -> conv_kxk, 1 x 1 -> conv_1x1
7. matrices in attention (q/k/v/out; fused qkv is split in three) -> attn_q, attn_k, attn_v, attn_out
8. matrices in an MLP (up: fc1/intermediate/pwconv1/...; down: fc2/output/pwconv2/...; else by shape)
9. other matrices                                                 -> linear
10. other 0-/1-D tensors (biases, layer scales, logit scales)     -> vector
"""
from __future__ import annotations

import re

ROLES = (
    "stem", "attn_q", "attn_k", "attn_v", "attn_out", "mlp_up", "mlp_down", "conv_kxk", "conv_1x1",
    "linear", "norm_weight", "norm_bias", "bn_mean", "bn_var", "vector", "embedding", "head",
)
HEAD = {"classifier", "head", "heads", "lm_head", "class_labels_classifier", "bbox_predictor", "pooler",
        "mask_head", "bbox_attention", "attnpool", "attn_pool", "text_projection", "visual_projection"}
EMBED = re.compile(r"(position|pos_embed|positional|cls_token|class_embedding|detection_token|mask_token|"
                   r"register|embed_tokens|token_embed|word_embed|relative_position|rel_pos|query_pos|dist_token)")
NORM = re.compile(r"(norm|^ln(_|\d|$)|_ln$|^bn\d*$|^gn\d*$|layrnorm)")
STEM = re.compile(r"(patch|stem|embedder)")
ATTN = re.compile(r"(attn|attention|^msa$|^mha$)")
FUSED = {"qkv", "c_attn", "query_key_value", "in_proj", "to_qkv", "in_proj_weight", "wqkv"}
Q = {"q", "query", "q_proj", "to_q", "wq", "q_lin"}
K = {"k", "key", "k_proj", "to_k", "wk", "k_lin"}
V = {"v", "value", "v_proj", "to_v", "wv", "v_lin"}
OUT = {"out_proj", "o_proj", "proj", "out", "output", "to_out", "c_proj", "wo", "dense", "out_lin", "o"}
MLP = re.compile(r"(mlp|ffn|feed_forward|feedforward|intermediate|^output$|^fc\d$|c_fc|^linear\d$|pwconv|"
                 r"^w[123]$|up_proj|down_proj|gate_proj|^wi$|dense_h_to_4h|dense_4h_to_h|^lin\d$)")
UP = re.compile(r"(^fc1$|c_fc|intermediate|^linear1$|pwconv1|up_proj|gate_proj|^w[13]$|^wi$|h_to_4h|^lin1$)")
DOWN = re.compile(r"(^fc2$|^linear2$|pwconv2|down_proj|^w2$|4h_to_h|^lin2$|^output$)")


def classify(name: str, shape: tuple[int, ...]) -> list[tuple[str, int, int]]:
    """[(role, first row, end row)]: usually one entry covering all rows; three for a fused qkv matrix."""
    parts = name.lower().split(".")
    leaf, mods = parts[-1], parts[:-1] or parts
    rows = shape[0] if shape else 1
    whole = [(_role(name.lower(), parts, leaf, mods, shape), 0, rows)]
    role = whole[0][0]
    if role == "attn_fused":
        if len(shape) == 2 and rows % 3 == 0:
            third = rows // 3
            return [("attn_q", 0, third), ("attn_k", third, 2 * third), ("attn_v", 2 * third, rows)]
        return [("linear", 0, rows)]
    return whole


def _role(lname: str, parts: list[str], leaf: str, mods: list[str], shape: tuple[int, ...]) -> str:
    ndim = len(shape)
    if leaf in ("running_mean", "running_var"):
        return "bn_mean" if leaf == "running_mean" else "bn_var"
    if any(p in HEAD for p in parts) or (parts[0] == "fc" or parts[:2] == ["visual", "proj"]) or leaf == "proj":
        return "head"
    if EMBED.search(lname) and not (ndim == 4 and STEM.search(lname)):
        return "embedding"
    if ndim <= 1 and any(NORM.search(p) for p in mods):
        return "norm_bias" if leaf in ("bias", "beta") else "norm_weight"
    if ndim >= 2 and (any(STEM.search(p) for p in mods) or (ndim == 4 and shape[1] == 3)):
        return "stem"
    if ndim >= 3:
        return "conv_1x1" if all(s == 1 for s in shape[2:]) else "conv_kxk"
    if ndim == 2:
        return _matrix_role(parts, leaf, mods, shape)
    return "vector"


def _matrix_role(parts: list[str], leaf: str, mods: list[str], shape: tuple[int, ...]) -> str:
    if leaf in FUSED or any(p in FUSED for p in mods):
        return "attn_fused"
    in_attn = any(ATTN.search(p) for p in mods)
    last = mods[-1]
    if in_attn:
        for names, role in ((Q, "attn_q"), (K, "attn_k"), (V, "attn_v")):
            if last in names:
                return role
        if any(p in OUT for p in mods[-2:]):
            return "attn_out"
    in_mlp = [p for p in mods if MLP.search(p)]
    if in_mlp and not in_attn:
        if any(UP.search(p) for p in mods):
            return "mlp_up"
        if any(DOWN.search(p) for p in mods):
            return "mlp_down"
        return "mlp_up" if shape[0] >= shape[1] else "mlp_down"
    return "linear"
