"""Whole ``.keras`` model files, opened safely: no code from a file ever runs here.

Keras' safe mode refuses a ``Lambda`` layer whose function is a Python lambda; wgan goes further
and refuses every ``Lambda`` layer (its own networks have none, so such a file came from
elsewhere). A file that is damaged, cut short or not a model at all is one ``WganError`` that
names it and says what to do instead.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import keras

from wgan.errors import WganError

MODEL_CONFIG = "config.json"  # inside a .keras archive: the architecture, as JSON


def load_model_file(path: str | os.PathLike, instead: str) -> keras.Model:
    """The model in the ``.keras`` file ``path``, loaded in safe mode and not compiled.

    ``instead`` ends each error message: what the user can do about it (e.g. "give the run
    folder instead").
    """
    path = Path(path)
    if not path.is_file():
        raise WganError(f"{path} not found; {instead}")
    if not zipfile.is_zipfile(path):
        raise WganError(
            f"{path} is not a readable .keras model file (damaged, cut short, or another format); "
            f"{instead}"
        )
    code = code_in(path)
    if code:
        raise WganError(refusal(path, code, instead))
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # the whole file is read here: any failure means it is unusable
        text = " ".join(str(err).split())
        if "safe_mode" in text:  # Keras' own refusal, for code this scan did not recognise
            raise WganError(refusal(path, "code Keras' safe mode refuses", instead)) from None
        reason = text.split(". ")[0][:160]
        raise WganError(
            f"cannot load {path} ({type(err).__name__}{': ' + reason if reason else ''}); "
            f"the file is damaged or not a model wgan wrote: {instead}"
        ) from None


def refusal(path: Path, code: str, instead: str) -> str:
    return (
        f"{path} contains code ({code}) and will not be loaded: wgan opens model files in safe "
        f"mode, so that a file from elsewhere cannot run code on this machine; {instead}"
    )


def code_in(path: str | os.PathLike) -> str:
    """What code the architecture in a ``.keras`` file holds ("a Lambda layer", ...), or ""
    when none is found or the architecture cannot be read (loading then says why)."""
    try:
        with zipfile.ZipFile(path) as archive:
            architecture = json.loads(archive.read(MODEL_CONFIG))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return ""
    found = set()
    stack = [architecture]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = item.get("class_name")
            if name == "Lambda":
                found.add("a Lambda layer")
            elif name == "__lambda__":
                found.add("a Python lambda")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    # A Lambda layer's Python lambda is that layer's code: name the layer alone.
    return "a Lambda layer" if "a Lambda layer" in found else "".join(found)
