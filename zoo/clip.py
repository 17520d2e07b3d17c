"""A small CLIP trained on the source datasets' captions, saved and loaded the way real CLIP weights are.

CLIP weights cannot be downloaded here, so ZooRank trains its own: open_clip's `CLIP` class built
from a model config JSON (a tiny ViT and a tiny causal text transformer over open_clip's
SimpleTokenizer vocabulary), trained with `open_clip.loss.ClipLoss` on the (image, caption) pairs of
the *source* datasets' train splits. Everything after training goes through open_clip's own API:

    from zoo.clip import build_clip, load_clip
    ckpt = build_clip(source_dirs, out_dir)          # trains, or reuses a complete out_dir
    model, preprocess, tokenizer = load_clip(out_dir)
    # which is exactly:
    open_clip.add_model_config(out_dir / "zoorank-clip-vit-t4.json")
    model, _, preprocess = open_clip.create_model_and_transforms("zoorank-clip-vit-t4", pretrained=str(ckpt))

`out_dir` holds `open_clip_model.safetensors` (the state dict), `<model_name>.json` (open_clip's model
config: embed_dim, vision_cfg, text_cfg), `open_clip_config.json` (model and preprocess config, so
`local-dir:<out_dir>` works too) and `clip_info.json` (written last: data, epochs, losses, zero-shot
accuracy and the cache key). Training is deterministic on CPU for a given seed and thread count.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np
import open_clip
import torch
from open_clip.zero_shot_classifier import build_zero_shot_classifier
from PIL import Image
from safetensors.torch import save as safetensors_bytes

from config.clip import ClipPretrainConfig
from utils.errors import ConfigError, ZooRankError
from utils.hashing import stable_hash
from utils.io import atomic_open, write_json
from utils.log import get_logger
from utils.sampling import class_balanced_indices
from zoo import clip_data

logger = get_logger(__name__)

FORMAT_VERSION = 1  # bump when training changes in a way the cache key does not see
CHECKPOINT_FILE = "open_clip_model.safetensors"
INFO_FILE = "clip_info.json"
OPEN_CLIP_CONFIG_FILE = "open_clip_config.json"

# Zero-shot prompts. Generic ones for any dataset; for the synthetic families, prompts phrased like
# the captions of that kind of picture (as CLIP's authors wrote per-dataset prompts). Only class
# names are filled in: no image of the evaluated dataset is used.
GENERIC_TEMPLATES = ("a photo of a {}.", "a {}.", "the {}.", "{}")


def _glyph(c: str) -> str:
    return f"digit {c}" if c.isdigit() else f"letter {c}" if c.isalpha() and len(c) == 1 else c


FAMILY_TEMPLATES: dict[str, tuple[str, ...] | tuple[Callable[[str], str], ...]] = {
    "glyphs": (lambda c: f"the {_glyph(c)}", lambda c: f"a {_glyph(c)}", lambda c: f"the {_glyph(c)} on a background",
               lambda c: f"the {_glyph(c)} written in a colour"),
    "shapes": ("a {}", "a small {}", "a large {}", "a {} on a background"),
    "textures": ("{}", "a disc of {}", "{} on a background", "{} in two colours"),
    "colors": ("a {} blob", "a {} patch on a gray background", "a splash of {}", "a large {} shape"),
    "counting": ("{} objects", "{} dots", "{} shapes", "{}"),
    "sklearn_digits": ("a handwritten digit {}", "the number {}, handwritten", "a scanned handwritten {}",
                       "the digit {}"),
}


# ----------------------------------------------------------------------------------------- config
def effective_seed(cfg: ClipPretrainConfig, seed: int) -> int:
    return int(cfg.seed) + int(seed)


def cache_key(source_dirs: Sequence[Path], cfg: ClipPretrainConfig, seed: int) -> str:
    """16 hex digits over the config, the seed and the identity of every source dataset."""
    payload = {
        "format": FORMAT_VERSION,
        "config": dataclasses.asdict(cfg),
        "seed": effective_seed(cfg, seed),
        "data": [clip_data.dataset_identity(d) for d in source_dirs],
    }
    return stable_hash(payload)


def read_info(out_dir: str | os.PathLike) -> dict[str, Any]:
    """`clip_info.json` of a CLIP folder, or {} when missing or unreadable."""
    try:
        info = json.loads((Path(out_dir) / INFO_FILE).read_text(encoding="utf-8"))
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def is_complete(out_dir: str | os.PathLike, key: str | None = None) -> bool:
    """True when `out_dir` holds a finished CLIP (of cache key `key`, when given)."""
    out_dir = Path(out_dir)
    info = read_info(out_dir)
    name = info.get("model_name")
    return (bool(name) and (key is None or info.get("cache_key") == key)
            and (out_dir / CHECKPOINT_FILE).is_file() and (out_dir / f"{name}.json").is_file())


def _check_name(cfg: ClipPretrainConfig) -> None:
    builtin = Path(open_clip.__file__).parent / "model_configs" / f"{cfg.model_name}.json"
    if builtin.is_file():
        raise ConfigError(f"[clip_pretrain] model_name '{cfg.model_name}' is one of open_clip's own architectures; "
                          "choose another name")


_OPEN_CLIP_DIR = str(Path(open_clip.__file__).parent)


@contextlib.contextmanager
def quiet_open_clip() -> Iterator[None]:
    """Drop open_clip's INFO chatter (it logs on the root logger) and its 'initialized randomly' warning
    (expected for a model about to be trained) while building or loading a model."""

    def keep(record: logging.LogRecord) -> bool:
        if not record.pathname.startswith(_OPEN_CLIP_DIR):
            return True
        return record.levelno >= logging.WARNING and "Model initialized randomly" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """torch's CPU threads set to `n` (0: unchanged) inside the block."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------------------------------- build
def build_clip(source_dataset_dirs: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
               cfg: ClipPretrainConfig | None = None, seed: int = 0) -> Path:
    """Train the small CLIP on the sources' (image, caption) pairs into `out_dir`; return the checkpoint.

    `source_dataset_dirs`: save_to_disk folders with image/label/caption columns (train split used
    for training, validation split for the zero-shot check). Their order does not matter. The seed
    used is `cfg.seed + seed`. When `out_dir` already holds a CLIP of the same config, seed and
    data (cache key in clip_info.json), nothing is trained and its checkpoint path is returned.
    """
    cfg = ClipPretrainConfig() if cfg is None else cfg
    if not isinstance(cfg, ClipPretrainConfig):
        raise TypeError(f"build_clip: cfg must be a ClipPretrainConfig or None, got {type(cfg).__name__}")
    if isinstance(source_dataset_dirs, (str, os.PathLike)) or not all(
            isinstance(d, (str, os.PathLike)) for d in source_dataset_dirs):
        raise TypeError("build_clip: source_dataset_dirs must be a list of dataset folders (str or Path), e.g. "
                        "[datasets_dir / spec.name for spec in source_specs]")
    cfg.check()
    _check_name(cfg)
    dirs = sorted({Path(d).expanduser().resolve() for d in source_dataset_dirs}, key=lambda p: (p.name, str(p)))
    if not dirs:
        raise ZooRankError("build_clip: no source dataset folders given")
    out_dir = Path(out_dir)
    key = cache_key(dirs, cfg, seed)
    if is_complete(out_dir, key):
        logger.info("CLIP in %s is up to date (key %s); not retraining", out_dir, key)
        return out_dir / CHECKPOINT_FILE
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ZooRankError(f"cannot create CLIP folder {out_dir}: {err.strerror or err}") from None
    (out_dir / INFO_FILE).unlink(missing_ok=True)  # the folder is incomplete until the new info is written

    start = time.perf_counter()
    run_seed = effective_seed(cfg, seed)
    config_path = out_dir / f"{cfg.model_name}.json"
    write_json(config_path, cfg.model_config())
    open_clip.add_model_config(config_path)
    aug = {"scale": (cfg.crop_scale_min, 1.0), "gray_scale_prob": cfg.gray_scale_prob}
    sources = clip_data.open_sources(dirs)
    epochs = num_epochs(cfg, clip_data.pairs_per_epoch(sources, cfg.max_per_class))
    plans = clip_data.epoch_batches(sources, epochs, cfg.max_per_class, cfg.batch_size, run_seed,
                                    per_dataset=cfg.batch_mode == "per_dataset")
    # every random draw (initial weights, augmentations) from one seeded stream, the caller's left alone
    with torch.random.fork_rng(devices=[]), _threads(cfg.num_threads):
        torch.manual_seed(run_seed)
        with quiet_open_clip(), warnings.catch_warnings():
            # open_clip 3.x uses gray_scale_prob but still warns that it is unused
            warnings.filterwarnings("ignore", message="Unused augmentation cfg items")
            model, train_transform, preprocess = open_clip.create_model_and_transforms(cfg.model_name, aug_cfg=aug)
            tokenizer = open_clip.get_tokenizer(cfg.model_name)
        used = np.unique(np.concatenate([b for batches in plans for b in batches]))
        images, tokens = clip_data.load_pairs(sources, used, tokenizer)
        logger.info("CLIP %s: %d pairs from %d source datasets (%d distinct used), %.1f s to read",
                    cfg.model_name, sum(len(s.labels) for s in sources), len(sources), len(used),
                    time.perf_counter() - start)
        positions = [[np.searchsorted(used, b) for b in batches] for batches in plans]
        history = train_clip(model, images, tokens, positions, cfg, train_transform)
    probe_images = torch.stack([preprocess(im) for im in images[:8]])
    probe_tokens = tokens[:8].clone()
    del images, tokens
    train_s = time.perf_counter() - start

    model.eval()
    zero_shot = source_zero_shot(model, preprocess, tokenizer, dirs, cfg.eval_per_class, run_seed)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_open(out_dir / CHECKPOINT_FILE, "wb") as fh:
        fh.write(safetensors_bytes(state, metadata={"format": "pt", "model_name": cfg.model_name}))
    write_json(out_dir / OPEN_CLIP_CONFIG_FILE,
               {"model_cfg": cfg.model_config(), "preprocess_cfg": dict(model.visual.preprocess_cfg)})
    _check_round_trip(model, out_dir, probe_images, probe_tokens)
    info = {
        "format": "zoorank-clip", "format_version": FORMAT_VERSION, "cache_key": key,
        "model_name": cfg.model_name, "checkpoint": CHECKPOINT_FILE, "model_config": config_path.name,
        "open_clip_version": open_clip.__version__, "torch_version": torch.__version__,
        "num_threads": cfg.num_threads or torch.get_num_threads(), "seed": run_seed,
        "config": dataclasses.asdict(cfg),
        "parameters": sum(p.numel() for p in model.parameters()),
        "data": [{**clip_data.dataset_identity(d), "path": str(d), "train_pairs": len(s.labels),
                  "num_classes": len(s.class_names)} for d, s in zip(dirs, sources)],
        "pairs_seen": int(sum(len(b) for batches in plans for b in batches)), "epochs": epochs,
        "steps": history["steps"],
        "final_loss": history["epoch_loss"][-1], "epoch_loss": history["epoch_loss"],
        "train_seconds": round(train_s, 2), "zero_shot": zero_shot,
        "zero_shot_accuracy": zero_shot.get("mean_accuracy"),
    }
    write_json(out_dir / INFO_FILE, info)  # last: marks the folder complete
    logger.info("CLIP %s trained in %.1f s: final loss %.3f, zero-shot accuracy on source validation %s "
                "(chance %s); saved to %s", cfg.model_name, train_s, info["final_loss"],
                _fmt(zero_shot.get("mean_accuracy")), _fmt(zero_shot.get("mean_chance")), out_dir)
    return out_dir / CHECKPOINT_FILE


@torch.no_grad()
def _check_round_trip(model: torch.nn.Module, out_dir: Path, images: torch.Tensor, tokens: torch.Tensor) -> None:
    """Reload the saved CLIP the way users do and check it computes the trained model's features."""
    loaded, _, _ = load_clip(out_dir)
    for encode in ("encode_image", "encode_text"):
        x = images if encode == "encode_image" else tokens
        if not torch.allclose(getattr(model, encode)(x), getattr(loaded, encode)(x), rtol=1e-5, atol=1e-6):
            raise ZooRankError(f"the CLIP saved in {out_dir} does not reproduce the trained model ({encode}); "
                               "check the disk and open_clip version")


def num_epochs(cfg: ClipPretrainConfig, pairs: int) -> int:
    """`cfg.epochs`, or more when that many epochs of `pairs` make fewer than `cfg.min_steps` steps."""
    return max(cfg.epochs, math.ceil(cfg.min_steps / max(1, math.ceil(pairs / cfg.batch_size))))


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """open_clip's rule: no weight decay on gains, biases and the logit scale."""
    def exclude(n: str, p: torch.Tensor) -> bool:
        return p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return [{"params": [p for n, p in named if exclude(n, p)], "weight_decay": 0.0},
            {"params": [p for n, p in named if not exclude(n, p)], "weight_decay": weight_decay}]


def train_clip(model: torch.nn.Module, images: Sequence[Image.Image], tokens: torch.Tensor,
               batches: list[list[np.ndarray]], cfg: ClipPretrainConfig,
               transform: Callable[[Image.Image], torch.Tensor]) -> dict[str, Any]:
    """Contrastive training with ClipLoss; `batches[epoch]` lists the rows of `images`/`tokens` of each step.

    Images go through `transform` (open_clip's training transform: random resized crop, optional
    grayscale) as each batch is drawn. AdamW, linear warmup then cosine decay to 0, gradient
    clipping, logit scale clamped to 100 as in open_clip's training. Returns {"steps", "epoch_loss", "step_loss"}.
    """
    total = max(1, sum(len(b) for b in batches))
    warmup = min(cfg.warmup_steps, total // 2)

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    loss_fn = open_clip.loss.ClipLoss()
    model.train()
    step, epoch_loss, step_loss = 0, [], []
    start = time.perf_counter()
    for epoch, epoch_batches in enumerate(batches):
        losses = []
        for idx in epoch_batches:
            x = torch.stack([transform(images[i]) for i in idx])
            image_features = model.encode_image(x, normalize=True)
            text_features = model.encode_text(tokens[torch.from_numpy(np.asarray(idx, dtype=np.int64))],
                                              normalize=True)
            loss = loss_fn(image_features, text_features, model.logit_scale.exp())
            if not torch.isfinite(loss):
                raise ZooRankError(f"CLIP training diverged (loss {loss.item()} at step {step}); "
                                   "lower [clip_pretrain] lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip_norm)
            optimizer.step()
            schedule.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            losses.append(loss.item())
            step += 1
        step_loss += losses
        epoch_loss.append(float(np.mean(losses)) if losses else float("nan"))
        elapsed = time.perf_counter() - start
        logger.info("CLIP epoch %d/%d: loss %.4f, %d steps, logit scale %.1f, %.1f s (%.0f pairs/s)",
                    epoch + 1, len(batches), epoch_loss[-1], len(losses), model.logit_scale.exp().item(), elapsed,
                    sum(len(i) for b in batches[:epoch + 1] for i in b) / max(elapsed, 1e-9))
    model.eval()
    return {"steps": step, "epoch_loss": [round(x, 5) for x in epoch_loss], "step_loss": step_loss}


# -------------------------------------------------------------------------------------------- load
def _find_checkpoint(folder: Path) -> Path:
    if (folder / CHECKPOINT_FILE).is_file():
        return folder / CHECKPOINT_FILE
    found = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.pt")) + sorted(folder.glob("*.pth"))
    if len(found) != 1:
        what = "no checkpoint" if not found else f"{len(found)} checkpoints"
        raise ZooRankError(f"CLIP folder {folder} has {what} ({CHECKPOINT_FILE} expected); "
                           "build it with zoo.clip.build_clip or pass the checkpoint file")
    return found[0]


def _model_config_file(folder: Path, model_name: str | None) -> Path:
    name = model_name or read_info(folder).get("model_name")
    if name:
        path = folder / f"{name}.json"
        if not path.is_file():
            raise ZooRankError(f"model config {path} is missing; it is written next to the checkpoint by build_clip")
        return path
    candidates = []
    for path in sorted(folder.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            cfg = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(cfg, dict) and all(k in cfg for k in ("embed_dim", "vision_cfg", "text_cfg")):
                candidates.append(path)
    if len(candidates) != 1:
        raise ZooRankError(f"cannot tell the model config in {folder} ({len(candidates)} candidates); "
                           "pass model_name")
    return candidates[0]


def load_clip(out_dir_or_checkpoint: str | os.PathLike, model_name: str | None = None, device: str = "cpu"
              ) -> tuple[torch.nn.Module, Callable, Callable]:
    """(model in eval mode, preprocess, tokenizer) of a CLIP folder or checkpoint file.

    Registers the folder's `<model_name>.json` with `open_clip.add_model_config`, then calls
    `open_clip.create_model_and_transforms(model_name, pretrained=<checkpoint>)` exactly as for real
    CLIP weights (safetensors, or torch files read with weights_only=True).
    """
    path = Path(out_dir_or_checkpoint).expanduser()
    if path.is_dir():
        folder, checkpoint = path, _find_checkpoint(path)
    elif path.is_file():
        folder, checkpoint = path.parent, path
    else:
        raise ZooRankError(f"CLIP checkpoint {path} does not exist; build it first (zoo.clip.build_clip)")
    config_file = _model_config_file(folder, model_name)
    name = config_file.stem
    open_clip.add_model_config(config_file)
    try:
        with quiet_open_clip():
            model, _, preprocess = open_clip.create_model_and_transforms(
                name, pretrained=str(checkpoint), device=device, weights_only=True)
            tokenizer = open_clip.get_tokenizer(name)
    except Exception as err:  # a user's file: corrupt safetensors, a bad pickle, mismatched shapes...
        raise ZooRankError(f"cannot load CLIP '{name}' from {checkpoint} ({type(err).__name__}: "
                           f"{(str(err).splitlines() or [''])[0][:200]})") from None
    model.eval()
    return model, preprocess, tokenizer


# ---------------------------------------------------------------------------------------- features
@torch.no_grad()
def encode_images(model: torch.nn.Module, batches: Iterator[torch.Tensor] | Sequence[torch.Tensor],
                  device: str = "cpu") -> np.ndarray:
    """L2-normalised image features [N, D] (float32) of preprocessed image batches."""
    model.eval()
    out = [model.encode_image(x.to(device), normalize=True).float().cpu() for x in batches]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def zero_shot_templates(family: str | None = None) -> tuple:
    """Prompt templates (format strings with '{}', or functions of the class name) for a synthetic
    family, or the generic ones."""
    return FAMILY_TEMPLATES.get(family or "", GENERIC_TEMPLATES)


@torch.no_grad()
def zero_shot_weights(model: torch.nn.Module, tokenizer: Callable, class_names: Sequence[str],
                      templates: Sequence[str | Callable[[str], str]], device: str = "cpu") -> torch.Tensor:
    """[D, K] class embeddings: the normalised mean of each class's prompt embeddings (open_clip's)."""
    model.eval()
    return build_zero_shot_classifier(model, tokenizer, list(class_names), tuple(templates),
                                      num_classes_per_batch=50, device=device)


def zero_shot_predict(features: np.ndarray, weights: torch.Tensor) -> np.ndarray:
    """Predicted class per row of normalised `features` [N, D] against `weights` [D, K]."""
    return (torch.from_numpy(np.asarray(features, np.float32)) @ weights.float().cpu()).argmax(1).numpy()


def source_zero_shot(model: torch.nn.Module, preprocess: Callable, tokenizer: Callable, dirs: Sequence[Path],
                     per_class: int, seed: int) -> dict[str, Any]:
    """Zero-shot accuracy on up to `per_class` validation images per class of each source (held-out images)."""
    if per_class <= 0:
        return {}
    per_dataset = {}
    for folder in dirs:
        try:
            val = clip_data.open_split(folder, "validation", ("image", "label"))
        except ZooRankError as err:
            logger.warning("no zero-shot check on %s: %s", folder.name, err)
            continue
        labels = np.asarray(val.data.column("label").to_pylist(), dtype=np.int64)
        rows = class_balanced_indices(labels, per_class, seed)
        subset = val.select(rows.tolist())
        x = torch.stack([preprocess(im.convert("RGB")) for im in subset["image"]])
        feats = encode_images(model, torch.split(x, 256))
        names = clip_data.class_names(val)
        family = clip_data.read_meta(folder).get("family")
        pred = zero_shot_predict(feats, zero_shot_weights(model, tokenizer, names, zero_shot_templates(family)))
        per_dataset[folder.name] = {"accuracy": round(float((pred == labels[rows]).mean()), 4),
                                    "chance": round(1.0 / len(names), 4), "num_images": len(rows)}
    if not per_dataset:
        return {}
    return {"split": "validation", "per_dataset": per_dataset,
            "mean_accuracy": round(float(np.mean([d["accuracy"] for d in per_dataset.values()])), 4),
            "mean_chance": round(float(np.mean([d["chance"] for d in per_dataset.values()])), 4)}
