#!/usr/bin/env bash
# A private Virtuoso Open Source instance for the remote-store tests, reachable on 127.0.0.1 only.
#
#   .ci/virtuoso.sh install   install Debian's virtuoso-opensource without starting its daemon
#   .ci/virtuoso.sh start     create (or reuse) an instance under $VIRTUOSO_DIR and wait until it answers
#   .ci/virtuoso.sh env       print the `export KG_TEST_VIRTUOSO…` lines the tests read
#   .ci/virtuoso.sh stop      stop the instance (its files stay under $VIRTUOSO_DIR)
#
# Environment:
#   VIRTUOSO_DIR        folder owned by this instance: ini, database, logs, state (required)
#   VIRTUOSO_SQL_PORT   SQL (isql) port; VIRTUOSO_HTTP_PORT  HTTP port (default: free ports)
#   VIRTUOSO_MAX_ROWS   [SPARQL] ResultSetMaxRows (default 10000, Virtuoso's own cap: the tests
#                       check that the remote store declares the cut instead of hiding it)
#   VIRTUOSO_MAX_SECONDS  [SPARQL] MaxQueryExecutionTime (default 60)
#
# Traps handled here: the package's postinst would start a system daemon listening on every
# interface; isql-vt exits 0 when a statement fails (its output is checked for "*** Error");
# a new database always starts as dba/dba (the password is replaced by a random one per
# instance, with USER_SET_PASSWORD, which accepts any characters); updates over HTTP need
# /sparql-auth with digest authentication.
set -euo pipefail

die() { echo "virtuoso.sh: $*" >&2; exit 1; }

PKG_SHARE=/usr/share/virtuoso-opensource-7

need_dir() {
  [ -n "${VIRTUOSO_DIR:-}" ] || die "set VIRTUOSO_DIR to a folder for this instance"
  STATE="$VIRTUOSO_DIR/instance.env"
}

# Run SQL through isql-vt; fail (and show the output) when Virtuoso reports an error.
sql() {  # $1 password, $2 statements
  local out
  out=$(isql-vt "127.0.0.1:$SQL_PORT" dba "$1" "EXEC=$2" 2>&1) || true
  if grep -q '\*\*\* Error' <<<"$out"; then
    printf '%s\n' "$out" >&2
    return 1
  fi
  printf '%s\n' "$out"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

http_ready() {
  curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$HTTP_PORT/sparql?query=ASK%20%7B%7D"
}

pid_alive() { [ -n "${PID:-}" ] && kill -0 "$PID" 2>/dev/null; }

write_ini() {
  local db="$VIRTUOSO_DIR/db"
  cat > "$VIRTUOSO_DIR/virtuoso.ini" <<EOF
; Private test instance: both listeners on the loopback interface only.
[Database]
DatabaseFile       = $db/virtuoso.db
ErrorLogFile       = $db/virtuoso.log
LockFile           = $db/virtuoso.lck
TransactionFile    = $db/virtuoso.trx
xa_persistent_file = $db/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = $db/virtuoso-temp.db
TransactionFile    = $db/virtuoso-temp.trx
Striping           = 0

[Parameters]
ServerPort           = 127.0.0.1:$SQL_PORT
DisableUnixSocket    = 1
DisableTcpSocket     = 0
MaxClientConnections = 20
CheckpointInterval   = 60
CaseMode             = 2
AllowOSCalls         = 0
DirsAllowed          = ., $VIRTUOSO_DIR, $PKG_SHARE/vad
VADInstallDir        = $PKG_SHARE/vad/
NumberOfBuffers      = 85000
MaxDirtyBuffers      = 65000
MaxQueryMem          = 1G
ThreadsPerQuery      = 2

[HTTPServer]
ServerPort           = 127.0.0.1:$HTTP_PORT
ServerRoot           = /var/lib/virtuoso-opensource-7/vsp
MaxClientConnections = 20
ServerThreads        = 20
EnabledDavVSP        = 0
HTTPProxyEnabled     = 0
KeepAliveTimeout     = 10
Charset              = UTF-8
EnabledGzipContent   = 0

[SPARQL]
ResultSetMaxRows           = ${VIRTUOSO_MAX_ROWS:-10000}
MaxQueryExecutionTime      = ${VIRTUOSO_MAX_SECONDS:-60}
MaxQueryCostEstimationTime = 400
EOF
}

cmd_install() {
  if command -v virtuoso-t >/dev/null 2>&1 && command -v isql-vt >/dev/null 2>&1; then
    echo "virtuoso-opensource is already installed"
    return
  fi
  # policy-rc.d exiting 101 tells the package scripts not to start services: the package's
  # own daemon would listen on 0.0.0.0:1111 and 0.0.0.0:8890 with the default dba password.
  local created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created=1
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends virtuoso-opensource >/dev/null || status=$?
  if [ "$created" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ "$status" = 0 ] || die "apt-get install virtuoso-opensource failed (run 'apt-get update' first?)"
}

cmd_start() {
  need_dir
  command -v virtuoso-t >/dev/null 2>&1 || die "virtuoso-t is not installed: run '$0 install'"
  mkdir -p "$VIRTUOSO_DIR/db"
  chmod 700 "$VIRTUOSO_DIR"
  PASSWORD=""; PID=""
  # shellcheck disable=SC1090
  [ -f "$STATE" ] && . "$STATE"
  if pid_alive; then
    echo "virtuoso already running (pid $PID, SQL 127.0.0.1:$SQL_PORT, HTTP 127.0.0.1:$HTTP_PORT)"
    return
  fi
  SQL_PORT=${VIRTUOSO_SQL_PORT:-${SQL_PORT:-$(free_port)}}
  HTTP_PORT=${VIRTUOSO_HTTP_PORT:-${HTTP_PORT:-$(free_port)}}
  [ "$SQL_PORT" != "$HTTP_PORT" ] || HTTP_PORT=$(free_port)
  local fresh=0
  [ -f "$VIRTUOSO_DIR/db/virtuoso.db" ] || fresh=1
  if [ "$fresh" = 1 ] || [ -z "$PASSWORD" ]; then
    [ "$fresh" = 1 ] || die "$VIRTUOSO_DIR holds a database whose dba password is unknown; remove it"
    # hex digits only: the password travels inside an SQL string literal
    PASSWORD=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  fi
  write_ini
  (cd "$VIRTUOSO_DIR/db" && exec virtuoso-t +configfile "$VIRTUOSO_DIR/virtuoso.ini" +foreground \
      >"$VIRTUOSO_DIR/virtuoso.out" 2>&1) &
  PID=$!
  save_state

  # A new database answers to dba/dba until the password is changed below.
  local login="$PASSWORD"; [ "$fresh" = 1 ] && login=dba
  local i
  for i in $(seq 1 240); do
    isql-vt "127.0.0.1:$SQL_PORT" dba "$login" 'EXEC=select 1;' >/dev/null 2>&1 && break
    pid_alive || { tail -n 30 "$VIRTUOSO_DIR/db/virtuoso.log" "$VIRTUOSO_DIR/virtuoso.out" >&2 2>/dev/null; die "virtuoso exited while starting"; }
    sleep 0.5
  done
  isql-vt "127.0.0.1:$SQL_PORT" dba "$login" 'EXEC=select 1;' >/dev/null 2>&1 \
    || { cmd_stop >/dev/null 2>&1 || true; die "the SQL port did not answer within 120 s"; }

  if [ "$fresh" = 1 ]; then
    # dba may update through /sparql-auth (digest) as it is: it belongs to the DBA group, which
    # bypasses the SPARQL_UPDATE role; another account would need GRANT SPARQL_UPDATE TO "name".
    # The anonymous SPARQL user of /sparql is left read-only (updates there are refused).
    sql dba "USER_SET_PASSWORD('dba', '$PASSWORD'); checkpoint;" >/dev/null \
      || { cmd_stop >/dev/null 2>&1 || true; die "could not set up the dba account"; }
  fi

  for i in $(seq 1 120); do http_ready && break; sleep 0.5; done
  http_ready || { cmd_stop >/dev/null 2>&1 || true; die "the HTTP port did not answer within 60 s"; }
  echo "virtuoso up (pid $PID, SQL 127.0.0.1:$SQL_PORT, HTTP 127.0.0.1:$HTTP_PORT, files in $VIRTUOSO_DIR)"
}

save_state() {
  ( umask 077
    printf 'SQL_PORT=%s\nHTTP_PORT=%s\nPASSWORD=%s\nPID=%s\n' "$SQL_PORT" "$HTTP_PORT" "$PASSWORD" "$PID" > "$STATE" )
}

load_state() {
  need_dir
  [ -f "$STATE" ] || die "no instance under $VIRTUOSO_DIR: run '$0 start' first"
  # shellcheck disable=SC1090
  . "$STATE"
}

cmd_env() {
  load_state
  local base="http://127.0.0.1:$HTTP_PORT"
  printf 'export KG_TEST_VIRTUOSO=%s/sparql KG_TEST_VIRTUOSO_UPDATE=%s/sparql-auth KG_TEST_VIRTUOSO_USER=dba KG_TEST_VIRTUOSO_PASSWORD=%s KG_TEST_VIRTUOSO_MAX_ROWS=%s\n' \
    "$base" "$base" "$PASSWORD" "${VIRTUOSO_MAX_ROWS:-10000}"
}

cmd_stop() {
  need_dir
  [ -f "$STATE" ] || { echo "no instance under $VIRTUOSO_DIR"; return 0; }
  # shellcheck disable=SC1090
  . "$STATE"
  if ! pid_alive; then echo "virtuoso is not running"; return 0; fi
  # A clean shutdown (checkpoint) through SQL; the signal only if that fails.
  isql-vt "127.0.0.1:$SQL_PORT" dba "$PASSWORD" 'EXEC=shutdown;' >/dev/null 2>&1 || kill "$PID" 2>/dev/null || true
  local i
  for i in $(seq 1 60); do pid_alive || break; sleep 0.5; done
  if pid_alive; then kill -9 "$PID" 2>/dev/null || true; fi
  PID=""
  save_state
  echo "virtuoso stopped"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  env) cmd_env ;;
  stop) cmd_stop ;;
  *) echo "usage: $0 install|start|env|stop   (VIRTUOSO_DIR names the instance's folder)" >&2; exit 2 ;;
esac
