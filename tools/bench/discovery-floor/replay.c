// Replays a list of file operations (ops-from-strace.py) with nothing else: no parsing, no output, no runtime.
// The time it takes is what the kernel charges for the files one `discover` reads: a floor for any program that
// reads the same files this way.
//
//   replay OPS_FILE [THREADS]     (THREADS 1 or 2: with 2, the operations alternate between two threads)
//   replay OPS_FILE relative      (the attribute reads only, each opened relative to its directory: one O_PATH
//                                  open per change of directory, then openat(dirfd, name); sort the list by path
//                                  first to see the least path walking any reader could do)
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char **ops;
static int count;

static void run(int first, int step)
{
    char buffer[4097];
    char entries[32768];
    for (int i = first; i < count; i += step) {
        const char *path = ops[i] + 2;
        int fd;
        switch (ops[i][0]) {
        case 'R':
            fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0) {
                if (read(fd, buffer, sizeof buffer) < 0) { /* counted like a read that failed */ }
                close(fd);
            }
            break;
        case 'F':
        case 'P':
            fd = open(path, (ops[i][0] == 'P' ? O_PATH : O_RDONLY) | O_CLOEXEC);
            if (fd >= 0)
                close(fd);
            break;
        case 'D':
            fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0) {
                syscall(SYS_getdents64, fd, entries, sizeof entries);
                close(fd);
            }
            break;
        case 'L':
            if (readlink(path, buffer, sizeof buffer) < 0) { /* a dangling name: still one call */ }
            break;
        }
    }
}

static void run_relative(void)
{
    char buffer[4097];
    char directory[4096] = "";
    int dirfd = -1;
    for (int i = 0; i < count; i++) {
        if (ops[i][0] != 'R')
            continue;
        char *path = ops[i] + 2;
        char *slash = strrchr(path, '/');
        if (!slash)
            continue;
        *slash = 0;
        if (strcmp(directory, path) != 0) {
            if (dirfd >= 0)
                close(dirfd);
            dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
            snprintf(directory, sizeof directory, "%s", path);
        }
        *slash = '/';
        int fd = openat(dirfd, slash + 1, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            if (read(fd, buffer, sizeof buffer) < 0) { /* counted like a read that failed */ }
            close(fd);
        }
    }
}

static void *second(void *unused)
{
    (void)unused;
    run(1, 2);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: replay OPS_FILE [THREADS]\n");
        return 64;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 66;
    }
    size_t capacity = 1024;
    ops = malloc(capacity * sizeof *ops);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if ((size_t)count == capacity)
            ops = realloc(ops, (capacity *= 2) * sizeof *ops);
        ops[count++] = strdup(line);
    }
    fclose(f);
    if (argc > 2 && strcmp(argv[2], "relative") == 0) {
        run_relative();
    } else if (argc > 2 && atoi(argv[2]) == 2) {
        pthread_t thread;
        pthread_create(&thread, NULL, second, NULL);
        run(0, 2);
        pthread_join(thread, NULL);
    } else {
        run(0, 1);
    }
    return 0;
}
