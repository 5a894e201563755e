# A long list for tests that loop over it quadratically in the judge (see test_sandbox.c):
# the judge's own CPU limit must end the check.
def f():
    return list(range(30000))
