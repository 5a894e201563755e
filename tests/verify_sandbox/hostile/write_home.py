# Writes into $HOME (the environment is empty, so also the host's home by absolute path).
import os


def f():
    with open(os.path.join(os.path.expanduser("~"), "berry-pwned"), "w") as fh:
        fh.write("pwned")
    with open("@HOMEFILE@", "w") as fh:
        fh.write("pwned")
    return "written"
