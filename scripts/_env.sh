# Shared by scripts/server and scripts/test: make .venv (Python 3.11+) and install into it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv"
  "$PYTHON" -m venv .venv
fi
hash=$(sha256sum pyproject.toml | cut -c1-16)
stamp=.venv/.installed-$hash-${EXTRAS:-none}
if [ ! -f "$stamp" ]; then
  echo "Installing dependencies (once per change of pyproject.toml)"
  if ! { .venv/bin/python -m pip install --quiet --upgrade pip &&
         .venv/bin/python -m pip install --quiet -e ".${EXTRAS:+[$EXTRAS]}"; } >.venv/install.log 2>&1; then
    cat .venv/install.log >&2
    echo "Installing failed; the log above is also in .venv/install.log" >&2
    exit 1
  fi
  find .venv -maxdepth 1 -name '.installed-*' ! -name ".installed-$hash-*" -delete
  touch "$stamp"
fi
