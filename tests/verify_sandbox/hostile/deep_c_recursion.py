# Recurses through C (map) after lifting the recursion limit, until the C stack overflows.
import sys

sys.setrecursionlimit(10**8)


def f(n=0):
    return list(map(f, [n + 1]))
