// fault_inject.c — an LD_PRELOAD library that kills the process (SIGKILL) at a chosen point
// of writing files whose path contains BERRY_FAULT_MATCH: the Nth (BERRY_FAULT_AT) of the
// calls fopen, fwrite, fflush, fsync, fclose and rename on such files, and fsync of any
// descriptor once such a file was opened (the directory fsync after a rename). An fwrite
// chosen to fail writes the first half of its bytes, flushes them, then dies: a torn write.
// BERRY_FAULT_LOG=FILE appends one line per counted call (to learn how many there are).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *tracked[64];
static int armed;
static long counter;

static long fault_at(void) {
    const char *s = getenv("BERRY_FAULT_AT");
    return s ? atol(s) : 0;
}

static int is_tracked(FILE *f) {
    for (int i = 0; i < 64; i++)
        if (f && tracked[i] == f) return 1;
    return 0;
}

static int matches(const char *path) {
    const char *m = getenv("BERRY_FAULT_MATCH");
    return m && *m && path && strstr(path, m);
}

// Counts a call; returns 1 if the process must die at it.
static int tick(const char *what) {
    counter++;
    const char *log = getenv("BERRY_FAULT_LOG");
    if (log) {
        static FILE *(*real_fopen)(const char *, const char *);
        if (!real_fopen) real_fopen = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
        FILE *l = real_fopen(log, "a");
        if (l) {
            fprintf(l, "%ld %s\n", counter, what);
            fclose(l);
        }
    }
    return counter == fault_at();
}

static void die_now(void) { kill(getpid(), SIGKILL); }

FILE *fopen(const char *path, const char *mode) {
    static FILE *(*real)(const char *, const char *);
    if (!real) real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
    int m = matches(path) && strchr(mode, 'w');
    if (m && tick("fopen")) die_now();
    FILE *f = real(path, mode);
    if (m && f) {
        armed = 1;
        for (int i = 0; i < 64; i++)
            if (!tracked[i]) {
                tracked[i] = f;
                break;
            }
    }
    return f;
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
    static size_t (*real)(const void *, size_t, size_t, FILE *);
    if (!real) real = (size_t(*)(const void *, size_t, size_t, FILE *))dlsym(RTLD_NEXT, "fwrite");
    if (is_tracked(f) && tick("fwrite")) {
        size_t half = size * n / 2;
        real(p, 1, half, f);
        fflush(f);
        die_now();
    }
    return real(p, size, n, f);
}

int fflush(FILE *f) {
    static int (*real)(FILE *);
    if (!real) real = (int (*)(FILE *))dlsym(RTLD_NEXT, "fflush");
    if (is_tracked(f) && tick("fflush")) die_now();
    return real(f);
}

int fclose(FILE *f) {
    static int (*real)(FILE *);
    if (!real) real = (int (*)(FILE *))dlsym(RTLD_NEXT, "fclose");
    if (is_tracked(f)) {
        if (tick("fclose")) die_now();
        for (int i = 0; i < 64; i++)
            if (tracked[i] == f) tracked[i] = NULL;
    }
    return real(f);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (armed && tick("fsync")) die_now();
    return real(fd);
}

int rename(const char *from, const char *to) {
    static int (*real)(const char *, const char *);
    if (!real) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    if (matches(to) && tick("rename")) die_now();
    return real(from, to);
}
