# Writes past the file-size limit (1 MB in the tests).
def f():
    with open("big", "wb") as fh:
        fh.write(b"x" * (2 << 20))
    return 1
