import contextlib
import importlib.util
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="session")
def load_script():
    """Import ``scripts/NAME.py`` as a module, so a test skips a fresh TensorFlow start-up."""

    def load(name: str):
        sys.path.insert(0, str(SCRIPTS))
        try:
            spec = importlib.util.spec_from_file_location(f"{name}_script", SCRIPTS / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(SCRIPTS))
        return module

    return load


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def run(load_script):
    """Run a script's main() in this process (TensorFlow starts once), as a user would call it."""
    scripts = {}

    def call(script, *args) -> Result:
        name = script.removesuffix(".py")
        if name not in scripts:
            scripts[name] = load_script(name)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = scripts[name].main([str(a) for a in args])
            except SystemExit as exit_:
                code = exit_.code
        return Result(code, out.getvalue(), err.getvalue())

    return call


@pytest.fixture
def count_decodes(monkeypatch):
    """The files ``wgan.data`` decodes from now on, in order (a cache hit decodes none)."""
    from wgan import data

    calls = []
    real = data._Decoder.__call__

    def counting(self, path):
        calls.append(path)
        return real(self, path)

    monkeypatch.setattr(data._Decoder, "__call__", counting)
    return calls
