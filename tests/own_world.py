"""A world the embedded generator did not make, built with the real libraries as a user would (test helper).

Images are drawn here (colour, stripe and square-position tasks, 32 px); models of four transformers
architecture families and one timm network are created from configs, trained for a few steps each on
their own data and saved (save_pretrained; the timm one as a bare safetensors state dict); datasets are
written with `datasets`' save_to_disk, one as an ImageFolder tree; the CLIP is open_clip's CLIP class
from a model config JSON. `build_world(root)` writes all of it and returns the world file.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

SIDE = 32
CLASSES = 4
TRAIN, TEST = 10, 6  # images per class
COLOURS = np.array([[220, 40, 40], [40, 200, 60], [50, 70, 220], [230, 210, 40]], dtype=np.float32)


def draw(task: str, variant: int, label: int, rng: np.random.Generator) -> np.ndarray:
    """One 32x32 RGB uint8 image of class `label` of a task; `variant` changes its look, not its classes."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    img = rng.normal(110, 25 + 15 * variant, (SIDE, SIDE, 3)).astype(np.float32)
    if task == "colour":  # the class is the colour of a patch (all over, or in the middle)
        mask = np.ones((SIDE, SIDE), bool) if variant == 0 else (abs(yy - 16) < 9) & (abs(xx - 16) < 9)
        img[mask] = COLOURS[label] + rng.normal(0, 20, (int(mask.sum()), 3))
    elif task == "stripes":  # the class is the stripes' direction
        period = 4 + 4 * variant
        phase = [yy, xx, yy + xx, yy - xx][label] + rng.uniform(0, period)
        img += 90 * np.sign(np.sin(2 * np.pi * phase / period))[..., None]
    elif task == "square":  # the class is the quadrant of a bright square
        cy, cx = [(8, 8), (8, 24), (24, 8), (24, 24)][label] + rng.integers(-2, 3, 2)
        half = 4 + 2 * variant
        img[max(cy - half, 0):cy + half, max(cx - half, 0):cx + half] = 250 - 60 * variant
    elif task == "checker":  # the probe: the checkerboard's cell size
        cell = [2, 4, 8, 16][label]
        img += 80 * (((yy // cell) + (xx // cell)) % 2 * 2 - 1)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def sample(task: str, variant: int, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(CLASSES), per_class)
    return np.stack([draw(task, variant, int(y), rng) for y in labels]), labels


def pixels(images: np.ndarray) -> torch.Tensor:
    """As the saved image processors see them: [0, 1], then (x - 0.5) / 0.5."""
    return (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5


def train(model: torch.nn.Module, task: str, variant: int, seed: int, steps: int = 12, timm: bool = False) -> None:
    """A few AdamW steps on the model's own data (a task the targets also have, another look)."""
    torch.manual_seed(seed)
    x, y = sample(task, variant, 16, seed)
    x, y = pixels(x), torch.from_numpy(y)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed + step))[:32]
        logits = model(x[idx]) if timm else model(pixel_values=x[idx]).logits
        loss = torch.nn.functional.cross_entropy(logits, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def hf_models(root: Path) -> dict[str, Path]:
    """Four transformers families (ResNet, ViT, ConvNeXt, MobileNetV2), tiny, each trained on other data."""
    import transformers as tf

    processor = tf.ViTImageProcessor(do_resize=True, size={"height": SIDE, "width": SIDE},
                                     image_mean=[0.5] * 3, image_std=[0.5] * 3)
    configs = {
        "resnet-colour": (tf.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1]), "colour", 1),
        "vit-stripes": (tf.ViTConfig(image_size=SIDE, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64), "stripes", 1),
        "convnext-square": (tf.ConvNextConfig(num_stages=2, hidden_sizes=[16, 32], depths=[1, 1]), "square", 1),
        "mobilenet-colour": (tf.MobileNetV2Config(image_size=SIDE, depth_multiplier=0.25), "colour", 0),
        "resnet-stripes": (tf.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1]), "stripes", 0),
    }
    out = {}
    for i, (name, (config, task, variant)) in enumerate(configs.items()):
        config.num_labels = CLASSES
        torch.manual_seed(i)
        model = tf.AutoModelForImageClassification.from_config(config)
        train(model, task, variant, seed=i)
        out[name] = root / "models" / name
        model.save_pretrained(out[name])
        processor.save_pretrained(out[name])
    return out


def timm_model(root: Path) -> Path:
    """timm's test_resnet, trained on squares, saved as a bare safetensors state dict."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(7)
    model = timm.create_model("test_resnet", pretrained=False, num_classes=CLASSES)
    train(model, "square", 0, seed=7, timm=True)
    path = root / "models" / "timm-square.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def save_dataset(path: Path, task: str, variant: int, seed: int) -> Path:
    import datasets

    feats = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=[f"c{i}" for i in range(CLASSES)])})
    splits = {}
    for split, n, s in (("train", TRAIN, seed), ("test", TEST, seed + 1000)):
        x, y = sample(task, variant, n, s)
        splits[split] = datasets.Dataset.from_dict({"image": list(x), "label": y.tolist()}, features=feats)
    datasets.DatasetDict(splits).save_to_disk(str(path))
    return path


def image_folder(path: Path, task: str, variant: int, seed: int) -> Path:
    """An ImageFolder tree: <split>/<class>/<n>.png."""
    from PIL import Image

    for split, n, s in (("train", TRAIN, seed), ("test", TEST, seed + 1000)):
        x, y = sample(task, variant, n, s)
        for i, (img, label) in enumerate(zip(x, y)):
            folder = path / split / f"c{label}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i}.png")
    return path


def clip(root: Path) -> Path:
    """open_clip's CLIP from a model config JSON (untrained: any CLIP makes dataset tokens), as a folder."""
    import open_clip

    folder = root / "clip"
    folder.mkdir(parents=True, exist_ok=True)
    config = {"embed_dim": 32, "vision_cfg": {"image_size": SIDE, "layers": 1, "width": 32, "patch_size": 8,
                                              "head_width": 16},
              "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (folder / "own-clip.json").write_text(json.dumps(config))
    open_clip.add_model_config(folder / "own-clip.json")
    torch.manual_seed(0)
    model = open_clip.create_model("own-clip")
    torch.save(model.state_dict(), folder / "own-clip.pt")
    return folder


TARGETS = {  # name: (task = family, variant, seed)
    "colour-flat": ("colour", 0, 1), "colour-centre": ("colour", 1, 2),
    "stripes-fine": ("stripes", 0, 3), "stripes-wide": ("stripes", 1, 4),
    "square-bright": ("square", 0, 5), "square-dim": ("square", 1, 6),
}
FOLDER_TARGET = "square-dim"  # written as an ImageFolder tree


def build_world(root: Path, settings: str = "") -> Path:
    """Models, datasets and CLIP below `root`, and root/my_world.ini naming them (relative paths)."""
    root.mkdir(parents=True, exist_ok=True)
    models = hf_models(root)
    weights = timm_model(root)
    for name, (task, variant, seed) in TARGETS.items():
        write = image_folder if name == FOLDER_TARGET else save_dataset
        write(root / "data" / name, task, variant, seed)
    save_dataset(root / "data" / "checker", "checker", 0, 8)
    save_dataset(root / "data" / "new-stripes", "stripes", 2, 9)  # for recommend.py: in no world file
    clip(root)
    lines = ["[world]", "name = mine", "clip_model = own-clip", "clip_pretrained = ./clip", "token_per_class = 6", ""]
    for name, path in models.items():
        lines += [f"[model {name}]", f"source = ./models/{path.name}", ""]
    lines += ["[model timm-square]", f"source = ./models/{weights.name}", "extractor = state_dict",
              "arch = test_resnet", f"image_size = {SIDE}", ""]
    for name, (task, _, _) in TARGETS.items():
        lines += [f"[dataset {name}]", f"source = ./data/{name}", f"family = {task}", ""]
    lines += ["[dataset checker]", "source = ./data/checker", "role = probe", ""]
    lines += ["[settings]", settings]
    path = root / "my_world.ini"
    path.write_text("\n".join(lines) + "\n")
    return path
