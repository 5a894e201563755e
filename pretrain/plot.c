// plot.c — `pretrain plot`: the loss curve of a run log (log.jsonl) as a standalone SVG:
// training loss per step, validation loss per evaluation, axes with round ticks.
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/train/cli.h"
#include "pretrain/pretrain.h"
#include "kernels/train/runlog.h"
#include "kernels/train/svgplot.h"

typedef struct plot_opts {
    char *log, *out, *title;
    int width, height;
} plot_opts;

#define F(x) offsetof(plot_opts, x)
static const cli_opt plot_opt_list[] = {
    {CLI_STR, "log", F(log), NULL, 0, 0, NULL, CLI_LOCAL, "FILE", "run log (DIR/log.jsonl of a pretrain run; required)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, CLI_LOCAL, "FILE", "SVG file to write (required)"},
    {CLI_STR, "title", F(title), NULL, 0, 0, NULL, CLI_LOCAL, "TEXT", "title (default: the log's path)"},
    {CLI_INT, "width", F(width), "800", 200, 10000, NULL, CLI_LOCAL, "PX", "width"},
    {CLI_INT, "height", F(height), "480", 150, 10000, NULL, CLI_LOCAL, "PX", "height"},
};
#undef F
static const cli_table plot_table = {plot_opt_list, (int)(sizeof plot_opt_list / sizeof plot_opt_list[0])};

static int read_log(const char *path, svg_series *train, svg_series *val, berr *e) {
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, e)) return -1;
    size_t i = 0;
    int line = 0;
    while (i < len) {
        line++;
        char *nl = memchr(buf + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (buf + i)) : len - i;
        buf[i + n] = 0;
        char *l = buf + i;
        i += n + 1;
        if (!*l) continue;
        if (l[0] != '{' || l[n - 1] != '}') {
            free(buf);
            return berr_set(e, "%s: line %d is not a JSON object (a run log has one per line)", path, line);
        }
        double step, v;
        if (!tr_log_number(l, "step", &step)) continue;
        if (tr_log_number(l, "loss", &v) && isfinite(v)) svg_series_push(train, step, v);
        if (tr_log_number(l, "val_loss", &v) && isfinite(v)) svg_series_push(val, step, v);
    }
    free(buf);
    if (train->n == 0 && val->n == 0) return berr_set(e, "%s: no loss records (is it a pretrain run log?)", path);
    return 0;
}

static const cli_cmd plot_cmd = {"pretrain plot", "usage: pretrain plot --log DIR/log.jsonl --out loss.svg [options]\n",
                                  &plot_table, 0, NULL};

int pt_plot_main(int argc, char **argv, int first) {
    plot_opts o;
    berr e;
    int rc = cli_command(&plot_cmd, &o, argc, argv, first, NULL, NULL);
    if (rc != CLI_GO) return rc;
    if (!o.log || !o.out) {
        cli_free(&plot_table, &o);
        return cli_usage_error(&plot_cmd, "--log and --out are required");
    }
    if (cli_check_output_file("--out", o.out, &e)) {
        cli_free(&plot_table, &o);
        return cli_fail(plot_cmd.name, &e);
    }
    svg_series sr[2] = {{.label = "train loss", .color = "#1f77b4"},
                        {.label = "validation loss", .color = "#d62728", .markers = 1}};
    rc = read_log(o.log, &sr[0], &sr[1], &e);
    size_t n_train = sr[0].n, n_val = sr[1].n;
    if (!rc) {
        svg_plot p = {.title = o.title ? o.title : o.log, .xlabel = "step", .ylabel = "loss", .width = o.width,
                      .height = o.height};
        if (n_train > 2000) sr[0].label = "train loss (mean of steps)";
        rc = svg_plot_save(o.out, &p, sr, 2, NULL, &e);
    }
    if (rc) cli_fail(plot_cmd.name, &e);
    else fprintf(stderr, "plot: %s: %zu training points, %zu validation points\n", o.out, n_train, n_val);
    svg_series_free(&sr[0]);
    svg_series_free(&sr[1]);
    cli_free(&plot_table, &o);
    return rc ? 1 : 0;
}
