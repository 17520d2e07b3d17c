"""Model recommendation for a new dataset on a given device (`python recommend.py`), and adding models to
the candidates without retraining (`python recommend.py add-model`).

    ranker.py       the trained ranking transformer of a `train.py transformer` run
    candidates.py   the zoo's model tokens plus the added models', one ModelTable
    added.py        add-model: extract, normalize, encode, register
    dataset.py      a dataset split -> CLIP dataset tokens
    constraints.py  device profile columns, limits, the Pareto axis
    novelty.py      is the dataset farther from the probes than every dataset the ranker learned from?
    service.py      the whole recommendation for one dataset
    report.py       text table, JSON, CSV
    evaluate.py     rank error of a model against the ground truth, next to chance
"""
from recommender.added import add_models
from recommender.candidates import load_candidates
from recommender.constraints import Limits
from recommender.ranker import Ranker, find_run
from recommender.service import Settings, rank_candidates, recommend

__all__ = ["Limits", "Ranker", "Settings", "add_models", "find_run", "load_candidates", "rank_candidates", "recommend"]
