"""`DatasetSpec`: what one synthetic dataset is, validated and normalised on construction."""
from __future__ import annotations

import dataclasses
import re
import zlib
from dataclasses import dataclass
from typing import Any

from dataloader.synthetic.core import FAMILY_REGISTRY, VARIANT_REGISTRY, Family
from utils.errors import ZooRankError
from utils.hashing import stable_hash

# Bump when a change to the generators alters pixels or captions: cached datasets are then rebuilt.
GENERATOR_VERSION = 1
ROLES = ("source", "target", "probe")  # probe: the probe collection only (never pretrained on, never ranked on)
SPLITS = ("train", "validation", "test")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: a family, a class subset, variants, split sizes, image size, seed and role.

    Give either `classes` (names from the family, in the order wanted) or `num_classes` (the
    family's first n classes). After construction both are filled in, `classes` is a tuple and
    `variants` are deduplicated in their fixed application order, so equal datasets compare equal.
    Invalid specs raise `ZooRankError` with one line.
    """

    name: str
    family: str
    num_classes: int | None = None
    classes: tuple[str, ...] | None = None
    variants: tuple[str, ...] = ()
    train_per_class: int = 100
    val_per_class: int = 20
    test_per_class: int = 50
    image_size: int = 32
    seed: int = 0
    role: str = "target"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ZooRankError(
                f"dataset name {self.name!r} is not valid; use letters, digits, '_', '-' or '.' (max 100)"
            )
        fam = self.family_obj  # raises RegistryError (a ZooRankError) for an unknown family
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen dataclass)
        set_("family", fam.name)
        set_("variants", self._normalise_variants(fam))
        set_("classes", self._resolve_classes(fam))
        set_("num_classes", len(self.classes))
        for key in ("train_per_class", "val_per_class", "test_per_class", "image_size", "seed"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ZooRankError(f"dataset '{self.name}': {key} must be an integer, got {value!r}")
        for key in ("train_per_class", "val_per_class", "test_per_class"):
            if getattr(self, key) < 1:
                raise ZooRankError(f"dataset '{self.name}': {key} must be at least 1, got {getattr(self, key)}")
        if fam.max_per_class is not None and self.per_class_total > fam.max_per_class:
            raise ZooRankError(
                f"dataset '{self.name}': family '{fam.name}' has only {fam.max_per_class} images per class, "
                f"but train+val+test per class is {self.per_class_total}"
            )
        if not 8 <= self.image_size <= 512:
            raise ZooRankError(f"dataset '{self.name}': image_size must be in 8..512, got {self.image_size}")
        if self.seed < 0:
            raise ZooRankError(f"dataset '{self.name}': seed must be >= 0, got {self.seed}")
        if self.role not in ROLES:
            raise ZooRankError(f"dataset '{self.name}': role must be one of {', '.join(ROLES)}, got {self.role!r}")

    @property
    def family_obj(self) -> Family:
        return FAMILY_REGISTRY.get(self.family)

    @property
    def per_class_total(self) -> int:
        return self.train_per_class + self.val_per_class + self.test_per_class

    def split_sizes(self) -> dict[str, int]:
        per = (self.train_per_class, self.val_per_class, self.test_per_class)
        return {split: n * self.num_classes for split, n in zip(SPLITS, per)}

    def _normalise_variants(self, fam: Family) -> tuple[str, ...]:
        if isinstance(self.variants, str):
            raise ZooRankError(f"dataset '{self.name}': variants must be a list of names, not a string")
        found = {}
        for v in self.variants:
            var = VARIANT_REGISTRY.get(v)  # RegistryError for unknown names
            if fam.name in var.incompatible:
                raise ZooRankError(
                    f"dataset '{self.name}': variant '{var.name}' cannot be used with family '{fam.name}' "
                    "(it would change what the class means)"
                )
            found[var.name] = var
        return tuple(v.name for v in sorted(found.values(), key=lambda v: v.order))

    def _resolve_classes(self, fam: Family) -> tuple[str, ...]:
        n = self.num_classes
        if n is not None and (not isinstance(n, int) or isinstance(n, bool)):
            raise ZooRankError(f"dataset '{self.name}': num_classes must be an integer, got {n!r}")
        if self.classes is None:
            if n is None:
                n = len(fam.classes)
            if n > len(fam.classes):
                raise ZooRankError(
                    f"dataset '{self.name}': num_classes={n} but family '{fam.name}' has only "
                    f"{len(fam.classes)} classes"
                )
            classes = fam.classes[: max(n, 0)]
        else:
            if isinstance(self.classes, str):
                raise ZooRankError(f"dataset '{self.name}': classes must be a list of names, not a string")
            classes = tuple(str(c) for c in self.classes)
            unknown = [c for c in classes if c not in fam.classes]
            if unknown:
                raise ZooRankError(
                    f"dataset '{self.name}': unknown class(es) {unknown} for family '{fam.name}'; "
                    f"known: {', '.join(fam.classes)}"
                )
            if len(set(classes)) != len(classes):
                raise ZooRankError(f"dataset '{self.name}': classes contain duplicates: {list(classes)}")
            if n is not None and n != len(classes):
                raise ZooRankError(
                    f"dataset '{self.name}': num_classes={n} disagrees with the {len(classes)} classes given"
                )
        if len(classes) < 2:
            raise ZooRankError(
                f"dataset '{self.name}': needs at least 2 classes, got {len(classes)} (a single class "
                "cannot be classified)"
            )
        return classes

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["classes"], d["variants"] = list(self.classes), list(self.variants)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetSpec:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ZooRankError(f"unknown dataset spec key(s) {unknown}; known: {', '.join(sorted(fields))}")
        d = dict(d)
        for key in ("classes", "variants"):
            if isinstance(d.get(key), list):
                d[key] = tuple(d[key])
        return cls(**d)

    def spec_hash(self) -> str:
        """16 hex digits identifying the data (spec + generator version); the cache key on disk."""
        return stable_hash({"generator_version": GENERATOR_VERSION, **self.to_dict()})

    def entropy(self) -> tuple[int, ...]:
        """Seed words of this dataset: the seed plus stable hashes of name and family."""
        return (self.seed, zlib.crc32(self.name.encode()), zlib.crc32(self.family.encode()), self.image_size)
