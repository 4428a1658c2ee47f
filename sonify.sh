#!/usr/bin/env bash
# Hear the newest training run in runs/ (narrated soundscapes of the samples, and the losses).
# Extra arguments go to scripts/sonify.py, e.g.  ./sonify.sh --epochs all --format mp3
# Output: runs/<newest>/audio/*.wav; see "Listening to a run" in README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-$(command -v python3 || command -v python)}"
exec "$python" "$here/scripts/sonify.py" --runs-dir "$here/runs" "$@"
