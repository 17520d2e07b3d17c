"""`clip`: the vision tower (`visual.*`) of an open_clip model.

A model is named by the entry's "arch" and "pretrained" keys, or by its source string:
`ARCH@PRETRAINED` (a pretrained tag or a weights file), `ARCH` (random init, with a warning),
`hf-hub:org/repo`, `local-dir:/folder` or a folder holding open_clip_config.json (an optional
`open_clip:` prefix is dropped). Weights that are a local .safetensors file with `visual.*` keys are
streamed directly; otherwise `open_clip.create_model(arch, pretrained=...)` builds the model
(torch files are read with weights_only=True).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from extractors import EXTRACTOR_REGISTRY
from extractors.base import Extractor, ModelSpec, dedupe
from extractors.sources import read_header, stream_safetensors
from utils import log

logger = log.get_logger("extractors.clip")
TOWER = "visual."


def open_clip_name(spec: ModelSpec) -> tuple[str, str | None]:
    """(model name for open_clip.create_model, pretrained tag or path or None)."""
    if "arch" in spec.options:
        return str(spec.options["arch"]), spec.options.get("pretrained")
    source = spec.source.removeprefix("open_clip:")
    if source.startswith(("hf-hub:", "local-dir:")):
        return source, None
    if (Path(source).expanduser() / "open_clip_config.json").is_file():
        return f"local-dir:{Path(source).expanduser()}", None
    arch, _, pretrained = source.partition("@")
    return arch, pretrained or None


def direct_file(arch: str, pretrained: str | None) -> Path | None:
    """A local .safetensors checkpoint with `visual.*` keys, readable without building the model."""
    if arch.startswith("local-dir:"):
        folder = Path(arch.removeprefix("local-dir:"))
        files = sorted(folder.glob("*.safetensors"))
        path = files[0] if len(files) == 1 else None
    else:
        path = Path(pretrained).expanduser() if pretrained else None
    if path is None or path.suffix != ".safetensors" or not path.is_file():
        return None
    return path if any(k.startswith(TOWER) for k in read_header(path)) else None


def open_clip_tensors(extractor: Extractor, spec: ModelSpec) -> Iterator[tuple[str, torch.Tensor]]:
    """The `visual.*` tensors of an open_clip model (shared by `clip` and `siglip`)."""
    cfg = extractor.config
    arch, pretrained = open_clip_name(spec)
    path = direct_file(arch, pretrained) if cfg.read_files_directly else None
    if path is not None:
        yield from stream_safetensors([path], spec.id, lambda n: n.startswith(TOWER), cfg.include_buffers)
        return
    if pretrained is None and not arch.startswith(("hf-hub:", "local-dir:")):
        logger.warning("model '%s': no pretrained weights given for open_clip '%s': random init", spec.id, arch)
    try:
        import open_clip

        model = open_clip.create_model(arch, pretrained=pretrained, weights_only=True)
    except Exception as err:
        raise extractor.fail(spec, err) from None
    visual = model.visual
    del model
    named = ((f"{TOWER}{n}", t) for n, t in visual.state_dict().items())
    yield from dedupe(spec.id, named, cfg.include_buffers)


@EXTRACTOR_REGISTRY.register(name="clip")
class ClipExtractor(Extractor):
    """Vision tower of an open_clip model (ARCH@PRETRAINED, hf-hub:..., local-dir:...)."""

    name = "clip"

    def tensors(self, spec: ModelSpec) -> Iterator[tuple[str, torch.Tensor]]:
        yield from open_clip_tensors(self, spec)
