#!/usr/bin/env bash
# Brings up a local PostgreSQL for the store contract tests (Debian 12, PostgreSQL 15, run as root).
#
# Idempotent: starts the cluster if it is down, waits until it accepts connections, then
# creates the `cityops` role (LOGIN CREATEDB, password `cityops`) and the `cityops` database
# if they are missing. The tests connect over TCP (scram passwords) with
#   CITYOPS_TEST_PG_ADMIN_URL=postgres://cityops:cityops@127.0.0.1:5432/postgres
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_PORT="${PG_PORT:-5432}"
WAIT_SECS="${WAIT_SECS:-30}"

die() { echo "test-postgres: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (uses pg_ctlcluster and su postgres)"
command -v pg_ctlcluster >/dev/null || die "pg_ctlcluster not found: is postgresql-common installed?"
command -v pg_isready >/dev/null || die "pg_isready not found: is postgresql-client installed?"

psql_admin() {
    # The local socket uses peer auth, so psql runs as the postgres OS user.
    su postgres -c "psql -v ON_ERROR_STOP=1 -p ${PG_PORT} -qtA $(printf '%q ' "$@")"
}

if ! pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" status >/dev/null 2>&1; then
    echo "test-postgres: starting cluster ${PG_VERSION}/${PG_CLUSTER}"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start \
        || die "could not start cluster ${PG_VERSION}/${PG_CLUSTER}; see /var/log/postgresql/postgresql-${PG_VERSION}-${PG_CLUSTER}.log"
fi

ready=0
for _ in $(seq 1 "$((WAIT_SECS * 2))"); do
    if pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then ready=1; break; fi
    sleep 0.5
done
[ "$ready" -eq 1 ] || die "server on 127.0.0.1:${PG_PORT} not ready after ${WAIT_SECS}s"

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'cityops'")" != "1" ]; then
    echo "test-postgres: creating role cityops"
    psql_admin -c "CREATE ROLE cityops WITH LOGIN CREATEDB PASSWORD 'cityops'" \
        || die "could not create role cityops"
else
    # Keep the attributes the tests rely on even if the role was made by hand.
    psql_admin -c "ALTER ROLE cityops WITH LOGIN CREATEDB PASSWORD 'cityops'" \
        || die "could not update role cityops"
fi

if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'cityops'")" != "1" ]; then
    echo "test-postgres: creating database cityops"
    psql_admin -c "CREATE DATABASE cityops OWNER cityops" || die "could not create database cityops"
fi

PGPASSWORD=cityops psql -h 127.0.0.1 -p "$PG_PORT" -U cityops -d cityops -qtA -c "SELECT 1" >/dev/null \
    || die "cannot log in as cityops over TCP on 127.0.0.1:${PG_PORT} (check pg_hba.conf allows scram-sha-256 for host connections)"

echo "test-postgres: ready at postgres://cityops:cityops@127.0.0.1:${PG_PORT}/cityops"
