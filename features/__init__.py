"""Loading a model and reading its frozen features on a dataset: the library that the embedded world
(zoo/), the ground truth, the transferability estimators and the benchmark share.

    refs.py     which models and datasets: ids, sources, fingerprints (Ref, parse_models, parse_datasets)
    handle.py   ModelHandle (a model + its image processor, loaded once), FEATURE_REGISTRY, find_head
    images.py   dataset splits decoded in memory, preprocessing by a model's processor (+ its cache)
    jobs.py     run_jobs: independent jobs in this process or in spawned worker processes
    pairs.py    run_pairs: the one (model, dataset) pair loop (cache files, fingerprints, workers, progress)

The device rule is `utils.device.pick_device` (shared with the trainers and the extractors).
"""
