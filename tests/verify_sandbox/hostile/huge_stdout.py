# Floods stdout and stderr.
import sys


def f():
    line = "x" * 10000
    while True:
        print(line)
        sys.stderr.write(line)
