// probe.c — a program that misuses or uses tests/test.h in one way, chosen by argv[1], for
// tests/harness/test_run.sh to check what the harness reports (it is not a test itself).
#include <string.h>

#include "tests/test.h"

int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "";
    if (!strcmp(m, "nothing")) return test_summary();  // checks nothing: must fail
    if (!strcmp(m, "pass")) CHECK(1 + 1 == 2, "arithmetic");
    if (!strcmp(m, "expect-closed")) {  // three passing expectations are one check
        for (int i = 0; i < 3; i++) EXPECT(i < 3, "i %d", i);
        CHECK_EXPECTED("loop");
    }
    if (!strcmp(m, "expect-failed")) {  // a failing expectation fails its check
        for (int i = 0; i < 3; i++) EXPECT(i < 2, "i %d", i);
        CHECK_EXPECTED("loop");
    }
    if (!strcmp(m, "expect-open")) {  // an expectation no CHECK_EXPECTED closes still fails
        CHECK(1, "one pass");
        EXPECT(0, "never closed");
    }
    if (!strcmp(m, "require")) {  // a failed precondition ends the program as one failure
        CHECK(1, "one pass");
        REQUIRE(0, "precondition");
        CHECK(1, "never reached");
    }
    if (!strcmp(m, "seed")) {
        uint64_t s = test_seed(7);
        CHECK(s != 0, "seed");
    }
    return test_summary();
}
