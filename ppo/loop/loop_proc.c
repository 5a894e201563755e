// loop_proc.c — starting, watching and restarting the stages (see loop.h).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ppo/loop/loop.h"

// Forks the stage (its output appended to logpath); *pid_out gets the child.
static int start(loop_run *r, const char *logpath, const char *const *argv, const char *devices, pid_t *pid_out,
                 berr *e) {
    char *exe = xasprintf("%s/%s", r->bin, argv[0]);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        free(exe);
        return berr_set(e, "fork for %s: %s", argv[0], strerror(errno));
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // a killed driver takes its stage along
        if (getppid() != parent) _exit(127);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (devices) setenv("CUDA_VISIBLE_DEVICES", devices, 1);
        execv(exe, (char *const *)argv);
        fprintf(stderr, "berry: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    free(exe);
    *pid_out = pid;
    return 0;
}

static int spawn(loop_run *r, const char *logpath, const char *const *argv, int *status, berr *e) {
    pid_t pid;
    if (start(r, logpath, argv, r->devices, &pid, e)) return -1;
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) return berr_set(e, "waiting for %s: %s", argv[0], strerror(errno));
    return 0;
}

static char *log_path(loop_run *r, const char *name, const char *const *argv, berr *e) {
    char *logdir = xasprintf("%s/logs", r->dir);
    if (mkdir_p(logdir, e)) {
        free(logdir);
        return NULL;
    }
    char *logpath = xasprintf("%s/%s.log", logdir, name);
    free(logdir);
    FILE *f = fopen(logpath, "a");  // the command line heads the stage's log
    if (f) {
        fputs("$", f);
        for (int i = 0; argv[i]; i++) fprintf(f, " %s", argv[i]);
        fputc('\n', f);
        fclose(f);
    }
    return logpath;
}

int loop_bg_start(loop_run *r, loop_bg *b, berr *e) {
    char *lp = log_path(r, b->name, b->argv, e);
    if (!lp) return -1;
    pid_t pid;
    int rc = start(r, lp, b->argv, b->devices, &pid, e);
    free(lp);
    if (rc) return -1;
    b->pid = pid, b->done = 0;
    if (!r->quiet) fprintf(stderr, "berry [%6.0f s] %s started beside the loop (pid %d)\n", now_sec() - r->t0, b->name, pid);
    return 0;
}

int loop_bg_poll(loop_run *r, loop_bg *b, int wait, berr *e) {
    if (b->done || b->pid <= 0) return 0;
    int status;
    pid_t got;
    while ((got = waitpid(b->pid, &status, wait ? 0 : WNOHANG)) < 0)
        if (errno != EINTR) return berr_set(e, "waiting for %s: %s", b->name, strerror(errno));
    if (got == 0) return 0;  // still running
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1, sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (r->log) {
        fprintf(r->log, "{\"event\": \"stage\", \"name\": ");
        json_string(r->log, b->name, strlen(b->name));
        fprintf(r->log, ", \"beside\": true, \"exit\": %d, \"signal\": %d, \"restarts\": %d, \"at\": %.3f}\n", code, sig,
                b->restarts, now_sec() - r->t0);
        fflush(r->log);
    }
    b->pid = 0;
    if (sig && sig != SIGINT && sig != SIGTERM && b->restarts < 2) {
        b->restarts++;
        fprintf(stderr, "berry: %s was killed by signal %d; starting it again\n", b->name, sig);
        return loop_bg_start(r, b, e);
    }
    if (code != 0 || sig) return berr_set(e, "%s (beside the loop) exited with status %d: see %s/logs/%s.log", b->name,
                                          sig ? 128 + sig : code, r->dir, b->name);
    b->done = 1;
    if (!r->quiet) fprintf(stderr, "berry [%6.0f s] %s: done\n", now_sec() - r->t0, b->name);
    return 0;
}

int loop_exec(loop_run *r, const char *name, const char *const *argv, berr *e) {
    char *logpath = log_path(r, name, argv, e);
    if (!logpath) return -1;
    int rc = -1;
    for (int attempt = 0; attempt < 3; attempt++) {
        double t0 = now_sec();
        int status = 0;
        if (!r->quiet) fprintf(stderr, "berry [%6.0f s] %s ...\n", t0 - r->t0, name);
        if (spawn(r, logpath, argv, &status, e)) break;
        double dt = now_sec() - t0;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1, sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        if (r->log) {
            fprintf(r->log, "{\"event\": \"stage\", \"name\": ");
            json_string(r->log, name, strlen(name));
            fprintf(r->log, ", \"seconds\": %.3f, \"exit\": %d, \"signal\": %d, \"attempt\": %d, \"at\": %.3f}\n", dt, code, sig,
                    attempt + 1, t0 - r->t0);
            fflush(r->log);
        }
        if (sig && sig != SIGINT && sig != SIGTERM) {  // killed from outside: it resumes when started again
            fprintf(stderr, "berry: %s was killed by signal %d; starting it again (attempt %d)\n", name, sig, attempt + 2);
            continue;
        }
        if (!r->quiet) fprintf(stderr, "berry [%6.0f s] %s: %s in %.1f s\n", now_sec() - r->t0, name,
                               code == 0 ? "done" : "FAILED", dt);
        rc = sig ? 128 + sig : code;
        if (rc) berr_set(e, "%s exited with status %d: see %s", name, rc, logpath);
        break;
    }
    if (rc < 0 && !e->msg[0]) berr_set(e, "%s kept being killed: see %s", name, logpath);
    free(logpath);
    return rc;
}
