// The attribute reads of an ops list (ops-from-strace.py) through io_uring: each file opened into a registered
// ("direct") descriptor slot and read in one linked pair, BATCH pairs per io_uring_enter, no close (the next open
// into the slot replaces the file). What is left is the kernel's per-file work without a system call per step: the
// floor for a reader that batches. Needs liburing (Debian liburing-dev).
//
//   replay-uring OPS_FILE [BATCH (128)]      (V=1 in the environment: print bytes read and failed steps)
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 512

static char buffers[SLOTS][4097];

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: replay-uring OPS_FILE [BATCH]\n");
        return 64;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 66;
    }
    size_t capacity = 1024;
    int count = 0;
    char **paths = malloc(capacity * sizeof *paths);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0] != 'R')
            continue;
        if ((size_t)count == capacity)
            paths = realloc(paths, (capacity *= 2) * sizeof *paths);
        paths[count++] = strdup(line + 2);
    }
    fclose(f);
    int batch = argc > 2 ? atoi(argv[2]) : 128;
    if (batch < 1 || batch > SLOTS) {
        fprintf(stderr, "BATCH must be 1..%d\n", SLOTS);
        return 64;
    }
    struct io_uring ring;
    struct io_uring_params params = { .flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER };
    int error = io_uring_queue_init_params((unsigned)batch * 2, &ring, &params);
    if (error == 0)
        error = io_uring_register_files_sparse(&ring, SLOTS);
    if (error != 0) {
        fprintf(stderr, "io_uring: %s\n", strerror(-error));
        return 69;
    }
    long bytes = 0;
    int failed = 0;
    for (int first = 0; first < count; first += batch) {
        int n = count - first < batch ? count - first : batch;
        for (int j = 0; j < n; j++) {
            // O_CLOEXEC is refused (EINVAL) for a direct descriptor: it never enters the process's table.
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            io_uring_prep_openat_direct(sqe, AT_FDCWD, paths[first + j], O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0, (unsigned)j);
            sqe->flags |= IOSQE_IO_LINK;
            sqe->user_data = 1;
            sqe = io_uring_get_sqe(&ring);
            io_uring_prep_read(sqe, j, buffers[j], 4096, 0);
            sqe->flags |= IOSQE_FIXED_FILE;
            sqe->user_data = 2;
        }
        io_uring_submit_and_wait(&ring, (unsigned)n * 2);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            if (cqe->res < 0)
                failed++;
            else if (cqe->user_data == 2)
                bytes += cqe->res;
        }
        io_uring_cq_advance(&ring, seen);
    }
    if (getenv("V"))
        fprintf(stderr, "files %d bytes %ld failed steps %d\n", count, bytes, failed);
    return 0;
}
