"""`state_dict`: a local checkpoint file (.safetensors, .pt/.pth/.bin/.ckpt) or a folder of them.

.safetensors are streamed tensor by tensor (sharded folders through model.safetensors.index.json).
Torch files are read with torch.load(weights_only=True, mmap=True): pickled code is never run, and a
checkpoint that needs it is an error. Nested dicts are flattened to dotted names; the weights are
looked up under [extractor] state_dict_key (or the entry's "state_dict_key"), else under the first of
state_dict / model_state_dict / model / module / ema...; a leading "module." is dropped.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch

from extractors import EXTRACTOR_REGISTRY
from extractors.base import ExtractionError, Extractor, ModelSpec
from extractors.sources import local_path, stream_files, weight_files

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")


@EXTRACTOR_REGISTRY.register(name="state_dict")
class StateDictExtractor(Extractor):
    """A local .safetensors / .pt file, or a folder of (sharded) weight files."""

    name = "state_dict"

    def fingerprint(self) -> dict:
        return {**super().fingerprint(), "state_dict_key": self.config.state_dict_key}

    def tensors(self, spec: ModelSpec) -> Iterator[tuple[str, torch.Tensor]]:
        path = local_path(spec.source)
        if path is None:
            raise ExtractionError(f"model '{spec.id}': checkpoint '{spec.source}' not found")
        if path.is_dir():
            found = weight_files(path)
            if found is None:
                raise ExtractionError(f"model '{spec.id}': no .safetensors or pytorch_model.bin in {path}")
        elif path.suffix == ".safetensors":
            found = ("safetensors", [path])
        elif path.suffix in TORCH_SUFFIXES:
            found = ("torch", [path])
        else:
            raise ExtractionError(
                f"model '{spec.id}': {path.name}: unknown checkpoint type (use .safetensors or {', '.join(TORCH_SUFFIXES)})"
            )
        key = spec.options.get("state_dict_key", self.config.state_dict_key)
        yield from stream_files(found, spec.id, lambda name: True, self.config.include_buffers, key)
