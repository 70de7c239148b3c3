"""Package data: the bundled config, seed survey and listings ship in the wheel, so
`tracker demo` works from a plain install; the Docker build context and git keep
the secrets file out. The wheel is built for real and the demo run from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT
from tracker.bundled import SOURCES, bundled


def test_force_include_maps_every_bundled_file():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapped = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert mapped == {src: f"tracker/bundled/{name}" for name, src in SOURCES.items()}
    for name in SOURCES:
        assert bundled(name).is_file(), name


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return next(out.glob("tracker-*.whl"))


def test_wheel_carries_the_bundled_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name, src in SOURCES.items():
        assert f"tracker/bundled/{name}" in names
        assert zipfile.ZipFile(wheel).read(f"tracker/bundled/{name}") == (ROOT / src).read_bytes()
    assert "tracker/templates/telegram.html.j2" in names
    assert not any(n.startswith(("tests/", "config/")) for n in names)


def test_demo_runs_from_the_installed_wheel_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if k not in ("TRACKER_CONFIG", "TRACKER_DATA_DIR")}
    env["PYTHONPATH"] = str(site)
    where = subprocess.run([sys.executable, "-c", "import tracker.bundled as b; print(b.bundled('tracker.toml'))"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(site / "tracker" / "bundled" / "tracker.toml")
    done = subprocess.run([sys.executable, "-m", "tracker", "demo", "--out", str(tmp_path / "out"), "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["jobs"] == {"poll": "ok", "digest": "ok", "email": "ok", "propose": "ok"}
    assert summary["papers"] > 100 and summary["decisions"] == 2


def ignore_patterns(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]


def test_docker_contexts_hold_the_package_data_and_no_secrets():
    root = ignore_patterns(ROOT / ".dockerignore")
    assert root == ignore_patterns(ROOT / "deploy" / "Dockerfile.dockerignore")
    assert root[0] == "*" and "deploy/tracker.env" in root
    for src in SOURCES.values():
        assert f"!{src}" in root
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    for src in SOURCES.values():
        assert src in dockerfile, f"deploy/Dockerfile does not COPY {src}"


def test_git_ignores_the_secrets_file():
    done = subprocess.run(["git", "check-ignore", "-q", "deploy/tracker.env"], cwd=ROOT, capture_output=True)
    assert done.returncode == 0
