"""The command-line programs, installed as the package ``wgan_scripts`` (``wgan-train`` and the
others); in a checkout they run as ``python scripts/NAME.py``. Each imports ``_common`` by its
plain name, as a script beside it does: this folder goes on the import path."""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
