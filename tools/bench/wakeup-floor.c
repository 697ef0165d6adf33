// The round trip of a small message between two processes over a Unix socket pair at a fixed rate, each side
// blocked in epoll between messages: what two wake-ups cost on this machine, the floor under any server's
// latency at that rate. Compare with grpc-load's open-loop p50 at the same rate (docs/benchmarks/grpc.md).
//
//   gcc -O2 -o /tmp/wakeup-floor tools/bench/wakeup-floor.c && /tmp/wakeup-floor RATE COUNT
//
// Timed from just before the client's write to just after its read (the client's own timer wake-up is left
// out, unlike grpc-load, which times from the due time).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int compare(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static int wait_readable(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return ep;
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[1]) <= 0 || atoi(argv[2]) <= 0) {
        fprintf(stderr, "usage: wakeup-floor RATE COUNT\n");
        return 64;
    }
    int rate = atoi(argv[1]), count = atoi(argv[2]);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        perror("socketpair");
        return 71;
    }
    char message[64] = { 0 };
    if (fork() == 0) {
        close(pair[0]);
        int ep = wait_readable(pair[1]);
        for (;;) {
            struct epoll_event ev;
            if (epoll_wait(ep, &ev, 1, -1) < 1)
                continue;
            ssize_t n = read(pair[1], message, sizeof message);
            if (n <= 0 || write(pair[1], message, (size_t)n) != n)
                _exit(0);
        }
    }
    close(pair[1]);
    int ep = wait_readable(pair[0]);
    long long *latency = malloc(sizeof *latency * (size_t)count);
    long long period = 1000000000LL / rate, due = now_ns() + period;
    for (int i = 0; i < count; i++, due += period) {
        struct timespec at = { due / 1000000000LL, due % 1000000000LL };
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        long long start = now_ns();
        struct epoll_event ev;
        if (write(pair[0], message, 40) != 40 || epoll_wait(ep, &ev, 1, -1) != 1 || read(pair[0], message, sizeof message) != 40) {
            perror("round trip");
            return 74;
        }
        latency[i] = now_ns() - start;
    }
    close(pair[0]);
    wait(NULL);
    qsort(latency, (size_t)count, sizeof *latency, compare);
    printf("rate=%d/s count=%d p50=%lldus p90=%lldus p99=%lldus\n", rate, count, latency[count / 2] / 1000,
           latency[count * 9 / 10] / 1000, latency[count * 99 / 100] / 1000);
    return 0;
}
