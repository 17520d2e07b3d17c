"""`ARCH_REGISTRY`: small `transformers` image-classifier configs, built from a width and a depth.

Each builder returns a `PretrainedConfig` that `AutoModelForImageClassification.from_config` turns
into a model, so a zoo model is an ordinary checkpoint (`save_pretrained`, `from_pretrained`, the
extraction pipeline's `hf` extractor). Widths and depths are small: 32x32 inputs, tens to hundreds of
thousands of parameters, trainable in seconds on a CPU core.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from utils.registry import Registry

ARCH_REGISTRY = Registry("architecture")
# Every zoo model gets this image processor: resize to the input size, scale to [-1, 1].
IMAGE_MEAN = IMAGE_STD = (0.5, 0.5, 0.5)
ConfigBuilder = Callable[[int, int, int], Any]  # (width, depth, image_size) -> PretrainedConfig


def build_config(arch: str, width: int, depth: int, image_size: int, class_names: list[str]) -> Any:
    """The config of architecture `arch` (RegistryError if unknown) with a head for `class_names`."""
    config = ARCH_REGISTRY.get(arch)(width, depth, image_size)
    config.num_labels = len(class_names)
    config.id2label = dict(enumerate(class_names))
    config.label2id = {name: i for i, name in enumerate(class_names)}
    return config


def build_processor(image_size: int) -> Any:
    """What `AutoImageProcessor.from_pretrained(model_dir)` returns for a zoo model."""
    from transformers import ViTImageProcessor

    return ViTImageProcessor(do_resize=True, size={"height": image_size, "width": image_size},
                             do_rescale=True, do_normalize=True, image_mean=list(IMAGE_MEAN),
                             image_std=list(IMAGE_STD))


# Three stages of widths (w, 2w, 4w): at 32x32 the stems downsample by 4, so stages see 8, 4, 2 px.
@ARCH_REGISTRY.register(name="resnet")
def resnet(width: int, depth: int, image_size: int) -> Any:
    from transformers import ResNetConfig

    return ResNetConfig(embedding_size=width, hidden_sizes=[width, 2 * width, 4 * width], depths=[depth] * 3,
                        layer_type="basic", downsample_in_first_stage=False)


@ARCH_REGISTRY.register(name="bit")
def bit(width: int, depth: int, image_size: int) -> Any:
    from transformers import BitConfig

    # BiT's ResNetV2: pre-activation bottlenecks, GroupNorm and weight standardization instead of BatchNorm
    return BitConfig(embedding_size=width, hidden_sizes=[width, 2 * width, 4 * width], depths=[depth] * 3,
                     layer_type="preactivation", num_groups=8, global_padding="SAME",
                     embedding_dynamic_padding=True)


@ARCH_REGISTRY.register(name="regnet")
def regnet(width: int, depth: int, image_size: int) -> Any:
    from transformers import RegNetConfig

    # group convolutions of 8 channels: widths must be multiples of 8
    return RegNetConfig(embedding_size=width, hidden_sizes=[width, 2 * width, 4 * width], depths=[depth] * 3,
                        groups_width=8, layer_type="y")


@ARCH_REGISTRY.register(name="convnext")
def convnext(width: int, depth: int, image_size: int) -> Any:
    from transformers import ConvNextConfig

    return ConvNextConfig(patch_size=4, num_stages=3, hidden_sizes=[width, 2 * width, 4 * width],
                          depths=[depth] * 3, image_size=image_size, drop_path_rate=0.0)


@ARCH_REGISTRY.register(name="vit")
def vit(width: int, depth: int, image_size: int) -> Any:
    from transformers import ViTConfig

    hidden = 2 * width  # 16-dim heads; patches of 4 px: 64 tokens at 32x32
    return ViTConfig(image_size=image_size, patch_size=4, hidden_size=hidden, num_hidden_layers=2 * depth,
                     num_attention_heads=max(1, hidden // 16), intermediate_size=2 * hidden)


@ARCH_REGISTRY.register(name="mobilenet_v2")
def mobilenet_v2(width: int, depth: int, image_size: int) -> Any:
    from transformers import MobileNetV2Config

    # MobileNetV2's depth is fixed; `width` is the stem's channel count (32 at depth_multiplier 1).
    # finegrained_output=False scales the 1280-channel last layer too, keeping the model small.
    return MobileNetV2Config(image_size=image_size, depth_multiplier=width / 32, finegrained_output=False,
                             classifier_dropout_prob=0.0)
