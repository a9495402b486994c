/*
 * A backend with a capacity, for bench/capacity: WORKERS threads each serve
 * one request at a time, blocking DELAY_MS in nanosleep().  HTTP/1.1 with
 * keep-alive; every answer is the port, so that bench/count.lua can tell
 * the backends apart.
 *
 *   capsrv PORT WORKERS DELAY_MS [shared|per-worker]
 *
 * shared (the default): requests that find every worker busy wait in one
 * FIFO queue, as in a thread-pool application server.  per-worker: each
 * worker has a queue of its own, and a request joins one at random, where
 * it waits even while another worker is idle: a server of worker processes
 * (nginx, prefork), where a request waits for the process that accepted
 * its keep-alive connection, whichever connection nginx reused.  Drawn per
 * request, not per connection, so that one run's luck in spreading
 * connections over the processes does not last the whole run.
 *
 * One thread reads requests from all connections (epoll) and queues a
 * connection when its request is complete; a worker takes it, sleeps,
 * answers, and hands the connection back to epoll for its next request.
 *
 * GET /queue is answered at once by the reading thread, never queued:
 * "queued Q busy B", the requests waiting and those being served, for
 * bench/capacity to wait until a run's leftovers are gone.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 65536
#define BUF_SIZE 4096

struct conn {
    size_t used;
    char buf[BUF_SIZE];
};

static struct conn *conns[MAX_FDS];
static int epfd;
static struct timespec delay;
static char answer[256];
static size_t answer_len;

/* FIFO queues of connections with a complete request: one, or one per
 * worker */
struct queue {
    int fds[MAX_FDS];
    size_t head, tail;
    pthread_cond_t ready;
};

static struct queue *queues;
static int nqueues;
static int busy;  /* workers serving a request */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static void
watch(int fd, int op)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT,
                              .data.fd = fd };

    if (epoll_ctl(epfd, op, fd, &ev) == -1) {
        die("epoll_ctl");
    }
}

static void
drop(int fd)
{
    free(conns[fd]);
    conns[fd] = NULL;
    close(fd);
}

static void *
worker(void *arg)
{
    int           fd;
    struct queue *q = arg;

    for ( ;; ) {
        pthread_mutex_lock(&lock);
        while (q->head == q->tail) {
            pthread_cond_wait(&q->ready, &lock);
        }
        fd = q->fds[q->head++ % MAX_FDS];
        busy++;
        pthread_mutex_unlock(&lock);

        /* the worker is occupied for the whole delay */
        while (nanosleep(&delay, NULL) == -1 && errno == EINTR) { }

        pthread_mutex_lock(&lock);
        busy--;
        pthread_mutex_unlock(&lock);

        if (write(fd, answer, answer_len) != (ssize_t) answer_len) {
            drop(fd);
            continue;
        }
        watch(fd, EPOLL_CTL_MOD);
    }
    return NULL;
}

/* Answers GET /queue on fd at once, and closes it. */
static void
report_queue(int fd)
{
    char    body[64], reply[256];
    size_t  queued;
    int     serving, len, i;

    queued = 0;
    pthread_mutex_lock(&lock);
    for (i = 0; i < nqueues; i++) {
        queued += queues[i].tail - queues[i].head;
    }
    serving = busy;
    pthread_mutex_unlock(&lock);

    snprintf(body, sizeof(body), "queued %zu busy %d\n", queued, serving);
    len = snprintf(reply, sizeof(reply),
                   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   strlen(body), body);
    if (write(fd, reply, len) != len) {
        /* the prober went away: nothing to report to */
    }
    drop(fd);
}

/* Reads what fd has; queues it once a request header is complete. */
static void
readable(int fd)
{
    struct conn  *c = conns[fd];
    struct queue *q;
    ssize_t       n;
    char         *end;
    int           queue_asked;

    n = read(fd, c->buf + c->used, BUF_SIZE - 1 - c->used);
    if (n <= 0) {
        drop(fd);
        return;
    }
    c->used += n;
    c->buf[c->used] = '\0';

    end = strstr(c->buf, "\r\n\r\n");
    if (end == NULL) {
        if (c->used == BUF_SIZE - 1) {
            drop(fd);
        } else {
            watch(fd, EPOLL_CTL_MOD);
        }
        return;
    }
    /* requests carry no body; anything after the header is the next one */
    end += 4;
    queue_asked = strncmp(c->buf, "GET /queue ", 11) == 0;
    c->used -= end - c->buf;
    memmove(c->buf, end, c->used);

    if (queue_asked) {
        report_queue(fd);
        return;
    }

    pthread_mutex_lock(&lock);
    q = &queues[nqueues > 1 ? random() % nqueues : 0];
    q->fds[q->tail++ % MAX_FDS] = fd;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&lock);
}

int
main(int argc, char **argv)
{
    int                 port, workers, per_worker, ls, fd, i, n, one = 1;
    double              ms;
    pthread_t           t;
    struct sockaddr_in  sin;
    struct epoll_event  events[64];
    char                body[16];

    per_worker = argc == 5 && strcmp(argv[4], "per-worker") == 0;
    if ((argc != 4 && argc != 5)
        || (argc == 5 && !per_worker && strcmp(argv[4], "shared") != 0))
    {
        fprintf(stderr,
                "usage: capsrv PORT WORKERS DELAY_MS [shared|per-worker]\n");
        return 2;
    }
    port = atoi(argv[1]);
    workers = atoi(argv[2]);
    ms = atof(argv[3]);
    if (workers < 1) {
        fprintf(stderr, "capsrv: WORKERS must be at least 1\n");
        return 2;
    }
    delay.tv_sec = (time_t) (ms / 1000);
    delay.tv_nsec = (long) ((ms - delay.tv_sec * 1000) * 1e6);

    snprintf(body, sizeof(body), "%d\n", port);
    answer_len = snprintf(answer, sizeof(answer),
                          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                          "Content-Length: %zu\r\n\r\n%s",
                          strlen(body), body);

    ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls == -1) {
        die("socket");
    }
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *) &sin, sizeof(sin)) == -1) {
        die("bind");
    }
    if (listen(ls, 1024) == -1) {
        die("listen");
    }

    /* a peer that went away is an error to count, not a reason to die */
    signal(SIGPIPE, SIG_IGN);

    epfd = epoll_create1(0);
    if (epfd == -1) {
        die("epoll_create1");
    }
    struct epoll_event lev = { .events = EPOLLIN, .data.fd = ls };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, ls, &lev) == -1) {
        die("epoll_ctl");
    }

    nqueues = per_worker ? workers : 1;
    srandom(port);
    queues = calloc(nqueues, sizeof(struct queue));
    if (queues == NULL) {
        die("calloc");
    }
    for (i = 0; i < nqueues; i++) {
        pthread_cond_init(&queues[i].ready, NULL);
    }

    for (i = 0; i < workers; i++) {
        if (pthread_create(&t, NULL, worker, &queues[i % nqueues]) != 0) {
            die("pthread_create");
        }
    }

    for ( ;; ) {
        n = epoll_wait(epfd, events, 64, -1);
        for (i = 0; i < n; i++) {
            if (events[i].data.fd != ls) {
                readable(events[i].data.fd);
                continue;
            }
            fd = accept(ls, NULL, NULL);
            if (fd == -1) {
                continue;
            }
            if (fd >= MAX_FDS) {
                close(fd);
                continue;
            }
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            conns[fd] = calloc(1, sizeof(struct conn));
            if (conns[fd] == NULL) {
                close(fd);
                continue;
            }
            watch(fd, EPOLL_CTL_ADD);
        }
    }
}
