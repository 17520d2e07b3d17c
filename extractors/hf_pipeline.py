"""`hf_pipeline`: the model inside a transformers pipeline (`pipeline(task, model=source).model`).

The task comes from the model entry's "task" or [extractor] task. The pipeline (model plus
preprocessor) is built once per model, so this reads the checkpoint through transformers itself.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch

from extractors import EXTRACTOR_REGISTRY
from extractors.base import ExtractionError, Extractor, ModelSpec, dedupe
from extractors.sources import is_hub_id, local_path


@EXTRACTOR_REGISTRY.register(name="hf_pipeline")
class HFPipelineExtractor(Extractor):
    """The model of a transformers pipeline (task from the entry or [extractor] task)."""

    name = "hf_pipeline"

    def fingerprint(self) -> dict:
        return {**super().fingerprint(), "task": self.config.task}

    def tensors(self, spec: ModelSpec) -> Iterator[tuple[str, torch.Tensor]]:
        path = local_path(spec.source)
        if path is None and not is_hub_id(spec.source):
            raise ExtractionError(f"model '{spec.id}': '{spec.source}' is neither an existing path nor a hub id")
        try:
            from transformers import pipeline

            pipe = pipeline(
                task=spec.options.get("task", self.config.task),
                model=str(path) if path is not None else spec.source,
                revision=spec.options.get("revision", self.config.revision),
                trust_remote_code=self.config.trust_remote_code,
                device="cpu",
            )
        except Exception as err:
            raise self.fail(spec, err) from None
        model = pipe.model
        del pipe
        yield from dedupe(spec.id, model.state_dict().items(), self.config.include_buffers)
