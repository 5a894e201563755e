# Raises its own CPU limit.
import resource


def f():
    resource.setrlimit(resource.RLIMIT_CPU, (3600, 3600))
    return 1
