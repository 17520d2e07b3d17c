"""`hf`: any transformers checkpoint, from a hub id or a local folder.

With `read_files_directly` (default) the weight files are streamed without building the model: a local
folder's `model.safetensors`, sharded `model.safetensors.index.json`, or `pytorch_model.bin` (through
torch.load(weights_only=True)); for a hub id, the `*.safetensors` of a snapshot (offline: the cache).
Otherwise, or when there are no such files, the model is instantiated with the class named in its
config (`architectures`), then AutoModelForImageClassification, then AutoModel ([extractor]
auto_class narrows this); weights the checkpoint did not provide (a fresh head) are left out.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import torch

from extractors import EXTRACTOR_REGISTRY
from extractors.base import ExtractionError, Extractor, ModelSpec, dedupe
from extractors.sources import hub_snapshot, is_hub_id, local_path, stream_files, weight_files
from utils import log

logger = log.get_logger("extractors.hf")
AUTO_CLASSES = {
    "auto": ("AutoModelForImageClassification", "AutoModel"),
    "image_classification": ("AutoModelForImageClassification",),
    "object_detection": ("AutoModelForObjectDetection",),
    "model": ("AutoModel",),
}


@EXTRACTOR_REGISTRY.register(name="hf")
class HFExtractor(Extractor):
    """A transformers checkpoint (hub id or local folder); files streamed directly when possible."""

    name = "hf"
    auto_classes: tuple[str, ...] | None = None  # subclasses fix the Auto classes; None: [extractor] auto_class

    def wanted(self, name: str) -> bool:
        """Subclasses keep part of a checkpoint (e.g. the vision tower)."""
        return True

    def fingerprint(self) -> dict:
        return {**super().fingerprint(), "read_files_directly": self.config.read_files_directly,
                "auto_class": self.config.auto_class}

    def tensors(self, spec: ModelSpec) -> Iterator[tuple[str, torch.Tensor]]:
        cfg = self.config
        revision = spec.options.get("revision", cfg.revision)
        path = local_path(spec.source)
        if path is None and not is_hub_id(spec.source):
            raise ExtractionError(f"model '{spec.id}': '{spec.source}' is neither an existing path nor a hub id")
        if cfg.read_files_directly:
            if path is None:
                try:
                    path = hub_snapshot(spec.source, revision, ["*.json", "*.safetensors", "*.safetensors.index.json"])
                except Exception as err:
                    raise self.fail(spec, err) from None
            found = self.weight_files(path)
            if found is not None:
                yield from stream_files(found, spec.id, self.wanted, cfg.include_buffers, cfg.state_dict_key)
                return
            source = str(path) if local_path(spec.source) else spec.source
        else:
            source = str(path) if path is not None else spec.source
        model, missing = self.instantiate(spec, source, revision)
        if missing:
            logger.warning("model '%s': leaving out %d tensors the checkpoint does not provide (e.g. %s)",
                           spec.id, len(missing), sorted(missing)[0])
        named = ((n, t) for n, t in model.state_dict().items() if n not in missing and self.wanted(n))
        yield from dedupe(spec.id, named, cfg.include_buffers)

    @staticmethod
    def weight_files(path: Path) -> tuple[str, list[Path]] | None:
        if path.is_file():
            return ("safetensors" if path.suffix == ".safetensors" else "torch"), [path]
        return weight_files(path)

    def instantiate(self, spec: ModelSpec, source: str, revision: str | None):
        """(model, names of weights that were initialized rather than loaded)."""
        import transformers

        names = list(self.auto_classes or AUTO_CLASSES[self.config.auto_class])
        config_file = Path(source) / "config.json"
        if config_file.is_file():  # the class the checkpoint was saved from, when transformers has it
            archs = json.loads(config_file.read_text()).get("architectures") or []
            names = [a for a in archs[:1] if hasattr(transformers, a)] + names
        errors = []
        for cls_name in names:
            try:
                model, info = getattr(transformers, cls_name).from_pretrained(
                    source, revision=revision, trust_remote_code=self.config.trust_remote_code,
                    output_loading_info=True,
                )
                return model.eval(), set(info.get("missing_keys", ()))
            except ValueError as err:  # "Unrecognized configuration class": try the next class
                errors.append(err)
            except Exception as err:
                raise self.fail(spec, err) from None
        raise self.fail(spec, errors[-1] if errors else "no model class to try")
