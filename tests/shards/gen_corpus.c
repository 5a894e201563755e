// gen_corpus.c — writes the fuzzer's seed inputs into a directory: small valid shards of
// every kind (one or several frames, with metadata), raw records of every kind prefixed by
// their kind byte, and a cursor.
#include "tests/shards/util.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    berr e;
    if (mkdir_p(argv[1], &e)) die("%s", e.msg);
    uint64_t s = 1;
    bbuf b = {0};
    for (uint32_t kind = 1; kind <= SHARD_KIND_MAX; kind++) {
        for (int v = 0; v < 2; v++) {
            char *path = xasprintf("%s/shard-%u-%d", argv[1], kind, v);
            shard_write_opts o = {v ? 48 : 4096, 0};
            shard_writer *w = shard_create_opts(path, kind, record_schema_max(kind), "seed", &o, &e);
            if (!w) die("%s", e.msg);
            for (int i = 0; i < 3 + v; i++) {
                rand_record(&s, kind, 24, &b);
                if (shard_append(w, b.p, b.n, &e)) die("%s", e.msg);
            }
            if (v) shard_set_meta(w, "berry-cursor 1\ncommit 1\npart 0 1\n", 33, &e);
            if (shard_finish(w, &e)) die("%s", e.msg);
            free(path);
        }
        for (int v = 0; v < 3; v++) {
            rand_record(&s, kind, 16 << v, &b);
            bbuf r = {0};
            bbuf_u8(&r, (uint8_t)(kind - 1));
            bbuf_put(&r, b.p, b.n);
            char *path = xasprintf("%s/record-%u-%d", argv[1], kind, v);
            if (write_file_atomic(path, r.p, r.n, &e)) die("%s", e.msg);
            free(path);
            bbuf_free(&r);
        }
    }
    const char cur[] = "cberry-cursor 1\ncommit 3\npart 0 1\ninput gen 4 17\ninput other.p0of2 0 0\n";
    char *path = xasprintf("%s/cursor", argv[1]);
    if (write_file_atomic(path, cur, sizeof cur - 1, &e)) die("%s", e.msg);
    free(path);
    bbuf_free(&b);
    return 0;
}
