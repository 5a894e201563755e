// toy_verdicts.c — the verifier of the ppo learning tests: a toy task with a known optimum.
// Reads every trajectory tree of TRAJ_DIR and writes one verdict per leaf into OUT_DIR
// (closed): pass iff the leaf's first response token is in [LO, HI), else fail.
//   toy_verdicts TRAJ_DIR OUT_DIR LO HI
#include <stdlib.h>
#include <string.h>

#include "shards/shard.h"
#include "shards/stream.h"
#include "shards/tree_join.h"

int main(int argc, char **argv) {
    if (argc != 5) die("usage: toy_verdicts TRAJ_DIR OUT_DIR LO HI");
    uint32_t lo = (uint32_t)atoi(argv[3]), hi = (uint32_t)atoi(argv[4]);
    berr e;
    shard_dir_listing l;
    if (shard_dir_list(argv[1], &l, &e)) die("%s", e.msg);
    shard_dir_opts o;
    memset(&o, 0, sizeof o);
    shard_dir_writer *w = shard_dir_writer_open(argv[2], "toy", SHARD_VERDICTS, VERDICT_SCHEMA, &o, &e);
    if (!w) die("%s", e.msg);
    bbuf b = {0};
    uint32_t *path = NULL;
    for (size_t i = 0; i < l.n_shards; i++) {
        char *p = xasprintf("%s/%s", argv[1], l.shards[i].name);
        shard_reader *r = shard_open(p, &e);
        if (!r) die("%s", e.msg);
        const shard_info *in = shard_get_info(r);
        for (uint64_t k = 0; k < in->count; k++) {
            const uint8_t *rec;
            size_t len;
            traj_rec t;
            if (shard_get(r, k, &rec, &len, &e) || traj_decode(rec, len, in->schema_version, &t, &e)) die("%s", e.msg);
            path = xrealloc(path, (t.n_nodes + 1) * sizeof *path);
            uint8_t *leaf = xcalloc(t.n_nodes + 1, 1);
            for (uint32_t n = 0; n < t.n_nodes; n++) leaf[n] = 1;
            for (uint32_t n = 0; n < t.n_nodes; n++)
                if (t.nodes[n].parent != TRAJ_ROOT) leaf[t.nodes[n].parent] = 0;
            for (uint32_t n = 0; n < t.n_nodes; n++) {
                if (!leaf[n]) continue;
                uint32_t np = vtree_path(&t, n, path), first = UINT32_MAX;
                for (uint32_t j = 0; j < np && first == UINT32_MAX; j++)
                    if (t.nodes[path[j]].n_tokens) first = t.nodes[path[j]].tokens[0];
                verdict_rec v = {t.problem_id, n, t.policy_version, first >= lo && first < hi ? OUTCOME_PASS : OUTCOME_FAIL, 0, "toy",
                                 traj_tree_id(&t)};
                b.n = 0;
                verdict_encode(&b, &v);
                if (shard_dir_append(w, b.p, b.n, &e)) die("%s", e.msg);
            }
            free(leaf);
            traj_free(&t);
        }
        shard_close(r);
        free(p);
    }
    if (shard_dir_publish(w, NULL, 0, &e) || shard_dir_close(w, &e)) die("%s", e.msg);
    shard_dir_listing_free(&l);
    bbuf_free(&b);
    free(path);
    return 0;
}
