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
#   Needs: bash, cargo, rustfmt, psql (unless ENTITY_DATABASE_URL is set). No password ever
#   appears in its output; a failing tool's real error is shown with the password removed.
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

# A URL without its password: everything between the first ':' after the scheme and the last
# '@' (the same rule as the binaries, so a malformed URL is hidden as well as a valid one).
split_url() { # sets head (scheme and separator), user, password, tail; returns 1 without one
  local url=$1 rest userinfo
  case $url in
    *://*@*) head="${url%%://*}://"; rest=${url#*://} ;;
    *:*@*) head="${url%%:*}:"; rest=${url#*:} ;;
    *) return 1 ;;
  esac
  userinfo=${rest%@*}
  case $userinfo in *:*) ;; *) return 1 ;; esac
  user=${userinfo%%:*}
  password=${userinfo#*:}
  tail=${rest##*@}
}
redact() {
  local head user password tail
  if split_url "$1"; then printf '%s%s:***@%s' "$head" "$user" "$tail"; else printf '%s' "$1"; fi
}
# The password of a URL (empty when it has none).
password_of() {
  local head user password tail
  if split_url "$1"; then printf '%s' "$password"; fi
}
# Runs a command; on failure prints its real error output with every password removed.
secrets=()
run_quiet() {
  local out status=0
  out=$("$@" 2>&1 >/dev/null) || status=$?
  if [ "$status" -ne 0 ]; then
    local secret
    for secret in "${secrets[@]}"; do
      [ -n "$secret" ] || continue
      out=${out//"$secret"/***}
      # Pieces too: a parser that split a malformed URL quotes a piece of the password.
      local piece
      for piece in ${secret//[@\/:?#]/ }; do
        if [ "${#piece}" -ge 2 ]; then out=${out//"$piece"/***}; fi
      done
    done
    printf '%s\n' "$out" | sed 's/^/entities:   /' >&2
  fi
  return "$status"
}

# A Postgres database migrated from zero: checked first, before anything is built.
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
  secrets+=("$(password_of "$url")")
else
  ENTITY_ADMIN_URL=${ENTITY_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  secrets+=("$(password_of "$ENTITY_ADMIN_URL")")
  if ! command -v psql >/dev/null 2>&1; then
    say "psql (the PostgreSQL client) is needed to create a scratch database."
    say "Install it (apt-get install postgresql-client), or set ENTITY_DATABASE_URL to an empty"
    say "Postgres database this script may wipe."
    exit 1
  fi
  if ! run_quiet psql "$ENTITY_ADMIN_URL" -q -c 'select 1'; then
    say "cannot reach Postgres at $(redact "$ENTITY_ADMIN_URL") (psql's error above)."
    say "Start it (docker compose up -d postgres) or set ENTITY_ADMIN_URL / ENTITY_DATABASE_URL."
    exit 1
  fi
  scratch="zyenta_entities_$$"
  run_quiet psql "$ENTITY_ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$scratch\""
  url="${ENTITY_ADMIN_URL%/*}/$scratch"
fi

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
  # The path of the built binary, from cargo's own report (no other tool needed).
  cli=$(cargo build --quiet -p sea-orm-cli-local --message-format=json \
    | sed -n 's/.*"executable":"\([^"]*sea-orm-cli\)".*/\1/p' | tail -n 1)
fi
version=$("$cli" --version 2>/dev/null || true)
if [ "$version" != "sea-orm-cli $PINNED" ]; then
  say "${cli:-sea-orm-cli} reports '${version:-nothing}', expected 'sea-orm-cli $PINNED'."
  say "Unset SEA_ORM_CLI to use the workspace build, or: cargo install sea-orm-cli --version $PINNED --locked"
  exit 1
fi

say "migrating a fresh database"
run_quiet cargo run --quiet -p migration -- -u "$url" fresh

tmp=$(mktemp -d)
out="$tmp/src"
run_quiet "$cli" generate entity --database-url "$url" --output-dir "$out" "${FLAGS[@]}"
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
