"""What ranking M real-size candidates for a new dataset of N images costs: LogME against the ranker.

    python benchmarks/bench_real_scale.py [--device cpu|cuda] [--images 10000] [--classes 10] [--json PATH]

Measured parts (random weights, no downloads; the median of --repeat timed passes after a warm-up):
  - each architecture's forward pass (transformers configs at their real size, 224 px): s/image, pooled dim
  - LogME's fit (estimators/logme.py) on random features [N, D], C classes: once per distinct D
  - open_clip ViT-B-32's encode_image: s/image, times the images [dataset_tokens] tokenizes per dataset
  - open_clip ViT-B-32's encode_text: s/prompt, times the prompts of a zoo's model labels (features/labels.py:
    every distinct class name once per template; once per zoo, not per dataset)
  - the rankers' forward pass at M candidates ([transformer] sizes): ranking_transformer all at once and in
    chunks of --chunk, and probe_ranker
Totals are sums of those parts and are printed as such: LogME needs every candidate's features on all N
images plus a fit; the ranker needs one CLIP pass over its token images plus its own forward pass.
No timing assertions: the machine may be shared (its load average is printed).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.cli import add_config_args, load_config  # noqa: E402
from utils.errors import ZooRankError, run_cli  # noqa: E402

# name -> (transformers config class, model class, config kwargs): each config's default is the real size
ARCHS = {
    "resnet50": ("ResNetConfig", "ResNetModel", {}),
    "vit_b16": ("ViTConfig", "ViTModel", {}),
    "convnext_t": ("ConvNextConfig", "ConvNextModel", {}),
    "mobilenet_v2": ("MobileNetV2Config", "MobileNetV2Model", {}),
    "regnet": ("RegNetConfig", "RegNetModel", {}),
    "bit_r50": ("BitConfig", "BitModel", {}),
    "swin_t": ("SwinConfig", "SwinModel", {}),
}
CANDIDATES = (48, 500, 5000)
PROBE_STATS = 4  # features/profiles.py STATS: one probe-profile column block per probe


def median_time(fn, device: str, repeat: int) -> float:
    """Median wall seconds of `fn()` over `repeat` passes after one untimed warm-up (lazy kernels, caches)."""
    import torch

    def once() -> float:
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start

    once()
    return statistics.median(once() for _ in range(repeat))


def architecture_forward(name: str, device: str, batch: int, repeat: int) -> dict:
    """One architecture at 224 px: forward s/image over a batch [batch, 3, 224, 224] and its pooled dim."""
    import torch
    import transformers

    config_cls, model_cls, kwargs = ARCHS[name]
    model = getattr(transformers, model_cls)(getattr(transformers, config_cls)(**kwargs)).to(device).eval()
    images = torch.randn(batch, 3, 224, 224, device=device)
    with torch.no_grad():
        dim = model(pixel_values=images).pooler_output.reshape(batch, -1).shape[1]
        seconds = median_time(lambda: model(pixel_values=images), device, repeat)
    return {"forward_s_per_image": seconds / batch, "feature_dim": int(dim),
            "params_m": sum(p.numel() for p in model.parameters()) / 1e6}


def clip_forward(device: str, batch: int, repeat: int) -> float:
    """open_clip ViT-B-32 (random weights) encode_image at 224 px: s/image."""
    import open_clip
    import torch

    model = open_clip.create_model("ViT-B-32", pretrained=None).to(device).eval()
    images = torch.randn(batch, 3, 224, 224, device=device)
    with torch.no_grad():
        return median_time(lambda: model.encode_image(images), device, repeat) / batch


def clip_text(device: str, batch: int, repeat: int) -> float:
    """open_clip ViT-B-32 (random weights) encode_text on `batch` tokenized prompts: s/prompt."""
    import open_clip
    import torch

    model = open_clip.create_model("ViT-B-32", pretrained=None).to(device).eval()
    texts = open_clip.get_tokenizer("ViT-B-32")([f"a photo of a class {i}." for i in range(batch)]).to(device)
    with torch.no_grad():
        return median_time(lambda: model.encode_text(texts), device, repeat) / batch


def logme_fit(n: int, dim: int, classes: int, repeat: int) -> float:
    """The project's LogME on random features [n, dim] and labels [n] of `classes` classes: fit seconds."""
    import numpy as np

    from estimators.logme import logme

    rng = np.random.default_rng(0)
    features, labels = rng.standard_normal((n, dim)).astype(np.float32), np.arange(n) % classes
    return median_time(lambda: logme(features, labels), "cpu", repeat)


def ranker_forwards(cfg, tokens: int, chunk: int, probes: int, sizes: list[int], device: str, repeat: int) -> dict:
    """Forward seconds of each ranker mode at every M in `sizes`: dataset tokens [1, tokens, 512],
    model tokens [1, M, 513] (embedding 512 + log_params, the weights-only rankers' parts; probe_ranker
    adds `probes` x 4 profile columns and holds `probes` probe datasets of `tokens` tokens each)."""
    import dataclasses
    import functools

    import torch

    from model.probe_ranker import ProbeRanker
    from model.ranking_transformer import RankingCrossAttentionTransformer

    dim, base = 512, 513
    data, dmask = torch.randn(1, tokens, dim, device=device), torch.ones(1, tokens, dtype=torch.bool, device=device)
    modes = {
        "ranking_transformer": (RankingCrossAttentionTransformer.from_config(
            dataclasses.replace(cfg, candidate_chunk=0), dim, base), base),
        f"ranking_transformer_chunk{chunk}": (RankingCrossAttentionTransformer.from_config(
            dataclasses.replace(cfg, candidate_chunk=chunk), dim, base), base),
        "probe_ranker": (ProbeRanker.from_config(cfg, dim, base + probes * PROBE_STATS, torch.randn(probes, tokens, dim),
                                                 torch.ones(probes, tokens, dtype=torch.bool), base, PROBE_STATS),
                         base + probes * PROBE_STATS),
    }
    out = {}
    for mode, (model, model_dim) in modes.items():
        model = model.to(device).eval()
        out[mode] = {}
        for m in sizes:
            cands, cmask = torch.randn(1, m, model_dim, device=device), torch.ones(1, m, dtype=torch.bool, device=device)
            with torch.no_grad():
                out[mode][m] = median_time(functools.partial(model, data, dmask, cands, cmask), device, repeat)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(parser)
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("--images", type=int, default=10_000, help="N: the new dataset's images (LogME's input)")
    parser.add_argument("--classes", type=int, default=10, help="C: its classes")
    parser.add_argument("--candidates", type=int, default=48, help="M of the totals")
    parser.add_argument("--archs", default=",".join(ARCHS), help="comma-separated subset of: %(default)s")
    parser.add_argument("--batch", type=int, default=8, help="images per timed forward pass")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per part (median)")
    parser.add_argument("--chunk", type=int, default=48, help="candidate_chunk of the chunked ranking_transformer")
    parser.add_argument("--probes", type=int, default=8, help="probe datasets of probe_ranker (approximate)")
    parser.add_argument("--label-names", type=int, default=1000,
                        help="distinct class names in the zoo (1000: ImageNet-1k classifiers; 21843: ImageNet-21k)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0: available_cores()")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    archs = [a for a in args.archs.split(",") if a]
    unknown = sorted(set(archs) - set(ARCHS))
    for key in ("images", "classes", "candidates", "batch", "repeat", "chunk", "probes", "label_names"):
        if getattr(args, key) < 1:
            raise ZooRankError(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    if unknown or not archs or args.threads < 0:
        raise ZooRankError(f"--archs: unknown {unknown}; use some of {', '.join(ARCHS)}" if unknown or not archs
                           else f"--threads must be >= 0, got {args.threads}")
    import torch

    from config.dataset_tokens import DatasetTokensConfig
    from config.ranking import TransformerTrainerConfig
    from utils.cores import available_cores

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ZooRankError(f"--device {args.device}: no CUDA device here; use --device cpu")
    config = load_config(args)
    tok, cfg = config.get(DatasetTokensConfig), config.get(TransformerTrainerConfig)
    token_images = tok.per_class * args.classes
    tokens = args.classes * (tok.tokens != "samples") + min(tok.max_sample_tokens, token_images) * (
        tok.tokens != "class_means")
    torch.set_num_threads(args.threads or available_cores())
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, device {args.device}, "
          f"load average {os.getloadavg()[0]:.2f} (the machine may be shared)")
    print(f"dataset tokens: per_class {tok.per_class} x {args.classes} classes = {token_images} CLIP images -> "
          f"{tokens} tokens ({tok.tokens}, max_sample_tokens {tok.max_sample_tokens})")

    print("\nmeasured parts")
    parts = {name: architecture_forward(name, args.device, args.batch, args.repeat) for name in archs}
    fits = {d: logme_fit(args.images, d, args.classes, args.repeat) for d in sorted({p["feature_dim"] for p in parts.values()})}
    for name, p in parts.items():
        p["logme_fit_s"] = fits[p["feature_dim"]]
        print(f"  {name:13s} {p['params_m']:6.1f} M params  forward {p['forward_s_per_image'] * 1e3:8.2f} ms/image  "
              f"dim {p['feature_dim']:5d}  LogME fit (N={args.images}, C={args.classes}) {p['logme_fit_s']:7.3f} s")
    clip_s = clip_forward(args.device, args.batch, args.repeat)
    print(f"  clip ViT-B-32 encode_image {clip_s * 1e3:8.2f} ms/image")
    from features.labels import TEMPLATES

    text_s = clip_text(args.device, 4 * args.batch, args.repeat)
    labels_s = text_s * args.label_names * len(TEMPLATES)
    print(f"  clip ViT-B-32 encode_text  {text_s * 1e3:8.2f} ms/prompt; model labels of a zoo naming "
          f"{args.label_names} distinct classes ({len(TEMPLATES)} prompts each, once per zoo): {labels_s:.1f} s")
    forwards = ranker_forwards(cfg, tokens, args.chunk, args.probes, sorted({*CANDIDATES, args.candidates}),
                               args.device, args.repeat)
    for mode, times in forwards.items():
        print(f"  {mode:30s} forward " + "  ".join(f"M={m}: {s * 1e3:9.2f} ms" for m, s in times.items()))
    full, chunked = forwards["ranking_transformer"], forwards[f"ranking_transformer_chunk{args.chunk}"]
    print(f"  chunking speed-up at M={CANDIDATES[-1]}: {full[CANDIDATES[-1]] / chunked[CANDIDATES[-1]]:.1f}x; "
          f"growth M={CANDIDATES[0]}->{CANDIDATES[-1]}: all at once {full[CANDIDATES[-1]] / full[CANDIDATES[0]]:.0f}x, "
          f"chunked {chunked[CANDIDATES[-1]] / chunked[CANDIDATES[0]]:.0f}x ({CANDIDATES[-1] // CANDIDATES[0]}x models)")

    m = args.candidates
    cycle = [archs[i % len(archs)] for i in range(m)]
    logme_total = sum(args.images * parts[a]["forward_s_per_image"] + parts[a]["logme_fit_s"] for a in cycle)
    ranker_total = clip_s * token_images + forwards["ranking_transformer"][m]
    ratio = logme_total / ranker_total
    print(f"\ntotals (derived from measured parts), M={m} candidates cycled through {len(archs)} architectures, N={args.images}")
    print(f"  LogME : sum over candidates of N x forward + fit = {logme_total:10.1f} s")
    print(f"  ranker: CLIP x {token_images} images + ranking_transformer forward (M={m}) = {ranker_total:10.3f} s")
    print(f"  LogME / ranker = {ratio:,.0f}x")
    print("\ntargets")
    print(f"  ranking >= 100x cheaper than LogME at M={m}, N={args.images}: {'pass' if ratio >= 100 else 'FAIL'} ({ratio:,.0f}x)")
    for mode, times in forwards.items():
        s = times[CANDIDATES[-1]]
        print(f"  {mode} forward at M={CANDIDATES[-1]} < 1 s: {'pass' if s < 1 else 'FAIL'} ({s:.3f} s)")
    if args.json:
        from utils.io import write_json

        write_json(args.json, {
            "machine": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(), "device": args.device,
            "load_average": os.getloadavg(), "images": args.images, "classes": args.classes,
            "token_images": token_images, "tokens": tokens, "architectures": parts,
            "logme_fit_s": {str(d): s for d, s in fits.items()}, "clip_s_per_image": clip_s,
            "clip_text_s_per_prompt": text_s, "label_names": args.label_names, "model_labels_s": labels_s,
            "ranker_forward_s": {mode: {str(k): v for k, v in t.items()} for mode, t in forwards.items()},
            "derived": {"candidates": m, "logme_total_s": logme_total, "ranker_total_s": ranker_total,
                        "logme_over_ranker": ratio}})
    return 0


if __name__ == "__main__":
    run_cli(main)
