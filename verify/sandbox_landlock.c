// sandbox_landlock.c — Landlock: probing the ABI, and the worker's ruleset (read-only
// interpreter paths, device nodes, read-write scratch; no TCP; no signals or abstract unix
// sockets out of the worker). The per-candidate scope layer is added by the harness.
//
// The constants are spelled out here so the build does not depend on how new the installed
// <linux/landlock.h> is; the running kernel's ABI decides what is used.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "verify/sandbox_internal.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1

#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REFER (1ULL << 13)
#define LL_FS_TRUNCATE (1ULL << 14)
#define LL_FS_IOCTL_DEV (1ULL << 15)
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

int sb_landlock_abi(void) {
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    return v > 0 ? (int)v : 0;
}

// Every file-system right the ABI knows: all of them are handled, so anything not granted
// by a rule is denied.
static uint64_t fs_rights(int abi) {
    uint64_t r = (1ULL << 13) - 1;  // ABI 1: execute .. make_sym
    if (abi >= 2) r |= LL_FS_REFER;
    if (abi >= 3) r |= LL_FS_TRUNCATE;
    if (abi >= 5) r |= LL_FS_IOCTL_DEV;
    return r;
}

static int add_path(int ruleset, const char *path, uint64_t access) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return -1;
    struct ll_path_beneath_attr pb = {.allowed_access = access, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0 ? 0 : -1;
}

int sb_landlock_restrict(const sb_plan *p, const char *scratch, const char **step) {
    int abi = p->landlock_abi;
    uint64_t all = fs_rights(abi);
    struct ll_ruleset_attr attr = {.handled_access_fs = all};
    size_t size = sizeof(uint64_t);
    if (abi >= 4) {
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;  // no rule: no TCP at all
        size = 2 * sizeof(uint64_t);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
        size = sizeof attr;
    }
    *step = "landlock_create_ruleset";
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (rs < 0) return -1;
    const uint64_t ro_dir = LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR;
    const uint64_t ro_file = LL_FS_EXECUTE | LL_FS_READ_FILE;
    const uint64_t dev = LL_FS_READ_FILE | LL_FS_WRITE_FILE | (all & (LL_FS_TRUNCATE | LL_FS_IOCTL_DEV));
    for (int i = 0; i < p->npaths; i++) {
        const sb_path *sp = &p->paths[i];
        uint64_t access = sp->kind == SB_PATH_DIR ? ro_dir : sp->kind == SB_PATH_FILE ? ro_file
                        : sp->kind == SB_PATH_DEV ? dev : 0;
        if (!access) continue;  // symlinks resolve to paths that have their own rule
        *step = sp->path;
        if (add_path(rs, sp->path, access)) goto fail;
    }
    *step = scratch;
    if (add_path(rs, scratch, all)) goto fail;
    *step = "landlock_restrict_self";
    if (syscall(SYS_landlock_restrict_self, rs, 0)) goto fail;
    close(rs);
    return 0;
fail:;
    int saved = errno;
    close(rs);
    errno = saved;
    return -1;
}
