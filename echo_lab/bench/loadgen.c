/* A load client for `python -m echo_lab bench`: request/response echoes.
 *
 * A Python client saturates one core at well under what a good server
 * answers, so the benchmark drives servers with this small epoll client.
 * Each of CONNS connections sends SIZE bytes, reads until all SIZE bytes are
 * back, notes the round trip and sends again, for SECONDS.  It reads while
 * it sends, so a server that pushes back never deadlocks it.  With SECONDS 0
 * it connects, holds the connections idle for HOLD seconds and closes.
 *
 * The SECONDS are counted once the server is ready: first every connection
 * sends one message and has its echo back, and waits for the others (a
 * warm-up of WARM_UP seconds at most, not counted), so the measured window
 * holds no accepts, however busy the machine; then it prints "ready" on a
 * line of its own and every connection starts sending.
 *
 *   loadgen HOST PORT CONNS SIZE SECONDS [HOLD]
 *
 * Prints one JSON line: messages, seconds, msgs_per_s, p50_us, p99_us,
 * errors, connected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 4000000
#define WARM_UP 30.0 /* seconds at most for every connection's first echo */

typedef struct { int fd; size_t sent, got; double t0; } conn_t; /* fd -1: no socket */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: loadgen HOST PORT CONNS SIZE SECONDS [HOLD]\n");
        return 1;
    }
    int nconn = atoi(argv[3]);
    size_t size = (size_t)atol(argv[4]);
    double seconds = atof(argv[5]), hold = argc > 6 ? atof(argv[6]) : 0;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad address %s\n", argv[1]);
        return 1;
    }
    conn_t *conns = calloc(nconn, sizeof *conns);
    char *out = malloc(size ? size : 1), *in = malloc(65536);
    double *lat = malloc(sizeof(double) * MAX_SAMPLES);
    if (!conns || !out || !in || !lat) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    for (int i = 0; i < nconn; i++) conns[i].fd = -1; /* not 0: fd 0 is stdin */
    memset(out, 'x', size);
    int ep = epoll_create1(0), connected = 0, errors = 0, one = 1;
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
            fprintf(stderr, "loadgen: connection %d: %s\n", i + 1, strerror(errno));
            if (fd >= 0) close(fd);
            conns[i].fd = -1;
            errors++;
            break;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        conns[i].fd = fd;
        connected++;
    }
    if (seconds <= 0) { /* idle: hold the connections, then close */
        struct timespec ts = {(time_t)hold, (long)((hold - (time_t)hold) * 1e9)};
        nanosleep(&ts, NULL);
        printf("{\"messages\": 0, \"seconds\": %.3f, \"msgs_per_s\": 0, \"p50_us\": 0, \"p99_us\": 0,"
               " \"errors\": %d, \"connected\": %d}\n", hold, errors, connected);
        return 0;
    }
    double start = now(), end = start + WARM_UP;
    for (int i = 0; i < connected; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
        conns[i].t0 = start;
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    char *answered = calloc(connected ? connected : 1, 1); /* warm-up: has this connection had its echo? */
    int warm = 1, waiting = connected; /* connections alive and still without their first echo */
    long nsamples = 0, messages = 0;
    struct epoll_event events[512];
    while (now() < end) {
        if (warm && waiting == 0) { /* every connection served once: the server is ready */
            warm = 0;
            printf("ready\n");
            fflush(stdout);
            start = now();
            end = start + seconds;
            for (int i = 0; i < connected; i++) {
                if (conns[i].fd < 0) continue;
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
                conns[i].t0 = start;
                epoll_ctl(ep, EPOLL_CTL_MOD, conns[i].fd, &ev);
            }
        }
        int n = epoll_wait(ep, events, 512, 100);
        for (int k = 0; k < n; k++) {
            int i = events[k].data.u32;
            conn_t *c = &conns[i];
            if (c->fd < 0) continue;
            if ((events[k].events & EPOLLOUT) && c->sent < size) {
                ssize_t s = send(c->fd, out + c->sent, size - c->sent, MSG_NOSIGNAL);
                if (s > 0) c->sent += s;
                if (c->sent == size) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                ssize_t r = recv(c->fd, in, 65536, 0);
                if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
                    errors++;
                    if (warm && !answered[i]) waiting--;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    c->fd = -1;
                    continue;
                }
                if (r > 0) c->got += r;
                if (c->got >= size) {
                    double t = now();
                    if (!warm && nsamples < MAX_SAMPLES) lat[nsamples++] = t - c->t0;
                    c->got -= size;
                    c->sent = 0;
                    c->t0 = t;
                    if (warm) { /* served once: wait for the others, reading only */
                        if (!answered[i]) { answered[i] = 1; waiting--; }
                        continue;
                    }
                    messages++;
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
        }
    }
    if (warm) { /* the warm-up ran out: say so, measure nothing */
        fprintf(stderr, "loadgen: %d of %d connections had no echo in %.0f s\n", waiting, connected, WARM_UP);
        start = now();
    }
    double elapsed = now() - start;
    qsort(lat, nsamples, sizeof *lat, cmp);
    double p50 = nsamples ? lat[nsamples / 2] * 1e6 : 0, p99 = nsamples ? lat[nsamples * 99 / 100] * 1e6 : 0;
    printf("{\"messages\": %ld, \"seconds\": %.3f, \"msgs_per_s\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f,"
           " \"errors\": %d, \"connected\": %d}\n",
           messages, elapsed, messages / elapsed, p50, p99, errors, connected);
    for (int i = 0; i < nconn; i++)
        if (conns[i].fd >= 0) close(conns[i].fd);
    return 0;
}
