"""docs/python.md's examples run as written: every ```python block that starts with
`import inferencegw as ig` is executed from the repository root, in a fresh namespace. (Other
blocks are fragments of the text around them.)"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import re

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
BLOCKS = [
    b for b in re.findall(r"```python\n(.*?)```", (REPO_ROOT / "docs" / "python.md").read_text(),
                          flags=re.S)
    if b.startswith("import inferencegw as ig")
]


def test_the_doc_has_runnable_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_block_runs(ig, block):
    pytest.importorskip("numpy")
    cwd = os.getcwd()
    os.chdir(REPO_ROOT)
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(compile(block, "docs/python.md", "exec"), {"__name__": "docs_example"})
    finally:
        os.chdir(cwd)
    # A block that prints and says what it prints in a trailing comment prints exactly that.
    for line in block.splitlines():
        m = re.match(r"print\((.*)\)\s+# (.+)$", line)
        if m:
            assert out.getvalue().strip().splitlines()[-1] == m.group(2).strip(), out.getvalue()
