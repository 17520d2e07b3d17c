"""features.pairs.run_pairs: the one (model, dataset) loop owns the cache, the fingerprints and the jobs."""
from __future__ import annotations

import json
from types import SimpleNamespace

from features.pairs import pair_file, run_pairs
from features.refs import Ref

CALLS: list[tuple[str, str]] = []


def toy_pair(handle, ds, settings):
    """A per-pair function that never loads the model (ModelHandle loads lazily)."""
    CALLS.append((handle.ref.id, ds.id))
    return {"value": settings["scale"] * len(ds.id), "model_source": handle.ref.source}


def test_run_pairs_caches_records_and_recomputes_only_what_changed(tmp_path):
    run = SimpleNamespace(device="cpu", num_threads=0)
    models = [Ref("org/m1", "src-m1", "fp-m1"), Ref("m2", "src-m2", "fp-m2")]
    datasets = [Ref("d1", "src-d1", "fp-d1"), Ref("data/two", "src-d2", "fp-d2")]
    pairs = [(m, d) for m in models for d in datasets]
    CALLS.clear()
    done, cached = run_pairs(pairs, toy_pair, {"scale": 2}, "digest-a", tmp_path, run, progress=False)
    assert cached == 0 and len(CALLS) == 4 and set(done) == {(m.id, d.id) for m, d in pairs}
    rec = json.loads(pair_file(tmp_path, "org/m1", "data/two").read_text())
    assert list(rec)[:2] == ["model", "dataset"] and rec["value"] == 16
    assert (rec["settings_hash"], rec["model_fingerprint"], rec["dataset_fingerprint"]) == ("digest-a", "fp-m1", "fp-d2")

    CALLS.clear()  # everything cached: nothing runs, the records come back as written
    again, cached = run_pairs(pairs, toy_pair, {"scale": 2}, "digest-a", tmp_path, run, progress=False)
    assert cached == 4 and CALLS == [] and again == done

    CALLS.clear()  # a changed model is redone on every dataset; other settings redo every pair
    changed = [(Ref("m2", "src-m2", "fp-new"), d) if m.id == "m2" else (m, d) for m, d in pairs]
    _, cached = run_pairs(changed, toy_pair, {"scale": 2}, "digest-a", tmp_path, run, progress=False)
    assert cached == 2 and sorted(CALLS) == [("m2", "d1"), ("m2", "data/two")]
    CALLS.clear()
    checked: list[str] = []
    _, cached = run_pairs(changed, toy_pair, {"scale": 3}, "digest-b", tmp_path, run, progress=False,
                          check_dataset=lambda d: checked.append(d.id))
    assert cached == 0 and len(CALLS) == 4 and checked == ["d1", "data/two"]
