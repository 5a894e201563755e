# Looks for secrets in the environment and in /proc.
import os


def f():
    found = dict(os.environ)
    try:
        with open("/proc/1/environ", "rb") as fh:
            found["proc"] = fh.read()
    except OSError as e:
        found["proc_error"] = type(e).__name__
    return found
