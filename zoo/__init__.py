"""The embedded benchmark world: a model zoo of real `transformers` classifiers pretrained on the
synthetic source datasets, and the ground-truth transfer matrix on the target datasets.

    python -m zoo build --preset tiny|default      # artifacts/zoo/<preset>/{datasets,models,clip}/ + matrix

Layout of a preset's world (root: [world] root, default <run.artifacts_dir>/zoo/<preset>/):

    datasets/<name>/, datasets/index.json        dataloader.synthetic (source and target datasets)
    models/<id>/ (config.json, model.safetensors, preprocessor_config.json, zoorank_model.json)
    models/index.json                           {"preset", "models": [{"id", "path", "family", ...}]}
    clip/                                       zoo/clip.py, when present
    pairs/<method>/<model>/<dataset>.json        one ground-truth pair each (the resume cache)
    dataset_model_performance.json              {"metadata": {...}, "performance": {dataset: {model: acc}}}
    dataset_model_performance.spread.json       winners, inter-dataset Kendall tau, accuracy ranges

The default preset's build also writes constants/dataset_model_performance.json. Modules: archs
(ARCH_REGISTRY), population (presets), pretrain, methods (METHOD_REGISTRY), ground_truth, matrix
(file format, merge), spread, build (stages). Loading models and reading their features is features/.
"""
