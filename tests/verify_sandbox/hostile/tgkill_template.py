# Signals the template (pid 1 of the worker's namespace) with tgkill, which the filter allows
# (the runtime's raise() needs it): the Landlock signal scope must refuse it with EPERM.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)


def f():
    rc = libc.syscall(234, 1, 1, 9)  # tgkill(1, 1, SIGKILL) on x86_64
    return [rc, ctypes.get_errno()]
