# tests/integration/lib_mariadb.sh - a private MariaDB server for a test.
#
# Source it, then:  mdb_init || exit $?   (77 = no mariadbd here: skip)
# It makes a temp dir with a fresh data directory (mariadb-install-db), starts
# mariadbd on a free 127.0.0.1 port with the user root@127.0.0.1 and the
# password $MDB_PASS, and installs an EXIT trap that shuts the server down
# (mariadb-admin, then TERM, then KILL) and removes the dir, on failure too.
#   mdb_stop / mdb_start   stop and start the same server (outage tests)
#   mdb_sql "SQL"          run SQL over TCP as root: tab-separated, raw, no header
# Sets MDB_DIR, MDB_PORT, MDB_PASS.  MDB_KEEP=1 keeps the dir.

MDB_DIR="" MDB_PORT="" MDB_PID="" MDB_PASS="sg-test-$$-pw"

mdb_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

mdb_free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$(( 20000 + RANDOM % 12000 ))  # below the ephemeral range (32768+)
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}

mdb_sql() {
    MYSQL_PWD=$MDB_PASS mariadb --no-defaults --protocol=TCP -h 127.0.0.1 \
        -P "$MDB_PORT" -u root -N -B --raw -e "$1"
}

mdb_start() {
    mariadbd --no-defaults --user=root --datadir="$MDB_DIR/data" \
        --socket="$MDB_DIR/sock" --port="$MDB_PORT" --bind-address=127.0.0.1 \
        --pid-file="$MDB_DIR/mariadbd.pid" --log-error="$MDB_DIR/error.log" \
        --skip-name-resolve --innodb-buffer-pool-size=64M \
        --innodb-log-file-size=32M --max-connections=50 >>"$MDB_DIR/out.log" 2>&1 &
    MDB_PID=$!
    for _ in $(seq 1 120); do
        if mariadb-admin --no-defaults --socket="$MDB_DIR/sock" -u root \
               ${MDB_READY:+--password="$MDB_PASS"} ping >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$MDB_PID" 2>/dev/null || break
        sleep 0.5
    done
    echo "mariadbd did not start; error log:"; tail -n 20 "$MDB_DIR/error.log"
    return 1
}

mdb_stop() {
    [[ -n "$MDB_PID" ]] || return 0
    MYSQL_PWD=$MDB_PASS mariadb-admin --no-defaults --socket="$MDB_DIR/sock" \
        -u root shutdown >/dev/null 2>&1 || kill -TERM "$MDB_PID" 2>/dev/null
    for _ in $(seq 1 60); do
        kill -0 "$MDB_PID" 2>/dev/null || break
        sleep 0.5
    done
    kill -KILL "$MDB_PID" 2>/dev/null
    wait "$MDB_PID" 2>/dev/null
    MDB_PID=""
}

mdb_cleanup() {
    local rc=$?
    mdb_stop
    if [[ -n "$MDB_DIR" && -z "${MDB_KEEP:-}" ]]; then
        rm -rf "$MDB_DIR"
    elif [[ -n "$MDB_DIR" ]]; then
        echo "kept $MDB_DIR"
    fi
    exit "$rc"
}

mdb_init() {
    if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null ||
       ! command -v mariadb >/dev/null; then
        echo "skip: mariadbd, mariadb-install-db or mariadb not installed"
        return 77
    fi
    if [[ $(id -u) -ne 0 ]] && ! touch "${TMPDIR:-/tmp}/.mdb-probe-$$" 2>/dev/null; then
        echo "skip: cannot write a temp dir for mariadbd"
        return 77
    fi
    rm -f "${TMPDIR:-/tmp}/.mdb-probe-$$"
    MDB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sg-mariadb.XXXXXX") || return 1
    trap mdb_cleanup EXIT
    trap 'exit 130' INT TERM
    MDB_PORT=$(mdb_free_port) || { echo "no free port"; return 1; }
    mdb_log "mariadb-install-db into $MDB_DIR/data"
    if ! mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$MDB_DIR/data" \
            --auth-root-authentication-method=normal --skip-test-db \
            >"$MDB_DIR/install.log" 2>&1; then
        echo "mariadb-install-db failed:"; tail -n 20 "$MDB_DIR/install.log"
        return 1
    fi
    mdb_start || return 1
    # root@localhost (socket) and root@127.0.0.1 (TCP) both get the password.
    mariadb --no-defaults --socket="$MDB_DIR/sock" -u root -e "
        ALTER USER 'root'@'localhost' IDENTIFIED BY '$MDB_PASS';
        CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
        ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$MDB_PASS';
        GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
        FLUSH PRIVILEGES;" || { echo "could not set the root password"; return 1; }
    MDB_READY=1
    mdb_log "mariadbd pid $MDB_PID on 127.0.0.1:$MDB_PORT"
}
