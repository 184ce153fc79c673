"""`pip install .` builds the inferencegw package alone (pyproject.toml, meson-python), with the
C++ library linked into its extension; the wheel installs into a fresh virtual environment,
imports and simulates there with no build tree around, and uninstalls cleanly.

Builds the library from scratch (a few minutes on 2 cores). Everything is in tmp_path."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import zipfile

REPO = pathlib.Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"  # Debian's: it sees python3-mesonpy and meson


def run(args, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env,
                          timeout=1500, **kwargs)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


CHECK = """
import inferencegw, pathlib, sys
print(inferencegw.__version__)
print(pathlib.Path(inferencegw.__file__).resolve())
config = inferencegw.load_config(sys.argv[1])
result = inferencegw.Simulator(config, seed=1).run(
    [{"timestamp": i, "user": f"u{i % 7}", "model": "gpt-4", "input_tokens": 100,
      "output_tokens": 20} for i in range(200)])
print(result.summary["requests"])
"""


def test_pip_install_builds_a_self_contained_package(tmp_path):
    wheels = tmp_path / "wheels"
    run([PYTHON, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
         "-w", wheels, REPO], cwd=tmp_path)
    (wheel,) = wheels.glob("inferencegw-*.whl")
    version = (REPO / "meson.build").read_text().split("version: '", 1)[1].split("'", 1)[0]
    assert wheel.name.startswith(f"inferencegw-{version}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("inferencegw/_core") and n.endswith(".so") for n in names), names
    assert "inferencegw/__init__.py" in names and "inferencegw/py.typed" in names
    # Only the package: no headers, no shared library, no binaries.
    assert all(n.startswith(("inferencegw/", "inferencegw-")) for n in names), names

    venv = tmp_path / "venv"
    run([PYTHON, "-m", "venv", "--system-site-packages", venv])
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--no-index", "--no-deps", wheel])
    out = run([python, "-c", CHECK, REPO / "examples" / "demo"], cwd=tmp_path).stdout.split()
    assert out[0] == version
    assert pathlib.Path(out[1]).is_relative_to(venv), out  # the installed copy, not a build tree
    assert out[2] == "200"
    core = next(pathlib.Path(out[1]).parent.glob("_core*.so"))
    ldd = run(["ldd", core]).stdout
    assert "libinferencegw" not in ldd and "not found" not in ldd, ldd

    run([python, "-m", "pip", "uninstall", "-y", "inferencegw"])
    gone = subprocess.run([str(python), "-c", "import inferencegw"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert gone.returncode != 0 and "No module named 'inferencegw'" in gone.stderr
    assert not any((venv / "lib").glob("python3*/site-packages/inferencegw*")), \
        list((venv / "lib").glob("python3*/site-packages/*"))
    assert sys.version_info >= (3, 9)
