import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from conftest import ROOT

from config import (
    SECTIONS,
    ConfigParser,
    DatasetLoaderConfig,
    ModelAutoEncoderConfig,
    RunConfig,
    TransformerTrainerConfig,
    config_section,
)
from utils.errors import ConfigError


@pytest.fixture
def demo_section():
    @config_section("demo")
    @dataclasses.dataclass
    class DemoConfig:
        flag: bool = False
        count: int = 1
        rate: float = 0.5
        name: str = "x"
        folder: Path = Path("data")
        sizes: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
        pair: tuple[float, float] = (0.0, 1.0)
        weights: dict[str, float] = dataclasses.field(default_factory=dict)
        maybe: int | None = None
        mode: Literal["fast", "slow"] = "fast"

    yield DemoConfig
    del SECTIONS["demo"]


def write(tmp_path, text, name="c.ini"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_values_are_converted_by_annotation(tmp_path, demo_section, monkeypatch):
    monkeypatch.setenv("ZR_TEST_ROOT", "/data/cluster")
    ini = write(tmp_path, """
[demo]
flag = yes
count = 1_000
rate = 1e-3
name = hello world
folder = sub/dir
sizes = 3, 4, 5
pair = [0.1, 0.2]
weights = a=1.5, b=2
maybe = 7
mode = SLOW
""")
    c = ConfigParser(ini).get(demo_section)
    assert c.flag is True and c.count == 1000 and c.rate == 1e-3 and c.name == "hello world"
    assert c.folder == tmp_path / "sub" / "dir"  # relative to the INI's folder, not the cwd
    assert c.sizes == [3, 4, 5] and c.pair == (0.1, 0.2) and c.weights == {"a": 1.5, "b": 2.0}
    assert c.maybe == 7 and c.mode == "slow"


def test_defaults_when_section_missing_and_none(tmp_path, demo_section):
    c = ConfigParser(write(tmp_path, "[demo]\nmaybe = none\n")).get(demo_section)
    assert c.maybe is None and c.sizes == [1, 2] and c.mode == "fast"
    assert c.folder == tmp_path / "data", "relative defaults also resolve against the INI folder"


def test_env_and_home_expansion(tmp_path, demo_section, monkeypatch):
    monkeypatch.setenv("ZR_SCRATCH", "/scratch/me")
    monkeypatch.delenv("ZR_UNSET", raising=False)
    ini = write(tmp_path, "[demo]\nfolder = ${ZR_SCRATCH}/zoo\nname = ${ZR_UNSET:-fallback}\n")
    c = ConfigParser(ini).get(demo_section)
    assert c.folder == Path("/scratch/me/zoo") and c.name == "fallback"
    c = ConfigParser(write(tmp_path, "[demo]\nfolder = ~/zoo\n", "h.ini")).get(demo_section)
    assert c.folder == Path.home() / "zoo"
    with pytest.raises(ConfigError, match=r"c2.ini \[demo\] folder: environment variable \$\{ZR_UNSET\}"):
        ConfigParser(write(tmp_path, "[demo]\nfolder = ${ZR_UNSET}/x\n", "c2.ini"))


def test_precedence_defaults_ini_set(tmp_path, demo_section):
    ini = write(tmp_path, "[demo]\ncount = 5\nrate = 0.25\n")
    c = ConfigParser(ini, ["demo.count=9"]).get(demo_section)
    assert (c.count, c.rate, c.name) == (9, 0.25, "x")


@pytest.mark.parametrize(
    "text, overrides, pattern",
    [
        ("[dmeo]\ncount = 1\n", [], r"c.ini \[dmeo\]: unknown section \[dmeo\]; did you mean 'demo'\?"),
        ("[demo]\ncuont = 1\n", [], r"c.ini \[demo\] cuont: unknown key 'cuont'; did you mean 'count'\?"),
        ("[demo]\ncount = many\n", [], r"c.ini \[demo\] count: expected int, got 'many'"),
        ("[demo]\nflag = maybe\n", [], r"c.ini \[demo\] flag: expected true/false"),
        ("[demo]\nmode = fsat\n", [], r"c.ini \[demo\] mode: 'fsat' is not one of fast, slow; did you mean 'fast'\?"),
        ("[demo]\n", ["demo.rate=abc"], r"--set demo.rate: expected float, got 'abc'"),
        ("[demo]\n", ["demo.rat=1"], r"--set demo.rat: unknown key 'rat'; did you mean 'rate'\?"),
        ("[demo]\n", ["rate=1"], r"--set 'rate=1': expected section.key=value"),
        ("count = 1\n", [], r"c.ini: not a valid INI file"),
    ],
)
def test_errors_name_file_section_key_and_closest(tmp_path, demo_section, text, overrides, pattern):
    with pytest.raises(ConfigError, match=pattern) as err:
        ConfigParser(write(tmp_path, text), overrides)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file .*nope.ini not found"):
        ConfigParser(tmp_path / "nope.ini")


def test_resolved_ini_round_trips(tmp_path, demo_section):
    ini = write(tmp_path, "[demo]\nsizes = 7,8\nweights = {\"a\": 1}\nname = a, b\n[run]\nseed = 3\n")
    first = ConfigParser(ini)
    again = ConfigParser(write(tmp_path, first.to_ini(), "resolved.ini"))
    assert again.resolved() == first.resolved()
    assert again.get(RunConfig).seed == 3 and again.get(demo_section).name == "a, b"


def test_shipped_config_ini_is_valid():
    c = ConfigParser(ROOT / "config.ini")
    assert c.get(ModelAutoEncoderConfig).code_dim == 512 and c.get(TransformerTrainerConfig).epochs >= 1
    assert "${" not in c.to_ini()


def test_trainer_section_checks_ranges(tmp_path):
    with pytest.raises(ConfigError, match=r"\[transformer\] epochs must be >= 1"):
        ConfigParser(write(tmp_path, "[transformer]\nepochs = 0\n"))


@pytest.mark.parametrize(
    "args, needle",
    [
        (["transformer", "--set", "transformer.lr=fast"], "--set transformer.lr: expected float, got 'fast'"),
        (["transformer", "--set", "runn.seed=1"], "unknown section [runn]; did you mean 'run'?"),
        (["transformer", "--set", "transformer.far_quantile=1.5"], "far_quantile must be in [0, 1], got 1.5"),
        (["transformer", "--set", "transformer.general_quality=best"], "general_quality"),
        (["transformer", "--config", "missing.ini"], "missing.ini not found"),
        (["transformer", "--config", "."], "is a folder; pass --config PATH to an INI file"),
    ],
)
def test_cli_config_errors_exit_2_one_line(tmp_path, args, needle):
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert not (tmp_path / "beautilog.ini").exists(), "beautilog must not write into the cwd"


@pytest.mark.parametrize("value, local", [("org/cifar10", False), ("./data/x", True), ("sub", True), ("/abs/y", True)])
def test_path_or_name_resolves_only_local_paths(tmp_path, value, local):
    (tmp_path / "sub").mkdir()
    c = ConfigParser(write(tmp_path, f"[dataset_loader]\npath = {value}\n")).get(DatasetLoaderConfig)
    expected = str((tmp_path / value).resolve()) if local and not value.startswith("/") else value
    assert c.path == expected and type(ConfigParser(write(tmp_path, "")).resolved()["dataset_loader"]["path"]) is str


def test_a_runs_resolved_config_with_a_plugin_section_reads_back_without_the_plugin(tmp_path, demo_section):
    """train.py --plugin writes the plugin's section into the run's config.ini; recommend.py, which never
    loads that plugin, must still read the run's [transformer] from it (strict everywhere else)."""
    from config import TransformerTrainerConfig

    ini = ConfigParser(ROOT / "config.ini", ["transformer.d_model=48"]).to_ini()
    assert "[demo]" in ini
    del SECTIONS["demo"]  # the reading process has no such plugin
    try:
        path = tmp_path / "config.ini"
        path.write_text(ini)
        with pytest.raises(ConfigError, match=r"unknown section \[demo\]"):
            ConfigParser(path)
        assert ConfigParser(path, ignore_unknown_sections=True).get(TransformerTrainerConfig).d_model == 48
    finally:
        SECTIONS["demo"] = demo_section
