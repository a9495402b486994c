/*
 * Load for bench/capacity, over keep-alive connections to one or more
 * front ports (independent balancers), with exact per-request latencies.
 *
 *   openload open PORTS PATH RATE SECONDS TIMEOUT_MS
 *   openload closed PORTS PATH CLIENTS SECONDS TIMEOUT_MS
 *
 * PORTS is a comma-separated list.  "open": requests start at Poisson
 * times, RATE per second, whether or not earlier ones were answered (wrk,
 * a closed loop, slows down with the server instead); a request's latency
 * runs from its scheduled start, so that a stalled generator cannot hide a
 * queue; an idle connection is reused, else one is opened, to the ports in
 * turn.  "closed": CLIENTS connections spread over the ports in turn, each
 * sending its next request as soon as the previous one is answered.
 *
 * Prints, as bench/count.lua does:
 *   @result requests|errors|timeouts|rps|p50_us|p99_us|p999_us <number>
 *   @backend <body of the answer: the backend's port> <responses>
 * A request not answered 200 within TIMEOUT_MS is an error (timeouts
 * counts those that timed out; their connection is closed).
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_PORTS 16
#define MAX_BACKENDS 64
#define BUF_SIZE 2048

struct conn {
    int       fd;
    int       port;
    int       busy;
    uint64_t  scheduled_us;
    size_t    used;
    char      buf[BUF_SIZE];
};

static struct conn  conns[MAX_CONNS];
static int          nconns;
static int          epfd;
static int          ports[MAX_PORTS], nports, next_port;
static char         request[512];
static size_t       request_len;

static uint64_t    *latencies;
static size_t       nlatencies, requests, errors, timeouts;
static int          backend_port[MAX_BACKENDS];
static size_t       backend_count[MAX_BACKENDS];
static int          nbackends;

static uint64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* splitmix64, fixed seed: the same arrival times on every run */
static uint64_t rng_state = 1;

static double
uniform(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return ((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static void
close_conn(struct conn *c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->busy = 0;
}

/* Connects c to the next port in turn; -1 on failure. */
static int
open_conn(struct conn *c)
{
    int                 one = 1;
    struct sockaddr_in  sin;
    struct epoll_event  ev;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(ports[next_port++ % nports]);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd == -1) {
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* a blocking connect: on loopback it completes at once */
    if (connect(c->fd, (struct sockaddr *) &sin, sizeof(sin)) == -1) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    c->busy = 0;
    c->used = 0;
    return 0;
}

/* An idle connection, or a new one; NULL if none can be had. */
static struct conn *
idle_conn(void)
{
    int  i;

    for (i = 0; i < nconns; i++) {
        if (conns[i].fd != -1 && !conns[i].busy) {
            return &conns[i];
        }
    }
    for (i = 0; i < nconns && conns[i].fd != -1; i++) { }
    if (i == MAX_CONNS) {
        return NULL;
    }
    if (i == nconns) {
        nconns++;
    }
    return open_conn(&conns[i]) == 0 ? &conns[i] : NULL;
}

/* Sends a request scheduled at `at` on c; a failure counts as an error. */
static void
send_request(struct conn *c, uint64_t at)
{
    if (c == NULL) {
        requests++;
        errors++;
        return;
    }
    if (write(c->fd, request, request_len) != (ssize_t) request_len) {
        requests++;
        errors++;
        close_conn(c);
        return;
    }
    c->busy = 1;
    c->used = 0;
    c->scheduled_us = at;
}

static void
count_backend(const char *body)
{
    int  i, port = atoi(body);

    for (i = 0; i < nbackends && backend_port[i] != port; i++) { }
    if (i == MAX_BACKENDS) {
        return;
    }
    if (i == nbackends) {
        backend_port[nbackends++] = port;
    }
    backend_count[i]++;
}

static void
finish(struct conn *c, int ok, uint64_t now)
{
    requests++;
    if (ok) {
        latencies[nlatencies++] = now - c->scheduled_us;
    } else {
        errors++;
    }
    c->busy = 0;
    c->used = 0;
}

/* Reads a response; returns 1 when one was completed on c. */
static int
readable(struct conn *c, uint64_t now, uint64_t timeout_us)
{
    ssize_t  n;
    char    *end, *length;
    size_t   body;
    int      ok;

    n = read(c->fd, c->buf + c->used, BUF_SIZE - 1 - c->used);
    if (n <= 0) {
        if (n == -1 && errno == EAGAIN) {
            return 0;
        }
        if (c->busy) {
            finish(c, 0, now);
        }
        close_conn(c);
        return 1;
    }
    c->used += n;
    c->buf[c->used] = '\0';
    end = strstr(c->buf, "\r\n\r\n");
    if (end == NULL) {
        return 0;
    }
    length = strcasestr(c->buf, "\r\ncontent-length:");
    body = length ? strtoul(length + 17, NULL, 10) : 0;
    if (c->used < (size_t) (end + 4 - c->buf) + body) {
        return 0;
    }
    ok = strncmp(c->buf, "HTTP/1.1 200", 12) == 0
         && now - c->scheduled_us <= timeout_us;
    if (ok) {
        count_backend(end + 4);
    }
    finish(c, ok, now);
    return 1;
}

static int
compare(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static unsigned long long
percentile(double q)
{
    size_t k = (size_t) (q * nlatencies);

    if (nlatencies == 0) {
        return 0;
    }
    return latencies[k < nlatencies ? k : nlatencies - 1];
}

int
main(int argc, char **argv)
{
    int                 i, n, open_loop, clients = 0;
    char               *port, *save = NULL;
    double              rate = 0, seconds;
    uint64_t            start, end, next, now, timeout_us, wait_us;
    struct conn        *c;
    struct timespec     wait;
    struct epoll_event  events[256];

    if (argc != 7
        || (strcmp(argv[1], "open") != 0 && strcmp(argv[1], "closed") != 0))
    {
        fprintf(stderr, "usage: openload open|closed PORTS PATH "
                        "RATE|CLIENTS SECONDS TIMEOUT_MS\n");
        return 2;
    }
    open_loop = strcmp(argv[1], "open") == 0;
    for (port = strtok_r(argv[2], ",", &save); port && nports < MAX_PORTS;
         port = strtok_r(NULL, ",", &save))
    {
        ports[nports++] = atoi(port);
    }
    request_len = snprintf(request, sizeof(request),
                           "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n",
                           argv[3]);
    if (open_loop) {
        rate = atof(argv[4]);
    } else {
        clients = atoi(argv[4]);
    }
    seconds = atof(argv[5]);
    timeout_us = (uint64_t) (atof(argv[6]) * 1000);

    /* room for every request, at the rate or at 1 per 100 us per client */
    latencies = malloc(sizeof(uint64_t)
                       * (size_t) ((open_loop ? rate : clients * 1e4)
                                   * seconds * 2 + 16));
    /* a peer that went away is an error to count, not a reason to die */
    signal(SIGPIPE, SIG_IGN);

    epfd = epoll_create1(0);
    if (latencies == NULL || epfd == -1 || nports == 0) {
        perror("openload");
        return 1;
    }
    for (i = 0; i < MAX_CONNS; i++) {
        conns[i].fd = -1;
    }

    start = now_us();
    end = start + (uint64_t) (seconds * 1e6);
    next = open_loop ? start : end;

    for (i = 0; i < clients && i < MAX_CONNS; i++) {
        nconns++;
        send_request(open_conn(&conns[i]) == 0 ? &conns[i] : NULL, start);
    }

    for ( ;; ) {
        now = now_us();

        /* open loop: every request due by now starts now */
        while (next <= now && next < end) {
            send_request(idle_conn(), next);
            next += (uint64_t) (-log1p(-uniform()) / rate * 1e6) + 1;
        }

        /* requests past their timeout are errors; their connection goes */
        for (i = 0; i < nconns; i++) {
            c = &conns[i];
            if (c->busy && now - c->scheduled_us > timeout_us) {
                finish(c, 0, now);
                timeouts++;
                close_conn(c);
                if (!open_loop && now < end) {
                    send_request(open_conn(c) == 0 ? c : NULL, now);
                }
            }
        }

        if (now >= end || (open_loop && next >= end)) {
            for (i = 0; i < nconns && !conns[i].busy; i++) { }
            if (i == nconns) {
                break;
            }
        }

        /* until the next start, to the microsecond, at most 10 ms */
        wait_us = next > now ? next - now : 0;
        if (wait_us > 10000) {
            wait_us = 10000;
        }
        wait.tv_sec = 0;
        wait.tv_nsec = (long) wait_us * 1000;
        n = epoll_pwait2(epfd, events, 256, &wait, NULL);
        now = now_us();
        for (i = 0; i < n; i++) {
            c = events[i].data.ptr;
            if (readable(c, now, timeout_us) && !open_loop && now < end) {
                if (c->fd == -1 && open_conn(c) == -1) {
                    continue;
                }
                send_request(c, now);
            }
        }
    }

    qsort(latencies, nlatencies, sizeof(uint64_t), compare);
    printf("@result requests %zu\n@result errors %zu\n@result timeouts %zu\n"
           "@result rps %.1f\n@result p50_us %llu\n@result p99_us %llu\n"
           "@result p999_us %llu\n",
           requests, errors, timeouts, requests / seconds, percentile(0.5),
           percentile(0.99), percentile(0.999));
    for (i = 0; i < nbackends; i++) {
        printf("@backend %d %zu\n", backend_port[i], backend_count[i]);
    }
    return 0;
}
