"""The package layering the README's Layout section describes: lower layers never import higher ones,
serving never imports training code, and every package has its place (a new one must be added here)."""
from __future__ import annotations

import ast

import pytest
from conftest import ROOT

# package -> the project packages it may import; a package is always free to import itself
LOWER = {"utils": set(), "config": {"utils"}}
LEAVES = {"metrics", "loss", "model", "estimators", "hardware"}
MAY_IMPORT = {
    **LOWER,
    **{leaf: {"utils", "config"} for leaf in LEAVES},
    "extractors": {"utils", "config"},
    "dataloader": {"utils", "config", "extractors", "model"},
    "features": {"utils", "config", "metrics", "model", "estimators", "extractors", "dataloader"},
    "train": {"utils", "config", "metrics", "loss", "model", "extractors", "dataloader", "features"},
    "zoo": {"utils", "config", "metrics", "model", "extractors", "dataloader", "features"},
    # recommend.py --budget scores the ranker's shortlist with an estimator (LogME)
    "recommender": {"utils", "config", "metrics", "model", "hardware", "estimators", "extractors", "dataloader",
                    "features"},
    # the benchmark trains fold rankers (train/) and reads models through features/, never the world's builder
    "evaluation": {"utils", "config", "metrics", "model", "loss", "estimators", "hardware", "extractors",
                   "dataloader", "features", "train"},
    "stages": {"utils", "config"},  # runs the scripts as subprocesses, imports none of their code
}


def packages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests")


def imports_of(package: str) -> dict[str, list[str]]:
    """{imported project package: [file:line, ...]} over every module of `package`, lazy imports included."""
    found: dict[str, list[str]] = {}
    names = set(packages())
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            for mod in mods:
                top = mod.split(".")[0]
                if top in names and top != package:
                    found.setdefault(top, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_package_has_a_place_in_the_layering():
    assert set(packages()) <= set(MAY_IMPORT), f"add {sorted(set(packages()) - set(MAY_IMPORT))} to MAY_IMPORT"


@pytest.mark.parametrize("package", packages())
def test_package_imports_only_lower_layers(package):
    wrong = {dep: where for dep, where in imports_of(package).items() if dep not in MAY_IMPORT.get(package, set())}
    assert not wrong, f"{package} must not import {sorted(wrong)}: {wrong}"


def test_the_layering_has_no_cycle():
    seen: dict[str, int] = {}

    def depth(pkg: str, path: tuple[str, ...] = ()) -> int:
        assert pkg not in path, f"import cycle {' -> '.join(path + (pkg,))}"
        if pkg not in seen:
            seen[pkg] = 1 + max((depth(d, path + (pkg,)) for d in MAY_IMPORT[pkg]), default=0)
        return seen[pkg]

    for pkg in MAY_IMPORT:
        depth(pkg)
