"""Every ```python block of the README runs as written, in order, in one fresh interpreter.

A block may use what earlier blocks defined (as a reader pasting them in turn would). The blocks
run in a subprocess, so the rules they register (``pb.adjoint(np.i0)``) stay out of this process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def python_blocks(text: str) -> list[str]:
    """The bodies of the fenced blocks opened by exactly ```python."""
    return re.findall(r"^```python\n(.*?)^```\s*$", text, flags=re.S | re.M)


def test_readme_python_blocks_run(tmp_path):
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 5
    n = len(blocks)
    marks = [f"print('--- README block {i + 1} of {n}', flush=True)\n" for i in range(n)]
    script = "\n".join(mark + block for mark, block in zip(marks, blocks))
    (tmp_path / "readme_blocks.py").write_text(script)
    proc = subprocess.run([sys.executable, "readme_blocks.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    assert f"--- README block {len(blocks)} of {len(blocks)}" in proc.stdout


def test_readme_is_self_contained():
    text = README.read_text()
    assert "../shared" not in text
    assert "python -m sphinx" in text  # how to build the docs
