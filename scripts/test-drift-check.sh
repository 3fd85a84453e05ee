#!/usr/bin/env bash
# Proves that scripts/entities.sh --check catches drift: on a copy of the working tree it must
# pass as is, fail after an entity file is edited by hand, and fail after a migration changes
# without regenerating. Needs the same Postgres as scripts/entities.sh.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
# A target folder of its own, kept between runs: sharing the workspace's would let the copies'
# binaries (same package names, other sources) replace the workspace's own in target/debug.
export CARGO_TARGET_DIR=$root/target/drift-check

fresh_copy() {
  rm -rf "$copy/repo"
  mkdir -p "$copy/repo"
  (cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy/repo")
}

expect() {
  local want=$1 what=$2
  if (cd "$copy/repo" && scripts/entities.sh --check >"$copy/out" 2>&1); then got=pass; else got=fail; fi
  if [ "$got" != "$want" ]; then
    cat "$copy/out"
    echo "drift check: expected $want on $what, got $got" >&2
    exit 1
  fi
  # A failure must be the drift being reported, not the script breaking for another reason.
  if [ "$want" = fail ] && ! grep -q "entity/src differs" "$copy/out"; then
    cat "$copy/out"
    echo "drift check: $what failed, but not with a drift report" >&2
    exit 1
  fi
  echo "drift check: $what -> $got (as expected)"
}

fresh_copy
expect pass "a clean checkout"

fresh_copy
printf '\n// edited by hand\n' >>"$copy/repo/entity/src/stores.rs"
expect fail "an entity edited by hand"

fresh_copy
# A migration gains a column that the committed entities do not have.
sed -i 's/\.col(string(Stores::Niche))/.col(string(Stores::Niche))\n            .col(string_null(Alias::new("tagline")))/' \
  "$copy/repo/migration/src/m20261122_000003_stores.rs"
grep -q tagline "$copy/repo/migration/src/m20261122_000003_stores.rs"
expect fail "a migration changed without regenerating"
