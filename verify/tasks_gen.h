// tasks_gen.h — the generator of each task kind. Each fills b->prompt and b->canon, calls
// tb_statement_done(b) and returns 0 if the split is not the wanted one; otherwise fills
// the answer / tests / solution and returns 1. Internal to verify/tasks_*.c.
#pragma once
#include "verify/tasks_build.h"
#include "verify/tasks.h"

int tasks_gen_arith(tasks_build *b);
int tasks_gen_linear(tasks_build *b);
int tasks_gen_algebra(tasks_build *b);
int tasks_gen_code(tasks_build *b);
