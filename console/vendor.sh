#!/usr/bin/env bash
# Vendor the console's browser libraries: install exactly what package-lock.json pins (npm ci,
# no install scripts), then copy each library's distributed build into the Python package's
# static folder. The copies are committed, so a clean checkout serves the console without
# node; run this after changing package.json (then `npm install --package-lock-only`).
set -euo pipefail
cd "$(dirname "$0")"
target=../src/returns_service/console/static/vendor

npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
rm -rf "$target"
mkdir -p "$target/licenses"

# copy SOURCE NAME: the file without its source-map comment (the maps are not shipped, and a
# browser with developer tools open would otherwise ask for them).
copy() {
    sed -e '/^\/\/# sourceMappingURL=/d' -e 's|//# sourceMappingURL=[^ ]*$||' \
        "node_modules/$1" > "$target/$2"
}
copy preact/dist/preact.mjs preact.js
# hooks import "preact" by bare name; the browser resolves only paths (no import map, which
# a strict Content-Security-Policy would have to allow inline).
copy preact/hooks/dist/hooks.mjs hooks.js
sed -i 's|from"preact"|from"./preact.js"|g' "$target/hooks.js"
copy htm/dist/htm.module.js htm.js
copy chart.js/dist/chart.umd.min.js chart.umd.min.js

cp node_modules/preact/LICENSE "$target/licenses/preact.txt"
cp node_modules/htm/LICENSE "$target/licenses/htm.txt"
cp node_modules/chart.js/LICENSE.md "$target/licenses/chart.js.txt"
cp node_modules/@kurkle/color/LICENSE.md "$target/licenses/kurkle-color.txt"

# What was copied from which package version, with each file's digest: tests/console checks
# the committed files against it and against package-lock.json.
node - "$target" <<'JS'
const fs = require("fs"), crypto = require("crypto"), path = require("path");
const target = process.argv[2];
const version = (name) => require(`./node_modules/${name}/package.json`).version;
const files = {
  "preact.js": "preact", "hooks.js": "preact", "htm.js": "htm",
  "chart.umd.min.js": "chart.js",
};
const manifest = Object.entries(files).map(([file, pkg]) => ({
  file, package: pkg, version: version(pkg),
  sha256: crypto.createHash("sha256").update(fs.readFileSync(path.join(target, file))).digest("hex"),
}));
fs.writeFileSync(path.join(target, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
JS
echo "vendored into $target:"
ls -l "$target"
