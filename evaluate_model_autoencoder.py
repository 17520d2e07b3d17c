"""How good are the model embeddings? Reconstruction error (training vs held-out models) and what the
embeddings know: k-NN accuracy of architecture family and source data, and how well a ridge
regression predicts each model's mean transfer score, each next to the same predictor on the raw
vectors, on PCA to the same size (fitted on the training models), and on metadata alone.

    python evaluate_model_autoencoder.py [--config F] [--set ...] [--out DIR] [--json]

Writes <out>/evaluation.json and <out>/projection.png (PCA of the embeddings, coloured by family).
"""
from __future__ import annotations

import argparse
import io as _io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from config import ModelAutoEncoderConfig, RankingDataConfig, add_config_args
from config.cli import configure
from config.layout import EMBEDDINGS, Layout
from dataloader.autoencoder import load_autoencoder
from dataloader.model_table import read_embeddings
from dataloader.performance import read_performance
from extractors.store import read_vector, vector_path
from utils import io, log, outputs, runs
from utils.artifacts import damaged
from utils.errors import ZooRankError, run_cli

logger = log.get_logger("evaluate_model_autoencoder")


def model_metadata(vectors_dir: Path, ids: list[str]) -> list[dict[str, Any]]:
    """The metadata each model was extracted with (the zoo index entry: family, sources, ...)."""
    out = []
    for i in ids:
        meta = read_vector(vector_path(vectors_dir, i), with_arrays=False)["metadata"]
        out.append({**meta.get("metadata", {}), "num_params": meta.get("num_params", 0)})
    return out


def label_of(meta: dict[str, Any], key: str) -> str:
    value = meta.get(key, meta.get("arch") if key == "family" else None)
    return "+".join(sorted(map(str, value))) if isinstance(value, list) else str(value)


def knn_accuracy(x: np.ndarray, labels: list[str], k: int = 3) -> float:
    """Leave-one-out k-NN accuracy (cosine), NaN when fewer than 2 classes."""
    from sklearn.model_selection import LeaveOneOut, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    if len(set(labels)) < 2:
        return float("nan")
    clf = KNeighborsClassifier(n_neighbors=min(k, len(labels) - 1), metric="cosine")
    return float(cross_val_score(clf, x, labels, cv=LeaveOneOut()).mean())


def ridge_r2(x: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out R^2 of a ridge regression (alpha chosen by inner CV)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.model_selection import LeaveOneOut, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    return float(r2_score(y, cross_val_predict(model, x, y, cv=LeaveOneOut())))


def metadata_features(metas: list[dict[str, Any]]) -> np.ndarray:
    families = sorted({label_of(m, "family") for m in metas})
    onehot = np.array([[label_of(m, "family") == f for f in families] for m in metas], dtype=np.float64)
    return np.hstack([onehot, np.log10(np.maximum([[m["num_params"]] for m in metas], 1.0))])


def evaluate(ae_dir: Path, vectors_dir: Path, performance_file: Path | None) -> dict[str, Any]:
    """`ae_dir`: a folder the autoencoder published to (its embeddings, model and normalizer)."""
    from sklearn.decomposition import PCA

    data = read_embeddings(ae_dir / EMBEDDINGS)
    if "role" not in data:
        raise damaged(ae_dir / EMBEDDINGS, "model embeddings", "missing 'role'", "python train.py modelautoencoder")
    ids, emb, x, role = [str(i) for i in data["ids"]], data["embeddings"], data["vectors"], data["role"]
    model, _ = load_autoencoder(ae_dir)
    with torch.no_grad():
        recon = model(torch.from_numpy(x))[0].numpy()
    err = ((recon - x) ** 2).mean(1)
    train = role == "train"
    pca = PCA(n_components=min(emb.shape[1], int(train.sum()) - 1, x.shape[1])).fit(x[train])
    metas = model_metadata(vectors_dir, ids)
    reps = {"embedding": emb, "raw_vector": x, f"pca_{pca.n_components_}": pca.transform(x),
            "metadata_only": metadata_features(metas)}
    result: dict[str, Any] = {
        "reconstruction_mse": {r: float(err[role == r].mean()) for r in ("train", "val", "holdout") if (role == r).any()},
        "per_model_mse": dict(zip(ids, map(float, err))), "roles": dict(zip(ids, role.tolist())), "predictors": {}}
    targets = {f"knn_{key}": [label_of(m, key) for m in metas] for key in ("family", "sources")}
    mean_score = None
    if performance_file is not None and Path(performance_file).is_file():
        perf = read_performance(performance_file)
        scores = {m: [row[m] for row in perf.values() if m in row] for m in ids}
        if all(scores.values()):
            mean_score = np.array([np.mean(scores[m]) for m in ids])
    for name, feats in reps.items():
        row = {t: knn_accuracy(feats, labels) for t, labels in targets.items()}
        row["ridge_r2_mean_score"] = ridge_r2(feats, mean_score) if mean_score is not None else float("nan")
        result["predictors"][name] = row
    result["families"] = [label_of(m, "family") for m in metas]
    result["projection"] = PCA(n_components=2).fit_transform(emb).tolist()
    return result


def plot_projection(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xy, fams = np.array(result["projection"]), result["families"]
    fig, ax = plt.subplots(figsize=(6, 5))
    for fam in sorted(set(fams)):
        sel = np.array([f == fam for f in fams])
        ax.scatter(xy[sel, 0], xy[sel, 1], s=30, label=fam)
    ax.set_title("model embeddings (PCA), coloured by architecture family")
    ax.legend(fontsize=8)
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    with io.atomic_open(path, "wb") as fh:
        fh.write(buf.getvalue())


def table(result: dict[str, Any]) -> str:
    cols = ["knn_family", "knn_sources", "ridge_r2_mean_score"]
    lines = [f"{'representation':18s} " + " ".join(f"{c:>20s}" for c in cols)]
    for name, row in result["predictors"].items():
        lines.append(f"{name:18s} " + " ".join(f"{row[c]:20.3f}" for c in cols))
    mse = ", ".join(f"{k} {v:.4f}" for k, v in result["reconstruction_mse"].items())
    return "\n".join(lines + [f"reconstruction MSE (normalized vectors): {mse}"]) + "\n"


def published_run(latest: Path) -> Path | None:
    """The autoencoder run whose embeddings are published (latest_run.json), None when it is not recorded."""
    try:
        run_dir = json.loads(latest.read_text()).get("run_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(run_dir) if isinstance(run_dir, str) and run_dir else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="default: <artifacts>/models/autoencoder/evaluation")
    parser.add_argument("--json", action="store_true", help="print the JSON result instead of the table")
    add_config_args(parser)
    args = parser.parse_args(argv)
    config, run = configure(args)
    ae_cfg = config.get(ModelAutoEncoderConfig)
    layout = Layout.from_run(run)
    ae_dir = layout.autoencoder
    if not layout.embeddings.is_file():
        raise ZooRankError(f"no embeddings in {ae_dir}; run python train.py modelautoencoder first")
    out = args.out or ae_dir / "evaluation"
    outputs.check_dir(out, "--out")
    published = published_run(layout.autoencoder_latest)
    logger.info("embeddings of run %s", published or "(unknown: no latest_run.json)")
    runs.warn_unfinished(layout.runs_dir("autoencoder"), published, "modelautoencoder")
    vectors_dir = ae_cfg.vectors_dir or layout.model_vectors
    result = evaluate(ae_dir, vectors_dir, config.get(RankingDataConfig).performance_file)
    io.write_json(out / "evaluation.json", result)
    plot_projection(result, out / "projection.png")
    sys.stdout.write(json.dumps({k: result[k] for k in ("reconstruction_mse", "predictors")}, indent=2) + "\n"
                     if args.json else table(result))
    logger.info("wrote %s and %s", out / "evaluation.json", out / "projection.png")
    return 0


if __name__ == "__main__":
    run_cli(main)
