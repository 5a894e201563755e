// common.c — what the reward subcommands share (reward.h).
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "reward/reward.h"

int rw_out_dir_fresh(const char *dir, berr *e) {
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return berr_set(e, "--out %s exists and is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d) return berr_set(e, "--out %s: cannot list it: %s", dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            rc = berr_set(e, "--out %s already holds %s: give a new directory (nothing is overwritten)", dir, de->d_name);
            break;
        }
    closedir(d);
    return rc;
}
