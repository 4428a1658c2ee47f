"""The pip package: its dependencies are requirements.txt's, its wheel installs into a fresh
environment, and its console scripts are the programs of scripts/ (runs/ in the folder they
are started from)."""

import configparser
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = ("train", "generate", "evaluate", "sonify", "translate")
DEV_ONLY = ("pytest", "ruff", "setuptools", "wheel")


def requirement_lines() -> set[str]:
    found = set()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith(DEV_ONLY):
            found.add(re.sub(r"\s+", "", line.replace("'", '"')))
    return found


def test_the_package_depends_on_what_requirements_txt_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.sub(r"\s+", "", d.replace("'", '"')) for d in project["dependencies"]}
    assert declared == requirement_lines()
    assert set(project["scripts"]) == {f"wgan-{name}" for name in PROGRAMS}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel, built offline (no downloads: --no-build-isolation) and installed without its
    dependencies into a virtual environment that sees this one's packages."""
    work = tmp_path_factory.mktemp("package")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(work / "dist"), str(ROOT)], check=True, cwd=work,
                   capture_output=True)  # fmt: skip
    wheel = next((work / "dist").glob("wgan-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(work / "env")],
                   check=True)  # fmt: skip
    subprocess.run([str(work / "env" / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)  # fmt: skip
    return wheel, work / "env" / "bin"


def test_the_wheel_names_every_program_as_a_console_script(installed):
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        points = configparser.ConfigParser()
        points.read_string(archive.read(entry).decode())
    assert dict(points["console_scripts"]) == {
        f"wgan-{name}": f"wgan_scripts.{name}:main" for name in PROGRAMS
    }
    assert {f"wgan_scripts/{name}.py" for name in PROGRAMS} <= set(names)
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


@pytest.mark.parametrize("name", PROGRAMS)
def test_each_console_script_starts(installed, name, tmp_path):
    _, bin_dir = installed
    done = subprocess.run([str(bin_dir / f"wgan-{name}"), "--help"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage: ") and name in done.stdout.splitlines()[0]


def test_wgan_train_trains_into_runs_of_the_folder_it_is_started_from(installed, tmp_path):
    _, bin_dir = installed
    done = subprocess.run([str(bin_dir / "wgan-train"), "--preset", "demo", "--image-size", "16",
                           "--filters", "8", "--n-samples", "32", "--epochs", "1",
                           "--eval-every", "0", "--precision", "float32"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "generator.keras").is_file()
    assert "site-packages" not in done.stdout  # nothing written inside the installation
