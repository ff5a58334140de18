#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (the xUnit fixture and the Pester helper both use this):
#   pg-cluster.sh start PORT   prints "DIR<TAB>CONNECTION STRING"; exit 3 when no PostgreSQL is installed
#   pg-cluster.sh createdb PORT NAME   a new empty database in it
#   pg-cluster.sh stop DIR     stops it at once and deletes it
# initdb runs as an unprivileged user (postgres, when we are root, as CI is), into a temporary folder owned
# by that user; the server listens on 127.0.0.1:PORT with its socket in that folder. trust auth and
# fsync=off: a test cluster starts in about a second and holds nothing worth keeping.
set -euo pipefail

find_bin() {
    local d
    for d in "${ABSTRAKT_PG_BIN:-}" /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
        if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
    done
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
    return 1
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    port="$2"
    bin="$(find_bin)" || { echo "No PostgreSQL found (looked for initdb in ABSTRAKT_PG_BIN, /usr/lib/postgresql/*/bin and PATH)." >&2; exit 3; }
    dir="$(mktemp -d /tmp/abstrakt-pg-XXXXXX)"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U abstrakt -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    printf '%s\tHost=127.0.0.1;Port=%s;Username=abstrakt;Database=postgres\n' "$dir" "$port"
    ;;
createdb)
    bin="$(find_bin)"
    "$bin/createdb" -h 127.0.0.1 -p "$2" -U abstrakt "$3"
    ;;
stop)
    dir="$2"
    bin="$(find_bin)" || exit 0
    case "$dir" in /tmp/abstrakt-pg-*) ;; *) echo "not a test cluster: $dir" >&2; exit 2 ;; esac
    as_owner "$bin/pg_ctl" -D "$dir/data" stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg-cluster.sh start PORT | createdb PORT NAME | stop DIR" >&2
    exit 2
    ;;
esac
