# Runs a shell through subprocess (vfork/clone + exec).
import subprocess


def f():
    return subprocess.run(["/bin/sh", "-c", "echo pwned"], capture_output=True).stdout
