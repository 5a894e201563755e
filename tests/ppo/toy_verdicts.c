// toy_verdicts.c — the verifier of the ppo learning tests: a toy task with a known optimum.
// Reads every trajectory tree of TRAJ_DIR and writes one verdict per leaf into OUT_DIR
// (closed): pass iff the leaf's first response token is in [LO, HI), else fail. With SCORES_DIR
// it also writes a score per leaf as reward score would: an ORM of 1 for tokens in
// [SLO, SHI), else 0 (a reward model's view, which may differ from the verdict's).
//   toy_verdicts TRAJ_DIR OUT_DIR LO HI [SCORES_DIR SLO SHI]
#include <stdlib.h>
#include <string.h>

#include "shards/shard.h"
#include "shards/stream.h"
#include "shards/tree_join.h"

int main(int argc, char **argv) {
    if (argc != 5 && argc != 8) die("usage: toy_verdicts TRAJ_DIR OUT_DIR LO HI [SCORES_DIR SLO SHI]");
    uint32_t lo = (uint32_t)atoi(argv[3]), hi = (uint32_t)atoi(argv[4]);
    uint32_t slo = argc == 8 ? (uint32_t)atoi(argv[6]) : 0, shi = argc == 8 ? (uint32_t)atoi(argv[7]) : 0;
    berr e;
    shard_dir_listing l;
    if (shard_dir_list(argv[1], &l, &e)) die("%s", e.msg);
    shard_dir_opts o;
    memset(&o, 0, sizeof o);
    shard_dir_writer *w = shard_dir_writer_open(argv[2], "toy", SHARD_VERDICTS, VERDICT_SCHEMA, &o, &e);
    if (!w) die("%s", e.msg);
    shard_dir_writer *sw = argc == 8 ? shard_dir_writer_open(argv[5], "toy", SHARD_SCORES, SCORE_SCHEMA, &o, &e) : NULL;
    if (argc == 8 && !sw) die("%s", e.msg);
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
                if (sw) {
                    score_rec s = {t.problem_id, n, first >= slo && first < shi ? 1.0f : 0.0f, 0, NULL, traj_tree_id(&t),
                                   t.policy_version, SCORE_HAS_ORM, 0, 0};
                    b.n = 0;
                    score_encode(&b, &s);
                    if (shard_dir_append(sw, b.p, b.n, &e)) die("%s", e.msg);
                }
            }
            free(leaf);
            traj_free(&t);
        }
        shard_close(r);
        free(p);
    }
    if (shard_dir_publish(w, NULL, 0, &e) || shard_dir_close(w, &e)) die("%s", e.msg);
    if (sw && (shard_dir_publish(sw, NULL, 0, &e) || shard_dir_close(sw, &e))) die("%s", e.msg);
    shard_dir_listing_free(&l);
    bbuf_free(&b);
    free(path);
    return 0;
}
