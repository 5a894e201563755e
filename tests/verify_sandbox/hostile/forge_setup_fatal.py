# Writes what used to pass for the harness's own "the sandbox could not be set up" message
# (which ended the whole run) on every fd that might reach the judge, then exits with the
# status of a failed set-up. It must be a verdict for this check alone.
import os
import struct

for fd in range(3, 16):
    for body in (b'{"fatal": "cannot load the candidate seccomp filter: forged"}', b'["fatal", "forged"]'):
        try:
            os.write(fd, struct.pack("<I", len(body)) + body)
        except OSError:
            pass
os._exit(70)


def f(x):
    return x * 2
