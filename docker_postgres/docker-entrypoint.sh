#!/bin/sh
# The entry point of container-info-postgres: on a first start with an empty
# data folder, make the cluster as the official postgres image does, from the
# same settings, then run the command (postgres).
#
#   POSTGRES_USER           the superuser [postgres]
#   POSTGRES_DB             a database made for it [$POSTGRES_USER]
#   POSTGRES_PASSWORD_FILE  the file holding its password (a Swarm secret);
#   POSTGRES_PASSWORD       or the password itself. One of the two is needed.
#   PGDATA                  the data folder [/var/lib/postgresql/data]
#
# Connections over the network need the password (scram-sha-256); the local
# socket, inside the container only, is trusted.
set -eu

die() {
    echo "docker-entrypoint.sh: $*" >&2
    exit 1
}

if [ "${1:-}" = postgres ] && ! [ -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    database="${POSTGRES_DB:-$user}"
    password_file="${POSTGRES_PASSWORD_FILE:-}"
    if [ -z "$password_file" ]; then
        [ -n "${POSTGRES_PASSWORD:-}" ] ||
            die "no password: set POSTGRES_PASSWORD_FILE (a secret's path) or POSTGRES_PASSWORD"
        password_file=/tmp/password
        (umask 077 && printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file")
    fi
    [ -r "$password_file" ] || die "cannot read the password file $password_file"
    echo "docker-entrypoint.sh: a new cluster in $PGDATA, superuser $user, database $database" >&2
    initdb --pgdata="$PGDATA" --username="$user" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C \
        --no-instructions >&2
    rm -f /tmp/password
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    if [ "$database" != postgres ]; then
        printf 'CREATE DATABASE "%s";\n' "$database" |
            postgres --single -j -D "$PGDATA" postgres >/dev/null
    fi
fi

exec "$@"
