# shellcheck shell=bash
# Harness shared by bench/demo and bench/run: one nginx in a temporary
# prefix on 127.0.0.1 serving both the test backends and the balancers in
# front of them, HAProxy in front of the same backends if asked, wrk with
# bench/count.lua, and cleanup of everything started.
#
#   bench_init NAME                 temporary prefix, cleanup on exit
#   conf_reset                      forget backends and upstreams
#   conf_backend PORT DELAY_MS [PORT...]
#                                   backend answering its port after DELAY_MS
#                                   (0: "return 200" at once); with more
#                                   ports, one server block listening on all
#   conf_switch_backend PORT FAST_MS SLOW_MS FILE
#                                   backend answering after SLOW_MS while FILE
#                                   exists, after FAST_MS otherwise
#   conf_upstream NAME "METHOD" PORT...
#                                   upstream NAME (METHOD "" = round robin),
#                                   proxied at http://127.0.0.1:$FRONT_PORT/NAME,
#                                   with keepalive $UPSTREAM_KEEPALIVE
#   conf_stream_upstream NAME "METHOD" LISTEN_PORT PORT...
#                                   stream upstream NAME over the backends,
#                                   proxied by a stream server on LISTEN_PORT
#                                   (loads the stream modules)
#   nginx_start WORKERS [CPUS]      write the configuration, start, wait ready
#   nginx_stop
#   haproxy_start PORT THREADS "CPUS" BACKEND_PORT...
#                                   HAProxy in the foreground on 127.0.0.1:PORT,
#                                   balance leastconn over the backends, in
#                                   mode $HAPROXY_MODE (http, or tcp)
#   haproxy_stop
#   wrk_run LABEL URL CONNS SECONDS count|plain|timeline [CPUS] [THREADS]
#                                   fills RESULT[key] and BACKEND[port]; wrk's
#                                   output stays in $WRK_OUT
#   wrk_start ARGS / wrk_wait       wrk_run in two halves, to act meanwhile;
#                                   timeline: write the wall-clock time of a
#                                   change to $WRK_SWITCH_FILE, get requests
#                                   per backend per $SLICE_MS ms (count.lua)
#   record, derive_ratio, stat, cell, figures_json
#                                   figures of repeated runs, see "figures"
#   nginx131_check BINARY           NGINX131_VERSION, or dies unless BINARY
#                                   is an nginx of 1.31 or later
#
# Settings (environment): NGINX_BINARY, MODULE, STREAM_MODULE,
# NGINX_STREAM_MODULE, ECHO_MODULE, WRK, HAPROXY;
# BENCH_KEEP=1 keeps the prefix (configuration, logs, raw wrk output).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")

NGINX_BINARY=${NGINX_BINARY:-/usr/sbin/nginx}
MODULE=${MODULE:-$ROOT/build/ngx_http_upstream_latency_module.so}
STREAM_MODULE=${STREAM_MODULE:-$ROOT/build/ngx_stream_upstream_latency_module.so}
NGINX_STREAM_MODULE=${NGINX_STREAM_MODULE:-/usr/lib/nginx/modules/ngx_stream_module.so}
ECHO_MODULE=${ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}
WRK=${WRK:-wrk}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}

PREFIX=
NGINX_PID=
NGINX_WORKERS=
HAPROXY_PID=
HAPROXY_PORT=
HAPROXY_MODE=http
# directives added to every backend's server block
BACKEND_DIRECTIVES=
UPSTREAM_KEEPALIVE=32
WRK_PID=
WRK_OUT=
WRK_LABEL=
WRK_MODE=
WRK_SWITCH_FILE=
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
    if [ -f "$STREAM_MODULE" ]; then
        cp "$STREAM_MODULE" "$PREFIX/modules/"
        STREAM_MODULE=$PREFIX/modules/${STREAM_MODULE##*/}
    fi
}

bench_cleanup() {
    if [ -n "$WRK_PID" ]; then
        kill -TERM "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
        WRK_PID=
    fi
    haproxy_stop
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
    : >"$PREFIX/conf/stream.conf"
    UPSTREAM_NAMES=()
}

# The directives answering with the server's port after DELAY_MS.
backend_body() {
    # shellcheck disable=SC2016  # nginx variables
    if [ "$1" = 0 ]; then
        printf 'return 200 "$server_port\\n";'
    else
        printf 'echo_sleep %s; echo $server_port;' "$(calc '%.3f' "$1 / 1000")"
    fi
}

conf_backend() {
    local port delay_ms=$2
    {
        printf 'server {\n'
        for port in "$1" "${@:3}"; do
            printf '    listen 127.0.0.1:%s;\n' "$port"
        done
        printf '    %s\n' "$BACKEND_DIRECTIVES"
        printf '    location / { %s }\n}\n' "$(backend_body "$delay_ms")"
    } >>"$PREFIX/conf/backends.conf"
}

# The "if" block is a location of its own: while FILE exists, its commands
# answer instead of the outer ones (not in addition to them).  Without
# open_file_cache nginx looks for FILE at each request, so creating or
# removing it changes the backend's speed at once, without a reload.
conf_switch_backend() {
    local port=$1 fast_ms=$2 slow_ms=$3 file=$4
    # workers run as another user: let them look into the directories
    # (mktemp's 0700) on the way to FILE, nothing more
    chmod go+x "$PREFIX" "$(dirname "$file")"
    cat >>"$PREFIX/conf/backends.conf" <<EOF
server {
    listen 127.0.0.1:$port;
    location / {
        if (-f $file) { $(backend_body "$slow_ms") }
        $(backend_body "$fast_ms")
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
        printf '    keepalive %s;\n}\n' "$UPSTREAM_KEEPALIVE"
    } >>"$PREFIX/conf/upstreams.conf"
    printf 'location = /%s { proxy_pass http://%s; }\n' "$name" "$name" \
        >>"$PREFIX/conf/locations.conf"
    UPSTREAM_NAMES+=("$name")
}

conf_stream_upstream() {
    local name=$1 method=$2 listen=$3 port
    shift 3
    {
        printf 'upstream %s {\n' "$name"
        [ -z "$method" ] || printf '    %s;\n' "$method"
        for port in "$@"; do
            printf '    server 127.0.0.1:%s;\n' "$port"
        done
        printf '}\nserver { listen 127.0.0.1:%s; proxy_pass %s; }\n' \
            "$listen" "$name"
    } >>"$PREFIX/conf/stream.conf"
}

conf_write() {
    local workers=$1 stream=
    if [ -s "$PREFIX/conf/stream.conf" ]; then
        [ -f "$STREAM_MODULE" ] \
            || die "stream module not built: $STREAM_MODULE (run 'make module')"
        [ -f "$NGINX_STREAM_MODULE" ] \
            || die "not found: $NGINX_STREAM_MODULE (libnginx-mod-stream)"
        stream="load_module $NGINX_STREAM_MODULE;
load_module $STREAM_MODULE;
stream { include stream.conf; }"
    fi
    cat >"$PREFIX/conf/nginx.conf" <<EOF
load_module $ECHO_MODULE;
load_module $MODULE;
$stream

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

# --- HAProxy -------------------------------------------------------------

# One HAProxy process (threads, no master) run in the foreground (-db) from
# a configuration in the prefix; the system's haproxy service is not used.
haproxy_start() {
    local port=$1 threads=$2 cpus=$3 backend i cmd
    shift 3
    command -v "$HAPROXY" >/dev/null \
        || die "haproxy not found: $HAPROXY (Debian package haproxy)"
    {
        cat <<EOF
global
    nbthread $threads
    maxconn 4096

defaults
    mode $HAPROXY_MODE
    timeout connect 1s
    timeout client 30s
    timeout server 30s
EOF
        if [ "$HAPROXY_MODE" = http ]; then
            cat <<EOF
    # idle connections to the backends are kept and shared between client
    # connections, as nginx's upstream "keepalive" does
    http-reuse always
EOF
        fi
        cat <<EOF

frontend front
    bind 127.0.0.1:$port
    default_backend backends

backend backends
    balance leastconn
EOF
        for backend in "$@"; do
            printf '    server s%s 127.0.0.1:%s\n' "$backend" "$backend"
        done
    } >"$PREFIX/conf/haproxy.cfg"

    cmd=("$HAPROXY" -db -f "$PREFIX/conf/haproxy.cfg")
    if ! "${cmd[@]}" -c -q >"$PREFIX/logs/haproxy-test.log" 2>&1; then
        cat "$PREFIX/logs/haproxy-test.log" >&2
        die "haproxy rejected its configuration"
    fi
    if [ -n "$cpus" ]; then
        cmd=(taskset -c "$cpus" "${cmd[@]}")
    fi
    "${cmd[@]}" >>"$PREFIX/logs/haproxy.log" 2>&1 &
    HAPROXY_PID=$!
    HAPROXY_PORT=$port

    for ((i = 0; i < 100; i++)); do
        kill -0 "$HAPROXY_PID" 2>/dev/null || break
        [ "$(http_status "$port" / 2>/dev/null)" = 200 ] && return 0
        sleep 0.1
    done
    tail -n 20 "$PREFIX/logs/haproxy.log" >&2
    die "haproxy did not answer on 127.0.0.1:$port within 10 s"
}

haproxy_stop() {
    local i
    [ -n "$HAPROXY_PID" ] || return 0
    kill -TERM "$HAPROXY_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$HAPROXY_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$HAPROXY_PID" 2>/dev/null || true
    wait "$HAPROXY_PID" 2>/dev/null || true
    HAPROXY_PID=
    # shellcheck disable=SC2034  # read by bench/run
    HAPROXY_PORT=
}

haproxy_version() {
    "$HAPROXY" -v 2>&1 | awk 'NR == 1 { print $1, $3 }'
}

# --- wrk -----------------------------------------------------------------

# wrk_run LABEL URL CONNECTIONS SECONDS MODE [CPUS] [THREADS]
# MODE count: one thread per connection, per-request latency and backends;
# MODE timeline: count, and the timeline around a switch (count.lua);
# MODE plain: THREADS threads (default 1), throughput only.
wrk_run() {
    wrk_start "$@"
    wrk_wait
}

# wrk_run's first half: starts wrk in the background, bounded in time.
wrk_start() {
    local label=$1 url=$2 conns=$3 secs=$4 mode=$5 cpus=${6:-}
    local threads=${7:-1} cmd args=("$5")
    WRK_LABEL=$label WRK_MODE=$mode WRK_OUT="$PREFIX/wrk-$label.out"
    WRK_SWITCH_FILE=
    case $mode in
        count) threads=$conns ;;
        timeline)
            threads=$conns
            WRK_SWITCH_FILE="$PREFIX/switch-$label"
            rm -f "$WRK_SWITCH_FILE"
            args=(count "$WRK_SWITCH_FILE" "${SLICE_MS:-250}") ;;
    esac

    cmd=(timeout -k 5 $((secs + 30)) "$WRK" -t "$threads" -c "$conns"
         -d "${secs}s" --timeout 5s -s "$BENCH_DIR/count.lua" "$url"
         -- "${args[@]}")
    if [ -n "$cpus" ]; then
        cmd=(taskset -c "$cpus" "${cmd[@]}")
    fi
    "${cmd[@]}" >"$WRK_OUT" 2>&1 &
    WRK_PID=$!
}

# wrk_run's second half: waits for wrk, reads and checks its results.
wrk_wait() {
    local label=$WRK_LABEL mode=$WRK_MODE out=$WRK_OUT rc=0 tag key value
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
    if [ -n "$HAPROXY_PID" ] && ! kill -0 "$HAPROXY_PID" 2>/dev/null; then
        tail -n 20 "$PREFIX/logs/haproxy.log" >&2
        printf '%s: haproxy exited during %s\n' "${0##*/}" "$label" >&2
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
    if [ "$mode" != plain ]; then
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

# --- figures -------------------------------------------------------------
#
# Every figure of every run is a line of $PREFIX/figures.tsv,
#   SCENARIO  BALANCER  KEY  RUN  VALUE
# and what describes a scenario (settings, a timeline) a line of
# $PREFIX/scenarios.tsv, SCENARIO  KEY  JSON.  Tables and the JSON file are
# made from them: median and spread (min-max) over the runs.

RUN=1       # the run being measured
RUNS=1      # runs per configuration

# record SCENARIO BALANCER KEY VALUE: one figure of run $RUN
record() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$RUN" "$4" \
        >>"$PREFIX/figures.tsv"
}

# describe SCENARIO KEY JSON
describe() {
    printf '%s\t%s\t%s\n' "$@" >>"$PREFIX/scenarios.tsv"
}

# derive_ratio SCENARIO KEY REFERENCE: records KEY_vs_REFERENCE for every
# balancer, run by run: its KEY over REFERENCE's KEY in the same run.
derive_ratio() {
    awk -F'\t' -v OFS='\t' -v s="$1" -v key="$2" -v ref="$3" '
        $1 == s && $3 == key {
            if (!($2 in seen)) { seen[$2]; order[++n] = $2 }
            v[$2, $4] = $5; runs[$4]
        }
        END {
            for (i = 1; i <= n; i++)
                for (r in runs)
                    if (((order[i], r) in v) && ((ref, r) in v) && v[ref, r] != 0)
                        printf "%s\t%s\t%s_vs_%s\t%s\t%.6g\n", s, order[i],
                            key, ref, r, v[order[i], r] / v[ref, r]
        }' "$PREFIX/figures.tsv" >"$PREFIX/ratios.tsv"
    cat "$PREFIX/ratios.tsv" >>"$PREFIX/figures.tsv"
}

# awk functions: sort the n first elements of a, median of sorted a
AWK_MEDIAN='
    function sort_n(a, n,    i, j, t) {
        for (i = 2; i <= n; i++) {
            t = a[i]
            for (j = i - 1; j >= 1 && a[j] > t; j--)
                a[j + 1] = a[j]
            a[j + 1] = t
        }
    }
    function median_n(a, n) {
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }'

# stat SCENARIO BALANCER KEY: "median min max runs", nothing if no figure
stat() {
    awk -F'\t' -v s="$1" -v b="$2" -v key="$3" "$AWK_MEDIAN"'
        $1 == s && $2 == b && $3 == key { v[++n] = $5 + 0 }
        END {
            if (n == 0) exit
            sort_n(v, n)
            printf "%.10g %.10g %.10g %d\n", median_n(v, n), v[1], v[n], n
        }' "$PREFIX/figures.tsv"
}

# cell FORMAT SCENARIO BALANCER KEY [SCALE]: "median (min–max)" of KEY
# times SCALE, as a table cell; only the median if the runs agree to FORMAT,
# "–" if there is no figure.
cell() {
    local format=$1 scale=${5:-1} figures
    figures=$(stat "$2" "$3" "$4")
    if [ -z "$figures" ]; then
        printf '–'
        return
    fi
    # shellcheck disable=SC2086  # four numbers
    awk -v f="$format" -v k="$scale" -v runs="$RUNS" '
        function fmt(x) { return sprintf(f, x * k) }
        BEGIN {
            m = fmt(ARGV[1]); lo = fmt(ARGV[2]); hi = fmt(ARGV[3])
            printf "%s", (lo == hi ? m : m " (" lo "–" hi ")")
            if (ARGV[4] < runs) printf ", %d of %d runs", ARGV[4], runs
        }' $figures
}

# figures_json: {SCENARIO: {KEY: JSON..., "balancers": {BALANCER: {KEY:
# {"median", "min", "max", "runs": [one per run, null where none]}}}}}
figures_json() {
    touch "$PREFIX/scenarios.tsv" "$PREFIX/figures.tsv"
    awk -F'\t' "$AWK_MEDIAN"'
        function scenario(s) {
            if (!(s in known)) { known[s]; order[++ns] = s }
        }
        FILENAME == ARGV[1] {
            scenario($1)
            info[$1, ++ni[$1]] = "\"" $2 "\": " $3
            next
        }
        {
            s = $1; b = $2; key = $3; r = $4
            scenario(s)
            if (!((s, b) in seen_b)) { seen_b[s, b]; bal[s, ++nb[s]] = b }
            if (!((s, b, key) in seen_k)) { seen_k[s, b, key]; keys[s, b, ++nk[s, b]] = key }
            v[s, b, key, r] = $5
            if (r + 0 > last_run[s]) last_run[s] = r + 0
        }
        END {
            printf "{"
            for (i = 1; i <= ns; i++) {
                s = order[i]
                printf "%s\n    \"%s\": {", (i > 1 ? "," : ""), s
                sep = ""
                for (j = 1; j <= ni[s]; j++) {
                    printf "%s\n      %s", sep, info[s, j]
                    sep = ","
                }
                if (nb[s] == 0) { printf "\n    }"; continue }
                printf "%s\n      \"balancers\": {", sep
                for (j = 1; j <= nb[s]; j++) {
                    b = bal[s, j]
                    printf "%s\n        \"%s\": {", (j > 1 ? "," : ""), b
                    for (m = 1; m <= nk[s, b]; m++) {
                        key = keys[s, b, m]
                        n = 0; runs = ""
                        for (r = 1; r <= last_run[s]; r++) {
                            x = "null"
                            if ((s, b, key, r) in v) {
                                x = sprintf("%.10g", v[s, b, key, r])
                                a[++n] = x + 0
                            }
                            runs = runs (r > 1 ? ", " : "") x
                        }
                        stats = "\"median\": null, \"min\": null, \"max\": null"
                        if (n > 0) {
                            sort_n(a, n)
                            stats = sprintf("\"median\": %.10g, \"min\": %.10g, \"max\": %.10g",
                                            median_n(a, n), a[1], a[n])
                        }
                        printf "%s\n          \"%s\": {%s, \"runs\": [%s]}",
                            (m > 1 ? "," : ""), key, stats, runs
                    }
                    printf "\n        }"
                }
                printf "\n      }\n    }"
            }
            printf "\n  }"
        }' "$PREFIX/scenarios.tsv" "$PREFIX/figures.tsv"
}

# json_string TEXT: TEXT as a JSON string
json_string() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# nginx131_check BINARY: NGINX131_VERSION, the version of BINARY, an nginx
# of 1.31 or later (BENCH_NGINX_131); dies if it is not one
nginx131_check() {
    NGINX131_VERSION=$("$1" -v 2>&1 \
        | sed -n 's|^nginx version: nginx/\([0-9.]*\).*|\1|p') || true
    [ -n "$NGINX131_VERSION" ] \
        || die "BENCH_NGINX_131 is not an nginx binary: $1"
    printf '1.31\n%s\n' "$NGINX131_VERSION" | sort -V -C \
        || die "BENCH_NGINX_131 is nginx $NGINX131_VERSION, not 1.31 or later: $1"
}

nginx_version() {
    "$NGINX_BINARY" -v 2>&1 | sed 's/^nginx version: //'
}

cpu_model() {
    awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo
}
