"""The probe profiles file (written by extract_probe_profiles.py, features/profile_store.py) and its
reading as model token columns.

    profiles.npz   ids [N], profiles [N, P, S] float32, probes [P], stats [S], metadata (JSON)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from utils.artifacts import read_npz
from utils.errors import ZooRankError

PROFILES = "profiles.npz"
KEYS = {"ids": ("U", 1), "profiles": ("f", 3), "probes": ("U", 1), "stats": ("U", 1), "metadata": "json"}
REBUILD = "python extract_probe_profiles.py"


def read_profiles(path: Path) -> dict[str, Any]:
    """The arrays of a profiles.npz (ids [N], profiles [N, P, S], probes [P], stats [S], metadata)."""
    data = read_npz(path, KEYS, what="probe profiles", rebuild=REBUILD, same_rows=("ids", "profiles"))
    if data["profiles"].shape[1:] != (len(data["probes"]), len(data["stats"])):
        raise ZooRankError(f"{path}: profiles of shape {data['profiles'].shape} do not match its probes and stats; "
                           f"rebuild it ({REBUILD})")
    return data


class ProbeProfiles:
    """Probe profiles (extract_probe_profiles.py) as model token columns: [P, S] per model, each
    (probe, statistic) standardized by the zoo's own mean and spread (`reference`: the zoo's file, so that
    an added model is read on the zoo's scale). Uses model information only, never a target's."""

    def __init__(self, path: Path, reference: Path | None = None, exclude: Sequence[str] = ()) -> None:
        data = read_profiles(path)
        ref = read_profiles(reference) if reference is not None else data
        unknown = set(exclude) - {str(p) for p in data["probes"]}
        if unknown:
            raise ZooRankError(f"[ranking_data] probe_exclude: {sorted(unknown)} are not probes of {path} "
                               f"({', '.join(map(str, data['probes']))})")
        if list(ref["probes"]) != list(data["probes"]) or list(ref["stats"]) != list(data["stats"]):
            raise ZooRankError(f"{path}: probe profiles of other probes or statistics than the zoo's {reference}; "
                               "compute them with the same [probes] settings")
        keep = [i for i, p in enumerate(data["probes"]) if str(p) not in set(exclude)]
        self.probes, self.stats = [str(data["probes"][i]) for i in keep], [str(s) for s in data["stats"]]
        mean, std = ref["profiles"].mean(0)[keep], ref["profiles"].std(0)[keep] + 1e-6
        z = (data["profiles"][:, keep] - mean) / std
        self.by_id = {str(m): z[i].reshape(-1).astype(np.float32) for i, m in enumerate(data["ids"])}
        self.path = Path(path)

    def block(self, ids: Sequence[str]) -> np.ndarray:
        missing = [m for m in ids if m not in self.by_id]
        if missing:
            raise ZooRankError(f"{self.path}: no probe profile for model(s) {', '.join(missing[:3])}; run "
                               "extract_probe_profiles.py for them (recommend.py add-model computes its own)")
        return np.stack([self.by_id[m] for m in ids])
