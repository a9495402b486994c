# shellcheck shell=bash
# Harness shared by bench/demo and bench/run: one nginx in a temporary
# prefix on 127.0.0.1 serving both the test backends and the balancers in
# front of them, wrk with bench/count.lua, and cleanup of everything started.
#
#   bench_init NAME                 temporary prefix, cleanup on exit
#   conf_reset                      forget backends and upstreams
#   conf_backend PORT DELAY_MS      backend answering its port after DELAY_MS
#                                   (0: "return 200" at once)
#   conf_upstream NAME "METHOD" PORT...
#                                   upstream NAME (METHOD "" = round robin),
#                                   proxied at http://127.0.0.1:$FRONT_PORT/NAME
#   nginx_start WORKERS [CPUS]      write the configuration, start, wait ready
#   nginx_stop
#   wrk_run LABEL URL CONNS SECONDS count|plain [CPUS] [THREADS]
#                                   fills RESULT[key] and BACKEND[port]
#
# Settings (environment): NGINX_BINARY, MODULE, ECHO_MODULE, WRK;
# BENCH_KEEP=1 keeps the prefix (configuration, logs, raw wrk output).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")

NGINX_BINARY=${NGINX_BINARY:-/usr/sbin/nginx}
MODULE=${MODULE:-$ROOT/build/ngx_http_upstream_latency_module.so}
ECHO_MODULE=${ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}
WRK=${WRK:-wrk}

PREFIX=
NGINX_PID=
NGINX_WORKERS=
WRK_PID=
FRONT_PORT=
UPSTREAM_NAMES=()
declare -A RESULT=()
declare -A BACKEND=()

die() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
    exit 1
}

# Progress for the operator, on stderr, so stdout stays the report.
note() {
    printf '%s\n' "$*" >&2
}

bench_init() {
    local tool
    for tool in "$NGINX_BINARY" "$WRK" timeout; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
    [ -f "$MODULE" ] || die "module not built: $MODULE (run 'make module')"
    [ -f "$ECHO_MODULE" ] \
        || die "echo module not found: $ECHO_MODULE (libnginx-mod-http-echo)"

    PREFIX=$(mktemp -d "${TMPDIR:-/tmp}/upstream-latency-$1.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP

    # nginx maps the module for as long as it runs; a rebuild that rewrites
    # build/*.so in place would crash it, so run from a private copy.
    mkdir -p "$PREFIX/modules"
    cp "$MODULE" "$PREFIX/modules/"
    MODULE=$PREFIX/modules/${MODULE##*/}
}

bench_cleanup() {
    if [ -n "$WRK_PID" ]; then
        kill -TERM "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
        WRK_PID=
    fi
    nginx_stop
    if [ -n "${BENCH_KEEP:-}" ]; then
        note "kept $PREFIX"
    elif [ -n "$PREFIX" ] && [ -d "$PREFIX" ]; then
        rm -rf "$PREFIX"
    fi
}

# Whether taskset can pin here (util-linux present, cpuset allows it).
can_pin() {
    command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null \
        && taskset -c 1 true 2>/dev/null
}

# --- configuration -------------------------------------------------------

conf_reset() {
    mkdir -p "$PREFIX/conf" "$PREFIX/logs" "$PREFIX/tmp"
    : >"$PREFIX/conf/backends.conf"
    : >"$PREFIX/conf/upstreams.conf"
    : >"$PREFIX/conf/locations.conf"
    UPSTREAM_NAMES=()
}

conf_backend() {
    local port=$1 delay_ms=$2 body
    if [ "$delay_ms" = 0 ]; then
        # shellcheck disable=SC2016  # an nginx variable
        body='return 200 "$server_port\n";'
    else
        body="echo_sleep $(awk -v ms="$delay_ms" 'BEGIN { printf "%.3f", ms / 1000 }');
            echo \$server_port;"
    fi
    cat >>"$PREFIX/conf/backends.conf" <<EOF
server {
    listen 127.0.0.1:$port;
    location / {
        $body
    }
}
EOF
}

conf_upstream() {
    local name=$1 method=$2 port
    shift 2
    {
        printf 'upstream %s {\n' "$name"
        [ -z "$method" ] || printf '    %s;\n' "$method"
        for port in "$@"; do
            printf '    server 127.0.0.1:%s;\n' "$port"
        done
        printf '    keepalive 32;\n}\n'
    } >>"$PREFIX/conf/upstreams.conf"
    printf 'location = /%s { proxy_pass http://%s; }\n' "$name" "$name" \
        >>"$PREFIX/conf/locations.conf"
    UPSTREAM_NAMES+=("$name")
}

conf_write() {
    local workers=$1
    cat >"$PREFIX/conf/nginx.conf" <<EOF
load_module $ECHO_MODULE;
load_module $MODULE;

worker_processes $workers;
pid logs/nginx.pid;
lock_file logs/nginx.lock;
error_log logs/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

    keepalive_requests 1000000;
    proxy_http_version 1.1;
    proxy_set_header Connection "";

    include backends.conf;
    include upstreams.conf;

    server {
        listen 127.0.0.1:$FRONT_PORT;
        location = /ready { return 200 "ready\n"; }
        include locations.conf;
    }
}
EOF
}

# --- nginx ---------------------------------------------------------------

# Status code of GET http://127.0.0.1:PORT/PATH, without curl.
http_status() {
    local fd line
    exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$2" >&"$fd"
    IFS=' ' read -r -t 3 _ line _ <&"$fd" || line=
    exec {fd}>&-
    printf '%s\n' "$line"
}

nginx_start() {
    local workers=$1 cpus=${2:-} i name ready cmd
    [ -n "$FRONT_PORT" ] || die "FRONT_PORT not set"
    conf_write "$workers"
    : >"$PREFIX/logs/error.log"

    cmd=("$NGINX_BINARY" -p "$PREFIX/" -c conf/nginx.conf -e logs/error.log)
    if ! "${cmd[@]}" -t -q >"$PREFIX/logs/test.log" 2>&1; then
        cat "$PREFIX/logs/test.log" >&2
        die "nginx rejected the configuration"
    fi
    if [ -n "$cpus" ]; then
        cmd=(taskset -c "$cpus" "${cmd[@]}")
    fi
    "${cmd[@]}" -g 'daemon off;' >>"$PREFIX/logs/stderr.log" 2>&1 &
    NGINX_PID=$!

    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$NGINX_PID" 2>/dev/null; then
            wait "$NGINX_PID" 2>/dev/null || true
            NGINX_PID=
            tail -n 20 "$PREFIX/logs/stderr.log" "$PREFIX/logs/error.log" >&2
            die "nginx did not start"
        fi
        if [ "$(http_status "$FRONT_PORT" /ready 2>/dev/null)" = 200 ]; then
            ready=1
            for name in "${UPSTREAM_NAMES[@]}"; do
                [ "$(http_status "$FRONT_PORT" "/$name" 2>/dev/null)" = 200 ] \
                    || ready=0
            done
            if [ "$ready" = 1 ]; then
                NGINX_WORKERS=$(ps -o pid= --ppid "$NGINX_PID" || true)
                return 0
            fi
        fi
        sleep 0.1
    done
    tail -n 20 "$PREFIX/logs/error.log" >&2
    die "nginx did not answer on 127.0.0.1:$FRONT_PORT within 10 s"
}

nginx_alive() {
    [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null \
        && ! grep -q '^[0-9]* (.*) Z' "/proc/$NGINX_PID/stat" 2>/dev/null
}

nginx_stop() {
    local i pid
    [ -n "$NGINX_PID" ] || return 0
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        nginx_alive || break
        sleep 0.1
    done
    if nginx_alive; then
        kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=
    # Workers outlive a master that crashed or was killed: end ours, by id.
    for pid in $NGINX_WORKERS; do
        if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" \
                | grep -q '^nginx: worker process'; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    NGINX_WORKERS=
}

# --- wrk -----------------------------------------------------------------

# wrk_run LABEL URL CONNECTIONS SECONDS MODE [CPUS] [THREADS]
# MODE count: one thread per connection, per-request latency and backends;
# MODE plain: THREADS threads (default 1), throughput only.
wrk_run() {
    local label=$1 url=$2 conns=$3 secs=$4 mode=$5 cpus=${6:-}
    local threads=${7:-1} out="$PREFIX/wrk-$1.out" rc=0 tag key value cmd
    [ "$mode" = count ] && threads=$conns

    cmd=(timeout -k 5 $((secs + 30)) "$WRK" -t "$threads" -c "$conns"
         -d "${secs}s" --timeout 5s -s "$BENCH_DIR/count.lua" "$url"
         -- "$mode")
    if [ -n "$cpus" ]; then
        cmd=(taskset -c "$cpus" "${cmd[@]}")
    fi
    "${cmd[@]}" >"$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || rc=$?
    WRK_PID=

    RESULT=()
    BACKEND=()
    while read -r tag key value; do
        case $tag in
            @result) RESULT[$key]=$value ;;
            @backend) BACKEND[$key]=$value ;;
        esac
    done < <(grep '^@' "$out" || true)

    if [ -n "$NGINX_PID" ] && ! nginx_alive; then
        tail -n 20 "$PREFIX/logs/stderr.log" "$PREFIX/logs/error.log" >&2
        printf '%s: nginx exited during %s\n' "${0##*/}" "$label" >&2
        return 1
    fi
    if [ "$rc" != 0 ] || [ "${RESULT[requests]:-0}" = 0 ]; then
        cat "$out" >&2
        printf '%s: wrk failed for %s (exit %s, %s requests)\n' \
            "${0##*/}" "$label" "$rc" "${RESULT[requests]:-0}" >&2
        return 1
    fi
    for key in connect read write status timeout; do
        if [ "${RESULT[errors_$key]:-0}" != 0 ]; then
            cat "$out" >&2
            printf '%s: %s: %s %s errors\n' "${0##*/}" "$label" \
                "${RESULT[errors_$key]}" "$key" >&2
            return 1
        fi
    done
    if [ "$mode" = count ]; then
        for key in "${!BACKEND[@]}"; do
            case $key in
                status-* | unknown)
                    printf '%s: %s: %s responses "%s"\n' "${0##*/}" "$label" \
                        "${BACKEND[$key]}" "$key" >&2
                    return 1 ;;
            esac
        done
    fi
}

# --- numbers -------------------------------------------------------------

# calc FORMAT EXPRESSION: awk arithmetic, printf-formatted
calc() {
    awk "BEGIN { printf \"$1\", $2 }"
}

# percentage of BACKEND[port] in RESULT[timed]
share() {
    calc '%.1f' "100 * ${BACKEND[$1]:-0} / ${RESULT[timed]}"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

nginx_version() {
    "$NGINX_BINARY" -v 2>&1 | sed 's/^nginx version: //'
}

cpu_model() {
    awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo
}
