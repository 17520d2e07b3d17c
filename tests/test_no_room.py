"""A full disk (here: a real file-size limit, `ulimit -f`) is one line naming the file, exit 2, and the
previous version of the file is intact: the atomic writers never replace a file with a half-written one."""
import resource
import signal
import subprocess
import sys

import numpy as np
from conftest import ROOT

WRITE = """
import sys
import numpy as np
from utils import io
from utils.errors import run_cli
run_cli(lambda: io.save_npz(sys.argv[1], vectors=np.ones((512, 512), np.float32)))
"""


def limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_no_room_is_one_line_and_the_old_file_survives(tmp_path):
    target = tmp_path / "embeddings.npz"
    np.savez(target, vectors=np.zeros((4, 4), np.float32))
    before = target.read_bytes()
    proc = subprocess.run([sys.executable, "-c", WRITE, str(target)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, preexec_fn=limit_file_size)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: cannot write {target}: File too large"), lines
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["embeddings.npz"]
