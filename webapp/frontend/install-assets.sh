#!/usr/bin/env bash
# Install the web app's front-end assets (the YASGUI SPARQL editor) from the npm registry
# and copy the two files the pages use into webapp/static/vendor/ (never committed).
# Without them the editor page falls back to a plain HTML form.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vendor="$here/../static/vendor"
cd "$here"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
mkdir -p "$vendor"
cp node_modules/@zazuko/yasgui/build/yasgui.min.js node_modules/@zazuko/yasgui/build/yasgui.min.css "$vendor/"
cp node_modules/@zazuko/yasgui/LICENSE "$vendor/yasgui.LICENSE" 2>/dev/null || true
touch "$vendor/.installed"
echo "front-end assets installed in webapp/static/vendor/"
