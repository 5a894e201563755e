// sandbox_dispatch.c — scheduling checks over the pool's workers: a queue of request
// frames, each handed to the next idle worker; verdicts read as they come; workers that
// went down started again in the background (the other workers keep going meanwhile).
//
// Only the judge writes to the host, and only verdict frames: nothing a candidate does
// reaches this file except through the verdict the judge decided. A worker that fails
// during a check (it died, or sent nothing past the check's wall limit) makes that check a
// verdict (crash, timeout) and is restarted; the pool fails only when workers cannot be
// started at all.
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shards/records.h"
#include "verify/sandbox_internal.h"

#define SB_MAX_START_FAILS 3  // consecutive workers that do not come up: the pool has failed

static void set_result(sandbox_result *r, uint32_t outcome, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_result(sandbox_result *r, uint32_t outcome, const char *fmt, ...) {
    memset(r, 0, sizeof *r);
    r->outcome = outcome;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

static void fail_pool(sandbox *sb, const char *msg) {
    if (sb->broken) return;
    sb->broken = 1;
    snprintf(sb->broken_msg, sizeof sb->broken_msg, "%s", msg);
}

// ---- rings ------------------------------------------------------------------------------------------

static sb_done *done_push(sandbox *sb, uint64_t tag) {
    if (sb->d_n == sb->d_cap) {
        size_t cap = sb->d_cap ? 2 * sb->d_cap : 64;
        sb_done *d = xcalloc(cap, sizeof *d);
        for (size_t i = 0; i < sb->d_n; i++) d[i] = sb->d[(sb->d_head + i) % sb->d_cap];
        free(sb->d);
        sb->d = d, sb->d_cap = cap, sb->d_head = 0;
    }
    sb_done *x = &sb->d[(sb->d_head + sb->d_n++) % sb->d_cap];
    x->tag = tag;
    return x;
}

static sb_queued *queue_push(sandbox *sb) {
    if (sb->q_n == sb->q_cap) {
        size_t cap = sb->q_cap ? 2 * sb->q_cap : 64;
        sb_queued *q = xcalloc(cap, sizeof *q);
        for (size_t i = 0; i < sb->q_n; i++) q[i] = sb->q[(sb->q_head + i) % sb->q_cap];
        free(sb->q);
        sb->q = q, sb->q_cap = cap, sb->q_head = 0;
    }
    sb_queued *x = &sb->q[(sb->q_head + sb->q_n++) % sb->q_cap];
    memset(x, 0, sizeof *x);
    return x;
}

static void count(sandbox *sb, const sandbox_result *r) {
    if (r->outcome >= 5) return;
    sb->st.checks++;
    sb->st.by_outcome[r->outcome]++;
    sb->st.judge_cpu += r->judge_cpu_seconds;
}

// ---- submitting -------------------------------------------------------------------------------------

size_t sandbox_pending(const sandbox *sb) { return sb->q_n + sb->busy + sb->d_n; }

int sandbox_submit(sandbox *sb, const sandbox_job *job, uint64_t tag, berr *e) {
    if (sb->broken) return berr_set(e, "%s", sb->broken_msg);
    const sandbox_limits *l = job->limits ? job->limits : &sb->cfg.limits;
    berr le;
    if (job->limits && sandbox_limits_validate(job->limits, &le)) {
        set_result(&done_push(sb, tag)->r, SANDBOX_OUTCOME_ERROR, "%s", le.msg);
        return 0;
    }
    if (job->code_len > SANDBOX_MAX_CODE) {
        set_result(&done_push(sb, tag)->r, OUTCOME_FAIL, "candidate code of %zu bytes exceeds the %d-byte limit",
                   job->code_len, SANDBOX_MAX_CODE);
        return 0;
    }
    // A request must fit the request pipe, so writing it never blocks on a stuck worker.
    size_t need = 8 + 56 + 8 + job->code_len + job->tests_len;
    if (need > sb->pipe_cap) {
        if (job->tests_len + 4096 > sb->pipe_cap)
            set_result(&done_push(sb, tag)->r, SANDBOX_OUTCOME_ERROR, "tests of %zu bytes exceed the %zu-byte request limit",
                       job->tests_len, sb->pipe_cap);
        else
            set_result(&done_push(sb, tag)->r, OUTCOME_FAIL, "candidate code of %zu bytes exceeds the %zu-byte request limit",
                       job->code_len, sb->pipe_cap - job->tests_len - 4096);
        return 0;
    }
    sb_queued *q = queue_push(sb);
    q->tag = tag;
    q->wall = l->wall_seconds;
    bbuf p = {0};
    bbuf_u64(&p, 0);  // seq, set at dispatch
    bbuf_u32(&p, (uint32_t)ceil(l->cpu_seconds * 1000));
    bbuf_u32(&p, (uint32_t)ceil(l->wall_seconds * 1000));
    bbuf_u64(&p, (uint64_t)l->memory_bytes);
    bbuf_u64(&p, (uint64_t)l->file_bytes);
    bbuf_u64(&p, (uint64_t)l->output_bytes);
    bbuf_u32(&p, (uint32_t)l->open_files);
    bbuf_u32(&p, (uint32_t)l->processes);
    sb_put_blob(&p, job->code, job->code_len);
    sb_put_blob(&p, job->tests, job->tests_len);
    sb_frame(&q->frame, "BREQ", &p);
    bbuf_free(&p);
    return 0;
}

// ---- dispatching ------------------------------------------------------------------------------------

static void start_failed(sandbox *sb, const char *msg) {
    sb_logf(sb, "%s\n", msg);
    if (++sb->start_failures >= SB_MAX_START_FAILS) {
        char m[512];
        snprintf(m, sizeof m, "sandbox: %d workers in a row failed to start; last: %s", sb->start_failures, msg);
        fail_pool(sb, m);
    }
}

static void start_worker(sandbox *sb, sb_worker *w) {
    sb_launch_fail lf;
    berr e;
    int again = w->started;
    if (sb_worker_launch(sb, w, &lf, &e) == 0) sb->st.restarts += again;
    else start_failed(sb, e.msg);
}

// Sends the queue's head to idle worker w; 0 when it went, -1 when the worker had died
// (then it is down, and the job stays queued).
static int send_head(sandbox *sb, sb_worker *w) {
    sb_queued *q = &sb->q[sb->q_head];
    w->seq++;
    uint8_t *seq = q->frame.p + 8;
    for (int b = 0; b < 8; b++) seq[b] = (uint8_t)(w->seq >> (8 * b));
    if (sb_write_all(w->req_fd, q->frame.p, q->frame.n)) {
        // It died while idle (killed from outside): not the job's doing; it goes to
        // another worker. Workers that keep dying so are a failed pool.
        sb_worker_down(w);
        if (++sb->lost_idle >= 4 * sb->nslots) fail_pool(sb, "sandbox: workers keep dying while idle");
        return -1;
    }
    w->state = SB_W_BUSY;
    w->tag = q->tag;
    w->start = now_sec();
    w->deadline = w->start + q->wall + SB_REPLY_GRACE;
    sb->busy++;
    bbuf_free(&q->frame);
    sb->q_head = (sb->q_head + 1) % sb->q_cap, sb->q_n--;
    return 0;
}

// Hands queued jobs to idle workers while fewer than nw checks are young (slow ones do
// not count); starts workers that are down when jobs wait and none is idle.
static void dispatch(sandbox *sb) {
    double t = now_sec();
    int fast = 0, starting = 0;
    for (int i = 0; i < sb->nslots; i++) {
        const sb_worker *w = &sb->w[i];
        fast += w->state == SB_W_BUSY && t - w->start < SB_SLOW_AFTER;
        starting += w->state == SB_W_STARTING;
    }
    while (sb->q_n && fast < sb->nw && !sb->broken) {
        sb_worker *idle = NULL, *down = NULL;
        for (int i = 0; i < sb->nslots && !idle; i++) {
            if (sb->w[i].state == SB_W_IDLE) idle = &sb->w[i];
            else if (sb->w[i].state == SB_W_DOWN && !down) down = &sb->w[i];
        }
        if (idle) {
            if (send_head(sb, idle) == 0) fast++;
            continue;
        }
        size_t want = sb->q_n < (size_t)(sb->nw - fast) ? sb->q_n : (size_t)(sb->nw - fast);
        if (!down || (size_t)starting >= want) break;
        start_worker(sb, down);
        starting += down->state == SB_W_STARTING;
        if (down->state != SB_W_STARTING) break;  // could not start: try again on the next call
    }
}

// Parses a verdict frame: 1 when one was complete (*retire: the worker asks to be
// restarted), 0 if more bytes are needed, -1 if it is malformed.
static int take_verdict(sb_worker *w, sandbox_result *r, int *retire, berr *e) {
    const uint8_t *pl;
    uint32_t len;
    size_t total;
    int got = sb_take_frame(&w->in, "BVER", &pl, &len, &total, e);
    if (got <= 0) return got;
    const size_t fixed = 8 + 4 + 4 + 4 + 8 + 8 + 8 + 4;
    if (len < fixed + 4) return berr_set(e, "sandbox: short verdict frame");
    uint64_t seq = le64(pl);
    if (seq != w->seq) return berr_set(e, "sandbox: verdict for check %llu, expected %llu", (unsigned long long)seq,
                                       (unsigned long long)w->seq);
    memset(r, 0, sizeof *r);
    r->outcome = le32(pl + 8);
    r->tests_passed = le32(pl + 12);
    r->tests_total = le32(pl + 16);
    uint64_t bits = le64(pl + 20);
    memcpy(&r->cpu_seconds, &bits, 8);
    bits = le64(pl + 28);
    memcpy(&r->judge_cpu_seconds, &bits, 8);
    r->output_total = le64(pl + 36);
    *retire = (le32(pl + 44) & 1) != 0;
    size_t pos = fixed;
    uint32_t dlen = le32(pl + pos);
    pos += 4;
    if (pos + dlen + 4 > len) return berr_set(e, "sandbox: malformed verdict frame");
    size_t keep = dlen < sizeof r->detail - 1 ? dlen : sizeof r->detail - 1;
    memcpy(r->detail, pl + pos, keep);
    pos += dlen;
    uint32_t olen = le32(pl + pos);
    pos += 4;
    if (pos + olen > len) return berr_set(e, "sandbox: malformed verdict frame");
    r->output_len = olen < sizeof r->output ? olen : sizeof r->output;
    memcpy(r->output, pl + pos, r->output_len);
    if (r->outcome > SANDBOX_OUTCOME_ERROR) return berr_set(e, "sandbox: verdict with unknown outcome %u", r->outcome);
    sb_consume(&w->in, total);
    return 1;
}

// A busy worker failed: its check gets a verdict, the worker goes down (restarted later).
static void busy_failed(sandbox *sb, sb_worker *w, double t, uint32_t outcome, const char *why) {
    sb_done *d = done_push(sb, w->tag);
    set_result(&d->r, outcome, "%s", why);
    d->r.wall_seconds = t - w->start;
    count(sb, &d->r);
    sb->busy--;
    sb_worker_down(w);
}

static void on_readable(sandbox *sb, sb_worker *w, double t) {
    if (w->state == SB_W_STARTING) {
        berr e;
        int r = sb_worker_ready(sb, w, NULL, &e);
        if (r > 0) sb->start_failures = 0;
        if (r < 0) start_failed(sb, e.msg);
        return;
    }
    if (w->state == SB_W_IDLE) {  // data or EOF from an idle worker: it is gone or confused
        sb_worker_down(w);
        return;
    }
    ssize_t got = sb_read_some(w->resp_fd, &w->in);
    sandbox_result r;
    berr pe;
    int retire = 0;
    int v = take_verdict(w, &r, &retire, &pe);
    if (v == 1) {
        r.wall_seconds = t - w->start;
        done_push(sb, w->tag)->r = r;
        count(sb, &r);
        sb->lost_idle = 0;
        sb->busy--;
        w->state = SB_W_IDLE;
        if (retire) {
            sb_logf(sb, "sandbox: worker %d restarted: its scratch could not be cleaned\n", (int)w->pid);
            sb_worker_down(w);
        }
    } else if (v < 0) {
        char why[400];
        snprintf(why, sizeof why, "sandbox worker failed during the check (%.300s); restarted", pe.msg);
        busy_failed(sb, w, t, OUTCOME_CRASH, why);
    } else if (got == 0) {
        busy_failed(sb, w, t, OUTCOME_CRASH, "sandbox worker failed during the check (it exited); restarted");
    }
}

// Deadlines: a busy worker silent past its check's wall limit (plus grace) is killed and
// the check is a timeout; a worker not ready in time is a failed start.
static void on_deadlines(sandbox *sb, double t) {
    for (int i = 0; i < sb->nslots; i++) {
        sb_worker *w = &sb->w[i];
        if (w->state == SB_W_BUSY && t >= w->deadline) {
            char why[160];
            snprintf(why, sizeof why, "no verdict %.1f s past the wall-clock limit; worker killed and restarted", SB_REPLY_GRACE);
            busy_failed(sb, w, t, OUTCOME_TIMEOUT, why);
        } else if (w->state == SB_W_STARTING && t >= w->deadline) {
            char why[160];
            snprintf(why, sizeof why, "sandbox: worker %d not ready after %.0f s", (int)w->pid, SB_START_TIMEOUT);
            sb_worker_down(w);
            start_failed(sb, why);
        }
    }
}

int sandbox_next(sandbox *sb, int wait, uint64_t *tag, sandbox_result *r, berr *e) {
    struct pollfd pfd[512];
    int pw[512];
    for (;;) {
        if (sb->d_n) {
            sb_done *d = &sb->d[sb->d_head];
            *tag = d->tag;
            *r = d->r;
            sb->d_head = (sb->d_head + 1) % sb->d_cap, sb->d_n--;
            return 1;
        }
        if (sb->broken) return berr_set(e, "%s", sb->broken_msg);
        dispatch(sb);
        if (sb->d_n) continue;
        if (sb->broken) continue;
        if (!sb->q_n && !sb->busy) return 0;
        int np = 0;
        double soonest = now_sec() + 3600;
        for (int i = 0; i < sb->nslots; i++) {
            sb_worker *w = &sb->w[i];
            if (w->state == SB_W_DOWN) continue;
            pfd[np] = (struct pollfd){w->resp_fd, POLLIN, 0};
            pw[np++] = i;
            if ((w->state == SB_W_BUSY || w->state == SB_W_STARTING) && w->deadline < soonest) soonest = w->deadline;
            // With jobs waiting, wake when a check turns slow: the next one may then go.
            double slow = w->start + SB_SLOW_AFTER;
            if (sb->q_n && w->state == SB_W_BUSY && slow > now_sec() && slow < soonest) soonest = slow;
        }
        int ms = 0;
        if (wait) {
            double left = soonest - now_sec();
            ms = left <= 0 ? 0 : (int)(left * 1000) + 1;
        }
        if (np == 0) continue;  // every worker down, the last start failed: dispatch tries again
                                // (three failed starts in a row fail the pool)
        int pr = poll(pfd, (nfds_t)np, ms);
        if (pr < 0 && errno != EINTR) return berr_set(e, "sandbox: poll: %s", strerror(errno));
        double t = now_sec();
        for (int k = 0; k < np && pr > 0; k++)
            if (pfd[k].revents) on_readable(sb, &sb->w[pw[k]], t);
        on_deadlines(sb, t);
        if (!wait && !sb->d_n) {
            dispatch(sb);
            if (!sb->d_n) return sb->broken ? berr_set(e, "%s", sb->broken_msg) : 0;
        }
    }
}

int sandbox_run(sandbox *sb, const sandbox_job *jobs, size_t n, sandbox_result *out, berr *e) {
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].outcome = SANDBOX_OUTCOME_NOT_RUN;
    }
    if (sandbox_pending(sb)) return berr_set(e, "sandbox: sandbox_run with %zu other checks pending", sandbox_pending(sb));
    // A bounded window of submitted jobs, so an error stops the rest early.
    size_t window = 2 * (size_t)sb->nw + 8, next = 0, taken = 0;
    int failed = 0;
    while (taken < next || (next < n && !failed)) {
        while (!failed && next < n && next - taken < window) {
            if (sandbox_submit(sb, &jobs[next], next, e)) return -1;
            next++;
        }
        uint64_t tag;
        sandbox_result r;
        int k = sandbox_next(sb, 1, &tag, &r, e);
        if (k < 0) return -1;
        if (k == 0) break;
        out[tag] = r;
        taken++;
        if (r.outcome == SANDBOX_OUTCOME_ERROR && !failed) {
            failed = 1;
            berr_set(e, "sandbox: job %llu: %s", (unsigned long long)tag, r.detail);
        }
    }
    return failed ? -1 : 0;
}
