"""The benchmark's ranker variants: a registered ranking model plus the [transformer] / [ranking_data] settings
it is trained with on every fold (the ablation of issue 13: weights only / probe only / both, sampled tasks
on / off, strict novelty).

`[benchmark] rankers` names variants of VARIANT_REGISTRY; a plain RANKER_REGISTRY name is a variant of
itself, trained with the config's own settings. A variant's settings are written out in full (not "the
config's default"), so that its row means the same whatever [ranking_data]'s defaults become.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from config.ranking import NETWORK_TRAINING, WEIGHTS_ONLY
from model import RANKER_REGISTRY
from utils.errors import ConfigError
from utils.registry import Registry

VARIANT_REGISTRY = Registry("benchmark ranker variant")
BOTH = "ranking_data.model_token_parts=embedding,log_params,probe"
LABELLED = "ranking_data.model_token_parts=embedding,log_params,probe,labels"  # and the models' label vectors


@dataclass(frozen=True)
class Variant:
    name: str  # the method is "ranker:<name>", its fold runs are folds/<family>/.../runs/<name>
    ranker: str  # RANKER_REGISTRY name
    sets: tuple[str, ...] = ()  # --set overrides of [transformer] / [ranking_data]
    strict: bool = False  # leave out the probe datasets of the fold's test and validation families (strict novelty)
    label: str = ""  # what the ablation table calls it
    companion: str = ""  # the variant whose fold run is this one's far companion ([transformer] far_companion); "": none

    def overrides(self, strict_exclude: Sequence[str] = (), runs_dir: Path | None = None) -> list[str]:
        """The --set values of one fold; `strict_exclude`: the probe datasets of that fold's test and validation
        families (strict novelty is validated as it is tested); `runs_dir`: where the fold's runs go, its companion's
        among them (none: the companion is left unset)."""
        extra = [f"ranking_data.probe_exclude={','.join(strict_exclude)}"] if self.strict else []
        if not self.companion:
            extra.append("transformer.far_companion=")  # the config's default would train one inside the fold
        elif runs_dir is not None:
            extra.append(f"transformer.far_companion={runs_dir / self.companion}")
        return [*self.sets, *extra]


# The headline: the probe ranker with only its temperature, far-gate and statistic mix learned (a few numbers),
# trained with the family of the target's nearest probe hidden half the time, so that it learns how flat to make
# its probe weights when no probe resembles a dataset; approx_ndcg weighs the top of the list, as the metric does.
# Chosen on the folds' validation families (README: what was tried): with the learned networks over tokens and
# statistics (probe_weights) validation was no better and strict novelty worse.
PROBE_GATE = ("transformer.probe_corrections=false",
              "transformer.probe_dropout=0.5", "transformer.loss=approx_ndcg", "transformer.lr=0.03",
              "transformer.probe_match=tokens", "transformer.probe_temperature=0.001", "transformer.validate_initial=true")
HEADLINE = (LABELLED, *PROBE_GATE)
ALONE = (BOTH, *PROBE_GATE)  # far targets: the general-quality reading alone (no labels, no companion)
for _v in (
    Variant("ranking_transformer", "ranking_transformer", WEIGHTS_ONLY,
            label="weights only (cross-attention transformer)"),
    Variant("custom_similarity", "custom_similarity", WEIGHTS_ONLY,
            label="weights only (similarity transformer)"),
    Variant("probe_ranker", "probe_ranker", (*HEADLINE, "ranking_data.tasks=true"), companion="custom_similarity",
            label="probe profiles, learned gate, sampled tasks; far targets + weights-only ranker + labels (headline)"),
    Variant("probe_weights", "probe_ranker", (BOTH, *NETWORK_TRAINING, "transformer.probe_dropout=0.5",
                                              "transformer.probe_corrections=true", "ranking_data.tasks=true"),
            label="weights + probe profiles, learned networks, sampled tasks"),
    Variant("probe_no_tasks", "probe_ranker", (*HEADLINE, "ranking_data.tasks=false"), companion="custom_similarity",
            label="probe profiles, learned gate, no sampled tasks; far targets + weights-only ranker + labels"),
    Variant("probe_no_labels", "probe_ranker", (*ALONE, "ranking_data.tasks=true"), companion="custom_similarity",
            label="probe profiles, learned gate, sampled tasks; far targets + weights-only ranker, no labels"),
    Variant("probe_alone", "probe_ranker", (*ALONE, "ranking_data.tasks=true"),
            label="probe profiles, learned gate, sampled tasks; far targets: general quality alone"),
    Variant("probe_ranker_strict", "probe_ranker", (*HEADLINE, "ranking_data.tasks=true"), strict=True,
            companion="custom_similarity",
            label="the headline under strict novelty (no probe of the held-out or validation family)"),
    Variant("probe_no_labels_strict", "probe_ranker", (*ALONE, "ranking_data.tasks=true"), strict=True,
            companion="custom_similarity", label="far targets + weights-only ranker, no labels, strict novelty"),
    Variant("probe_alone_strict", "probe_ranker", (*ALONE, "ranking_data.tasks=true"), strict=True,
            label="probe profiles, far targets: general quality alone, strict novelty"),
):
    VARIANT_REGISTRY.register(_v, name=_v.name)


def resolve(name: str) -> Variant:
    """The variant `name`, or a plain registered ranker as a variant of itself; an unknown name is one line
    naming both lists."""
    if name in VARIANT_REGISTRY:
        return VARIANT_REGISTRY.get(name)
    if name in RANKER_REGISTRY:
        canonical = RANKER_REGISTRY.canonical(name)
        return Variant(canonical, canonical, label=canonical)
    raise ConfigError(f"[benchmark] rankers: unknown ranker '{name}'; variants: {', '.join(VARIANT_REGISTRY.list())}; "
                      f"ranking models: {', '.join(RANKER_REGISTRY.list())}")


def resolve_all(names: Sequence[str]) -> list[Variant]:
    """The variants of `names`, each far companion first (listed or not), so that its fold runs exist when a
    variant that reads them trains."""
    named = [resolve(n) for n in names]
    companions = list(dict.fromkeys(v.companion for v in named if v.companion))
    first = [resolve(c) for c in companions]
    return [*first, *(v for v in named if v.name not in companions)]
