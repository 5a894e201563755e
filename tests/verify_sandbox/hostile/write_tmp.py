# Writes a file into the host's /tmp.
def f():
    with open("@TMPFILE@", "w") as fh:
        fh.write("pwned")
    return "written"
