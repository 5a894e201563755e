// sandbox_plan.c — what a worker needs from the host's file system: the real interpreter
// (behind shims such as pyenv's), its prefix or standard-library directories, the
// directories of every shared object it maps, the system library directories and the
// loader cache. These become the read-only binds of the new root and the Landlock rules.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "verify/sandbox_internal.h"

extern char **environ;

// Asks the interpreter (unsandboxed: it is the one we trust) where it lives and what it
// maps once the modules the harness pre-imports are loaded.
static const char info_script[] =
    "import os, sys\n"
    "for m in sys.argv[1:]:\n"
    "    __import__(m)\n"
    "print('E', os.path.realpath(sys.executable))\n"
    "for x in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix):\n"
    "    print('P', os.path.realpath(x))\n"
    "for x in sys.path:\n"
    "    if x and os.path.isdir(x):\n"
    "        print('S', os.path.realpath(x))\n"
    "with open('/proc/self/maps') as f:\n"
    "    for line in f:\n"
    "        parts = line.split(None, 5)\n"
    "        if len(parts) == 6 and parts[5].startswith('/'):\n"
    "            p = parts[5].strip()\n"
    "            if os.path.exists(p):\n"
    "                print('L', os.path.realpath(p))\n";

static int find_in_path(const char *name, char *out, size_t cap) {
    if (strchr(name, '/')) {
        if ((size_t)snprintf(out, cap, "%s", name) >= cap) return -1;
        return access(out, X_OK);
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len && (size_t)snprintf(out, cap, "%.*s/%s", (int)len, path, name) < cap && access(out, X_OK) == 0) return 0;
        path += len + (end ? 1 : 0);
    }
    return -1;
}

static int run_info(const char *python, const char *const *preimport, int npre, char **text, berr *e) {
    int p[2];
    if (pipe2(p, O_CLOEXEC)) return berr_set(e, "sandbox: pipe: %s", strerror(errno));
    const char *argv[64];
    int argc = 0;
    argv[argc++] = python;
    argv[argc++] = "-s";
    argv[argc++] = "-S";
    argv[argc++] = "-B";
    argv[argc++] = "-c";
    argv[argc++] = info_script;
    for (int i = 0; i < npre && argc < 63; i++) argv[argc++] = preimport[i];
    argv[argc] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        return berr_set(e, "sandbox: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(p[1], 1);
        execve(python, (char *const *)argv, environ);
        _exit(127);
    }
    close(p[1]);
    bbuf b = {0};
    char chunk[4096];
    for (;;) {
        ssize_t n = read(p[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        bbuf_put(&b, chunk, (size_t)n);
    }
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        bbuf_free(&b);
        return berr_set(e, "sandbox: the interpreter %s failed to start (status %d): check --python", python, st);
    }
    bbuf_u8(&b, 0);
    *text = (char *)b.p;
    return 0;
}

static int covered(const sb_plan *p, const char *path) {
    for (int i = 0; i < p->npaths; i++) {
        const sb_path *sp = &p->paths[i];
        if (sp->kind != SB_PATH_DIR && sp->kind != SB_PATH_FILE) continue;
        size_t n = strlen(sp->path);
        if (strncmp(sp->path, path, n) == 0 && (path[n] == 0 || path[n] == '/' || n == 1)) return 1;
    }
    return 0;
}

static void add_path(sb_plan *p, const char *path, int kind, const char *target) {
    p->paths = xrealloc(p->paths, sizeof(sb_path) * (size_t)(p->npaths + 1));
    sb_path *sp = &p->paths[p->npaths++];
    sp->path = xstrdup(path);
    sp->target = target ? xstrdup(target) : NULL;
    sp->kind = kind;
}

// Adds a directory (or file) unless already covered; drops earlier entries it covers.
static void add_covering(sb_plan *p, const char *path, int kind) {
    if (covered(p, path)) return;
    if (kind == SB_PATH_DIR) {
        size_t n = strlen(path);
        for (int i = 0; i < p->npaths;) {
            sb_path *sp = &p->paths[i];
            if ((sp->kind == SB_PATH_DIR || sp->kind == SB_PATH_FILE) && strncmp(sp->path, path, n) == 0 &&
                sp->path[n] == '/') {
                free(sp->path);
                free(sp->target);
                p->paths[i] = p->paths[--p->npaths];
            } else {
                i++;
            }
        }
    }
    add_path(p, path, kind, NULL);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_system_prefix(const char *p) {
    return strcmp(p, "/") == 0 || strcmp(p, "/usr") == 0 || strcmp(p, "/usr/local") == 0;
}

static int path_cmp(const void *a, const void *b) {
    return strcmp(((const sb_path *)a)->path, ((const sb_path *)b)->path);
}

int sb_plan_paths(sb_plan *p, const char *python, const char *const *preimport, int npre, int with_devices,
                  berr *e) {
    char found[PATH_MAX];
    if (find_in_path(python, found, sizeof found))
        return berr_set(e, "sandbox: interpreter %s not found or not executable (set --python)", python);
    char *text = NULL;
    if (run_info(found, preimport, npre, &text, e)) return -1;
    char *exe = NULL;
    // System library directories first, then the interpreter's own.
    static const char *const libdirs[] = {"/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32"};
    for (size_t i = 0; i < sizeof libdirs / sizeof libdirs[0]; i++)
        if (is_dir(libdirs[i])) add_covering(p, libdirs[i], SB_PATH_DIR);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strlen(line) < 3 || line[1] != ' ' || line[2] != '/') continue;
        const char *arg = line + 2;
        if (line[0] == 'E') {
            free(exe);
            exe = xstrdup(arg);
        } else if (line[0] == 'P' && !is_system_prefix(arg) && is_dir(arg)) {
            add_covering(p, arg, SB_PATH_DIR);
        } else if (line[0] == 'S' && is_dir(arg)) {
            add_covering(p, arg, SB_PATH_DIR);
        } else if (line[0] == 'L') {
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%s", arg);
            char *slash = strrchr(dir, '/');
            if (slash && slash != dir) {
                *slash = 0;
                add_covering(p, dir, SB_PATH_DIR);
            }
        }
    }
    free(text);
    if (!exe || access(exe, X_OK)) {
        free(exe);
        return berr_set(e, "sandbox: could not find the real executable behind %s", found);
    }
    add_covering(p, exe, SB_PATH_FILE);
    p->python = exe;
    if (access("/etc/ld.so.cache", R_OK) == 0) add_covering(p, "/etc/ld.so.cache", SB_PATH_FILE);
    // Top-level links of a merged /usr (/lib -> usr/lib, /lib64 -> usr/lib64: the ELF
    // interpreter's path goes through them), or the directories themselves.
    static const char *const toplinks[] = {"/lib", "/lib64", "/lib32", "/libx32"};
    for (size_t i = 0; i < sizeof toplinks / sizeof toplinks[0]; i++) {
        struct stat st;
        if (lstat(toplinks[i], &st)) continue;
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(toplinks[i], target, sizeof target - 1);
            if (n <= 0) continue;
            target[n] = 0;
            add_path(p, toplinks[i], SB_PATH_SYMLINK, target);
        } else if (S_ISDIR(st.st_mode)) {
            add_covering(p, toplinks[i], SB_PATH_DIR);
        }
    }
    if (with_devices) {
        static const char *const devs[] = {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"};
        for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
            if (access(devs[i], F_OK) == 0) add_path(p, devs[i], SB_PATH_DEV, NULL);
    }
    qsort(p->paths, (size_t)p->npaths, sizeof(sb_path), path_cmp);
    if (p->npaths > SB_MAX_PATHS)
        return berr_set(e, "sandbox: the interpreter needs %d read-only paths, more than %d", p->npaths, SB_MAX_PATHS);
    for (int i = 0; i < p->npaths; i++)
        if (p->paths[i].kind != SB_PATH_SYMLINK && access(p->paths[i].path, F_OK))
            return berr_set(e, "sandbox: %s: %s", p->paths[i].path, strerror(errno));
    return 0;
}

// A host directory to mount the new root's tmpfs on (inside the worker's mount namespace
// only): one that holds none of the paths to bind and is not inside one of them.
int sb_plan_newroot(sb_plan *p, berr *e) {
    static const char *const choices[] = {"/tmp", "/mnt", "/media", "/srv", "/opt", "/run", "/var/tmp", "/home"};
    for (size_t c = 0; c < sizeof choices / sizeof choices[0]; c++) {
        const char *d = choices[c];
        if (!is_dir(d)) continue;
        size_t n = strlen(d);
        int clash = 0;
        for (int i = 0; i < p->npaths && !clash; i++) {
            const char *sp = p->paths[i].path;
            size_t m = strlen(sp);
            if (strncmp(sp, d, n) == 0 && (sp[n] == 0 || sp[n] == '/')) clash = 1;
            if (strncmp(d, sp, m) == 0 && (d[m] == 0 || d[m] == '/')) clash = 1;
        }
        if (!clash) {
            p->newroot = xstrdup(d);
            return 0;
        }
    }
    return berr_set(e, "sandbox: no directory to build the new root on (tried /tmp, /mnt, ...)");
}

void sb_plan_free(sb_plan *p) {
    for (int i = 0; i < p->npaths; i++) {
        free(p->paths[i].path);
        free(p->paths[i].target);
    }
    free(p->paths);
    free(p->python);
    free(p->newroot);
    memset(p, 0, sizeof *p);
}
