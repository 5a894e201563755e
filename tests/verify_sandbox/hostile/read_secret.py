# Reads a file outside the allowed paths and returns its content.
def f():
    with open("@SECRET@") as fh:
        return fh.read()
