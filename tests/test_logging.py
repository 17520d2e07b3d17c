"""What reaches the console and what reaches a run's log file (utils/log.py), as the pipeline runs the stages."""
import subprocess
import sys

from conftest import ROOT
from trainer_utils import run_dirs, run_train, sets


def test_run_log_keeps_info_lines_when_the_console_shows_warnings(tmp_path):
    proc = run_train("toy_regression", *sets(tmp_path, epochs=2), "--set", "run.log_level=WARNING", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert " : INFO : " not in proc.stderr
    text = (run_dirs(tmp_path)[0] / "train.log").read_text()
    assert "run folder:" in text and "epoch 1/2" in text and "epoch 2/2" in text


PROBE = """
import sys
from pathlib import Path
from utils import log
log.set_level(sys.argv[1])
handler = log.add_file_handler(Path(sys.argv[2]))
import open_clip
try:
    open_clip.create_model("no-such-architecture")  # logs INFO lines on the root logger, then fails
except Exception:
    pass
log.remove_handler(handler)
"""


def open_clip_logs(level: str, tmp_path) -> tuple[str, str]:
    path = tmp_path / f"{level}.log"
    proc = subprocess.run([sys.executable, "-c", PROBE, level, str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr, path.read_text()


def test_open_clip_info_stays_off_the_console_at_warning_level(tmp_path):
    stderr, logged = open_clip_logs("WARNING", tmp_path)
    assert "Parsing model identifier" not in stderr
    assert "Parsing model identifier" in logged  # the run's file still has it
    stderr, _ = open_clip_logs("INFO", tmp_path)
    assert "Parsing model identifier" in stderr  # asked for: shown
