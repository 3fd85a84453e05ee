#!/usr/bin/env bash
# Regenerate entity/src from a freshly migrated PostgreSQL database, or check that the
# committed entities are exactly what the migrations produce.
#
#   scripts/entities.sh           regenerate entity/src (after a schema edit)
#   scripts/entities.sh --check   regenerate into a temporary folder; exit 1 with a diff
#                                 when entity/src differs (CI runs this)
#
# Environment:
#   ENTITY_ADMIN_URL     a Postgres server to create a scratch database on
#                        (default postgres://postgres@127.0.0.1:5432/postgres); needs psql
#   ENTITY_DATABASE_URL  instead of a scratch database, an existing one the script may wipe
#   SEA_ORM_CLI          path of the sea-orm-cli binary to use (must be version $PINNED)
set -euo pipefail

PINNED=2.0.4
# The generator's flags. Deliberate choices:
#   --lib                      entity/src/lib.rs, since entity is a library crate
#   --entity-format compact    the stable format (dense is marked unstable in 2.0)
#   --with-serde both          models (de)serialize, for fixtures and admin tooling
#   --date-time-crate chrono   the workspace's time crate
#   --with-copy-enums          the database enums are plain tags; Copy makes them cheap to pass
#   --ignore-tables            the migration bookkeeping table is not part of the model
#   --banner-version patch     the header names the exact generator version
FLAGS=(
  --lib
  --entity-format compact
  --with-serde both
  --date-time-crate chrono
  --with-copy-enums
  --with-prelude all
  --ignore-tables seaql_migrations
  --banner-version patch
)

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

say() { printf 'entities: %s\n' "$*" >&2; }

# The generator: an installed sea-orm-cli of the pinned version, or the workspace's own build of
# the same crate (tools/sea-orm-cli), which reuses the workspace's compiled dependencies.
cli=${SEA_ORM_CLI:-}
if [ -z "$cli" ] && command -v sea-orm-cli >/dev/null 2>&1; then
  if sea-orm-cli --version 2>/dev/null | grep -qx "sea-orm-cli $PINNED"; then
    cli=$(command -v sea-orm-cli)
  else
    say "installed $(sea-orm-cli --version 2>/dev/null || echo sea-orm-cli) is not $PINNED; using the workspace build"
    say "(to use an installed one: cargo install sea-orm-cli --version $PINNED --locked)"
  fi
fi
if [ -z "$cli" ]; then
  say "building sea-orm-cli $PINNED from the workspace (tools/sea-orm-cli)"
  cargo build --quiet -p sea-orm-cli-local
  cli="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/sea-orm-cli"
fi
version=$("$cli" --version 2>/dev/null || true)
if [ "$version" != "sea-orm-cli $PINNED" ]; then
  say "$cli reports '${version:-nothing}', expected 'sea-orm-cli $PINNED'."
  say "Unset SEA_ORM_CLI to use the workspace build, or: cargo install sea-orm-cli --version $PINNED --locked"
  exit 1
fi

# A Postgres database migrated from zero.
scratch=""
cleanup() {
  if [ -n "$scratch" ]; then
    psql "$ENTITY_ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$scratch\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ -n "${tmp:-}" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT

if [ -n "${ENTITY_DATABASE_URL:-}" ]; then
  url=$ENTITY_DATABASE_URL
else
  ENTITY_ADMIN_URL=${ENTITY_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  if ! command -v psql >/dev/null 2>&1; then
    say "psql (the PostgreSQL client) is needed to create a scratch database."
    say "Install it, or set ENTITY_DATABASE_URL to an empty Postgres database this script may wipe."
    exit 1
  fi
  if ! psql "$ENTITY_ADMIN_URL" -q -c 'select 1' >/dev/null 2>&1; then
    say "cannot reach Postgres at $ENTITY_ADMIN_URL."
    say "Start it (docker compose up -d postgres) or set ENTITY_ADMIN_URL / ENTITY_DATABASE_URL."
    exit 1
  fi
  scratch="zyenta_entities_$$"
  psql "$ENTITY_ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$scratch\"" >/dev/null
  url="${ENTITY_ADMIN_URL%/*}/$scratch"
fi

say "migrating a fresh database"
cargo run --quiet -p migration -- -u "$url" fresh >/dev/null

tmp=$(mktemp -d)
out="$tmp/src"
"$cli" generate entity --database-url "$url" --output-dir "$out" "${FLAGS[@]}" >/dev/null
rustfmt --edition 2024 "$out"/*.rs

if [ "$check" = 1 ]; then
  if diff -ru --label committed/entity/src --label generated/entity/src entity/src "$out" >"$tmp/diff"; then
    say "entity/src matches the migrations"
  else
    cat "$tmp/diff"
    say "entity/src differs from what the migrations generate (diff above)."
    say "Entities are never edited by hand: run scripts/entities.sh and commit the result."
    exit 1
  fi
else
  rm -rf entity/src
  cp -r "$out" entity/src
  say "regenerated entity/src"
fi
