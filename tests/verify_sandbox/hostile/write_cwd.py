# Writes into its working directory (the private scratch: allowed, removed afterwards), then
# into the host's working directory by absolute path (must fail).
def f():
    with open("pwned.txt", "w") as fh:
        fh.write("scratch")
    with open("@CWDFILE@", "w") as fh:
        fh.write("host")
    return "written"
