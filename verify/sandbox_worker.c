// sandbox_worker.c — one worker's life on the host side: its pipes, its launch, its
// configuration frame, its ready report, its end; and the framing the host uses.
//
// Host <-> worker protocol (pipes; the candidate process never holds either end):
//   host -> template  fd 5, once:  "BINI" u32 len | u32 n, config (key=value) | u32 n, template
//                                  BPF | u32 n, worker BPF | u32 n, candidate BPF
//   judge -> host     fd 4, once:  "BRDY" u32 len | key=value lines (the worker's self-report)
//   host -> judge     fd 3:        "BREQ" u32 len | u64 seq | u32 cpu_ms | u32 wall_ms | u64 mem |
//                                  u64 fsize | u64 out_cap | u32 nofile | u32 nproc | u32 n, code |
//                                  u32 n, tests
//   judge -> host     fd 4:        "BVER" u32 len | u64 seq | u32 outcome | u32 passed | u32 total |
//                                  f64 cpu | f64 judge cpu | u64 out_total | u32 flags | u32 n, detail |
//                                  u32 n, output head
// All integers little-endian. Outcome 5 is "the problem's tests cannot run" (an error);
// flag 1 asks the host to restart the worker (its scratch could not be cleaned).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "verify/sandbox_internal.h"

#define SB_PIPE_BYTES (1 << 20)

const char *const sb_preimport[] = {
    "math", "re", "itertools", "collections", "functools", "heapq", "bisect", "string", "operator",
};
const int sb_npreimport = (int)(sizeof sb_preimport / sizeof sb_preimport[0]);

void sb_logf(const sandbox *sb, const char *fmt, ...) {
    if (!sb->cfg.log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(sb->cfg.log, fmt, ap);
    va_end(ap);
    fflush(sb->cfg.log);
}

// ---- framing ----------------------------------------------------------------------------------------

int sb_write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

void sb_put_blob(bbuf *b, const void *p, size_t n) {
    bbuf_u32(b, (uint32_t)n);
    bbuf_put(b, p, n);
}

void sb_frame(bbuf *out, const char magic[4], const bbuf *payload) {
    bbuf_put(out, magic, 4);
    bbuf_u32(out, (uint32_t)payload->n);
    bbuf_put(out, payload->p, payload->n);
}

ssize_t sb_read_some(int fd, bbuf *b) {
    bbuf_reserve(b, 65536);
    ssize_t n;
    do n = read(fd, b->p + b->n, 65536);
    while (n < 0 && errno == EINTR);
    if (n > 0) b->n += (size_t)n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
    return n < 0 ? 0 : n;
}

int sb_take_frame(const bbuf *b, const char magic[4], const uint8_t **payload, uint32_t *len, size_t *total, berr *e) {
    if (b->n < 8) return 0;
    if (memcmp(b->p, magic, 4) != 0) return berr_set(e, "sandbox: worker sent a frame with a bad magic");
    *len = le32(b->p + 4);
    if (*len > (64u << 20)) return berr_set(e, "sandbox: worker sent an oversized frame");
    if (b->n < 8 + (size_t)*len) return 0;
    *payload = b->p + 8;
    *total = 8 + (size_t)*len;
    return 1;
}

void sb_consume(bbuf *b, size_t n) {
    memmove(b->p, b->p + n, b->n - n);
    b->n -= n;
}

// ---- a worker ---------------------------------------------------------------------------------------

static void config_text(const sandbox *sb, const sb_worker *w, bbuf *b) {
    char line[PATH_MAX + 128];
    int n = snprintf(line, sizeof line, "scratch=%s\npidns=%d\nseccomp=%d\nlandlock_scope=%d\njudge_memory=%lld\npreimport=",
                     w->scratch, sb->plan.use[SB_PIDNS], sb->plan.use[SB_SECCOMP],
                     sb->plan.use[SB_LANDLOCK] && sb->plan.landlock_abi >= 6, (long long)SANDBOX_JUDGE_MEMORY);
    bbuf_put(b, line, (size_t)n);
    for (int i = 0; i < sb_npreimport; i++) {
        if (i) bbuf_u8(b, ',');
        bbuf_put(b, sb_preimport[i], strlen(sb_preimport[i]));
    }
    bbuf_u8(b, '\n');
}

void sb_worker_down(sb_worker *w) {
    if (w->req_fd >= 0) close(w->req_fd);
    if (w->resp_fd >= 0) close(w->resp_fd);
    w->req_fd = w->resp_fd = -1;
    if (w->pid > 0) {
        kill(w->pid, SIGKILL);
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR) {}
    }
    w->pid = 0;
    w->state = SB_W_DOWN;
    w->in.n = 0;
}

int sb_worker_launch(sandbox *sb, sb_worker *w, sb_launch_fail *fail, berr *e) {
    memset(fail, 0, sizeof *fail);
    fail->layer = -1;
    int req[2], resp[2], init[2];
    if (pipe2(req, O_CLOEXEC)) return berr_set(e, "sandbox: pipe: %s", strerror(errno));
    if (pipe2(resp, O_CLOEXEC)) {
        close(req[0]), close(req[1]);
        return berr_set(e, "sandbox: pipe: %s", strerror(errno));
    }
    if (pipe2(init, O_CLOEXEC)) {
        close(req[0]), close(req[1]), close(resp[0]), close(resp[1]);
        return berr_set(e, "sandbox: pipe: %s", strerror(errno));
    }
    int cap = fcntl(req[1], F_SETPIPE_SZ, SB_PIPE_BYTES);
    if (cap <= 0) cap = fcntl(req[1], F_GETPIPE_SZ);
    sb->pipe_cap = cap > 0 ? (size_t)cap : 65536;
    pid_t pid = sb_launch(&sb->plan, w->scratch, req[0], resp[1], init[0], fail, e);
    close(req[0]), close(resp[1]), close(init[0]);
    if (pid < 0) {
        close(req[1]), close(resp[0]), close(init[1]);
        return -1;
    }
    w->pid = pid;
    w->req_fd = req[1];
    w->resp_fd = resp[0];
    w->in.n = 0;
    w->state = SB_W_STARTING;
    w->started = 1;
    bbuf cfgb = {0}, payload = {0}, out = {0};
    config_text(sb, w, &cfgb);
    sb_put_blob(&payload, cfgb.p, cfgb.n);
    sb_put_blob(&payload, sb->tbpf.p, sb->tbpf.n);
    sb_put_blob(&payload, sb->wbpf.p, sb->wbpf.n);
    sb_put_blob(&payload, sb->cbpf.p, sb->cbpf.n);
    sb_frame(&out, "BINI", &payload);
    int rc = sb_write_all(init[1], out.p, out.n);
    close(init[1]);
    bbuf_free(&cfgb), bbuf_free(&payload), bbuf_free(&out);
    if (rc) {
        sb_worker_down(w);
        return berr_set(e, "sandbox: worker %d did not take its configuration (it exited at start-up)", (int)pid);
    }
    fcntl(w->resp_fd, F_SETFL, O_NONBLOCK);
    w->start = now_sec();
    w->deadline = w->start + SB_START_TIMEOUT;
    return 0;
}

int sb_worker_ready(sandbox *sb, sb_worker *w, char **rep, berr *e) {
    (void)sb;
    ssize_t got = sb_read_some(w->resp_fd, &w->in);
    const uint8_t *pl;
    uint32_t len;
    size_t total;
    int f = sb_take_frame(&w->in, "BRDY", &pl, &len, &total, e);
    if (f < 0) {
        sb_worker_down(w);
        return -1;
    }
    if (f) {
        if (rep) {
            *rep = xmalloc(len + 1);
            memcpy(*rep, pl, len);
            (*rep)[len] = 0;
        }
        sb_consume(&w->in, total);
        w->state = SB_W_IDLE;
        return 1;
    }
    if (got == 0) {
        int st = 0;
        pid_t pid = w->pid;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        w->pid = 0;
        sb_worker_down(w);
        return berr_set(e, "sandbox: worker %d exited during start-up (status 0x%x); its stderr says why", (int)pid, st);
    }
    return 0;
}

int sb_worker_wait_ready(sandbox *sb, sb_worker *w, char **rep, berr *e) {
    for (;;) {
        int r = sb_worker_ready(sb, w, rep, e);
        if (r) return r > 0 ? 0 : -1;
        double left = w->deadline - now_sec();
        if (left <= 0) {
            pid_t pid = w->pid;
            sb_worker_down(w);
            return berr_set(e, "sandbox: worker %d not ready after %.0f s", (int)pid, SB_START_TIMEOUT);
        }
        struct pollfd pfd = {w->resp_fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
            return berr_set(e, "sandbox: poll: %s", strerror(errno));
    }
}
