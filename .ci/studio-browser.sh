#!/usr/bin/env bash
# The studio's browser tests in a real headless Chromium: installs Debian's chromium and
# chromium-driver when they are missing, then runs the tests with the browser required (a
# missing browser fails instead of skipping). Screenshots land in target/tmp/studio-browser/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
chromium --version
chromedriver --version
ZYENTA_TEST_REQUIRE_BROWSER=1 cargo test -p studio --test studio -- browser:: --nocapture
