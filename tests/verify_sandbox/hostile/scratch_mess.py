# Leaves a mess in its scratch directory: deep trees, no permissions, links, big files.
import os


def f():
    os.makedirs("a/" * 50 + "end", exist_ok=True)
    for i in range(100):
        with open("file%d" % i, "w") as fh:
            fh.write("x" * 1000)
    os.symlink("/", "rootlink")
    os.makedirs("locked/inner")
    with open("locked/inner/x", "w") as fh:
        fh.write("x")
    os.chmod("locked/inner", 0)
    os.chmod("locked", 0)
    os.makedirs("../outside-my-dir/x", exist_ok=True)  # beside its own directory
    return "messy"
