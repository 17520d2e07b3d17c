"""Import user modules that register components (a trainer, a loss, ...) without editing ZooRank.

`--plugin my_pkg.my_trainer` or `--plugin path/to/file.py` (repeatable), or the environment variable
ZOORANK_PLUGINS="mod1,path/to/file2.py" (convenient in job scripts).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Iterable

from utils.errors import ZooRankError


def load_plugins(specs: Iterable[str] = ()) -> list[str]:
    loaded = []
    env = [s for s in os.environ.get("ZOORANK_PLUGINS", "").split(",") if s.strip()]
    for spec in [*env, *specs]:
        spec = spec.strip()
        path = Path(spec).expanduser()
        try:
            if spec.endswith(".py"):
                if not path.is_file():
                    raise ZooRankError(f"plugin file {path} not found")
                name = f"zoorank_plugin_{path.stem}"
                if name not in sys.modules:
                    module_spec = importlib.util.spec_from_file_location(name, path)
                    module = importlib.util.module_from_spec(module_spec)
                    sys.modules[name] = module
                    module_spec.loader.exec_module(module)
            else:
                importlib.import_module(spec)
        except ImportError as err:
            raise ZooRankError(f"plugin '{spec}' cannot be imported ({err}); check the module name") from None
        loaded.append(spec)
    return loaded
