"""Image -> tensor transforms shared by the dataset loaders and the feature extractors."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image

Transform = Callable[[Image.Image], torch.Tensor]


def to_tensor(image: Image.Image) -> torch.Tensor:
    """Default preprocessing: RGB float tensor [3, H, W] in [0, 1]."""
    arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def image_processor_transform(processor: Any) -> Transform:
    """A `transformers` image processor (AutoImageProcessor) as a per-image transform."""
    return lambda image: processor(images=image.convert("RGB"), return_tensors="pt")["pixel_values"][0]
