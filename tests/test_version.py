"""The version has one source, meson.build's project(version:): pyproject.toml
declares it dynamic (meson-python takes it from meson), the package reads it
from the installed distribution's metadata, and `python -m gatedrnn --version`
prints it. The tests run from a checkout or an unpacked sdist, which both hold
pyproject.toml and meson.build beside tests/.
"""
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

import gatedrnn

ROOT = Path(__file__).resolve().parents[1]


def meson_project_version():
    text = (ROOT / "meson.build").read_text()
    project = re.search(r"^project\((.*?)^\)", text, re.S | re.M)
    assert project, "meson.build has no project(...) call"
    version = re.search(r"\bversion\s*:\s*'([^']+)'", project.group(1))
    assert version, "meson.build's project() has no version: '...'"
    return version.group(1)


def test_pyproject_takes_the_version_from_meson():
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert "version" not in project, "pyproject.toml must not set a version of its own"
    assert "version" in project.get("dynamic", []), "pyproject.toml: dynamic = [\"version\"]"


def test_package_meson_and_metadata_agree():
    meson = meson_project_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", meson), meson
    assert gatedrnn.__version__ == meson, "gatedrnn.__version__ vs meson.build (reinstall?)"
    assert importlib.metadata.version("gatedrnn") == meson, "installed metadata vs meson.build"


def test_command_line_prints_the_version():
    out = subprocess.run([sys.executable, "-m", "gatedrnn", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert out == f"gatedrnn {meson_project_version()}\n"
