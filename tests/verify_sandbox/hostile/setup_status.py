# Tries the set-up report fd (closed before candidate code runs) and exits with the status a
# failed set-up uses: a crash of this check, not an error of the run.
import os

try:
    os.write(5, b"cannot load the candidate seccomp filter: forged")
except OSError:
    pass
os._exit(70)


def f(x):
    return x * 2
