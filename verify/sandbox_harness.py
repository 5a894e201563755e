# sandbox_harness.py — the Python side of a sandbox worker (embedded in the verify binary,
# started by verify/sandbox_launch.c with `python3 -s -S -B -c <this file>`).
#
# One worker is three kinds of process (see verify/sandbox.h and verify/README.md):
#   template   this process after start-up: imports, loads the template seccomp filter,
#              forks the judge once, then forks one candidate process per check. It never
#              reads a request, so no candidate can find another check's data in memory.
#   judge      reads requests from the host (fd 3), runs the hidden tests with the
#              candidate's functions replaced by stubs, writes verdicts to the host (fd 4).
#              It runs under its own limits (address space; CPU per check) and reports its
#              CPU per check.
#   candidate  locks itself down (rlimits, Landlock scope, its seccomp filter on top of the
#              worker's allowlist), runs the candidate code, answers the judge's calls with
#              plain data.
#
# Fds on entry: 0 and 1 /dev/null, 2 the host's stderr, 3 requests, 4 responses, 5 init.
import _socket
import builtins
import ctypes
import errno
import gc
import marshal
import os
import resource
import select
import signal
import struct
import sys
import time
from _json import encode_basestring_ascii as jstr

REQ_FD, RESP_FD, INIT_FD = 3, 4, 5
# Candidate-side fds: calls in, replies out, and the set-up report (closed before any
# candidate code runs, so nothing on it can come from the candidate).
C_CALL_FD, C_REPLY_FD, C_SETUP_FD = 3, 4, 5
SETUP_FAILED = 70           # exit status of a candidate whose lock-down failed

PASS, FAIL, TIMEOUT, CRASH, VIOLATION, ERROR = 0, 1, 2, 3, 4, 5
MAX_CALL = 16 << 20         # largest judge -> candidate message
MAX_REPLY = 1 << 20         # all of a check's candidate -> judge messages together
MAX_SAME_HASH = 8           # elements of one set/dict sharing a hash value (more: built to collide)
TEST_CACHE = 1024           # compiled hidden tests kept by a judge (many checks per problem)
MAX_DEPTH = 100             # nesting of values crossing the boundary
OUTPUT_HEAD = 1024          # bytes of candidate output reported to the host
DETAIL_MAX = 480
QUOTE_MAX = 160             # characters of candidate-influenced text in a verdict detail
TRIM_AFTER = 256 << 10      # reply bytes after which the judge gives memory back
LIMITS = struct.Struct("<IQQII")  # cpu s, address space, file size, open files, processes

PR_SET_PDEATHSIG, PR_GET_SECCOMP, PR_SET_SECCOMP, PR_GET_NO_NEW_PRIVS = 1, 21, 22, 39
PR_SET_CHILD_SUBREAPER = 36
SECCOMP_MODE_FILTER = 2
SYS_landlock_create_ruleset, SYS_landlock_restrict_self = 444, 446
LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET, LANDLOCK_SCOPE_SIGNAL = 1, 2
X_SETUP_FAILED, X_DIRTY = 1, 2      # flags of the template's end-of-candidate message
V_RETIRE = 1                        # verdict flag: restart this worker before its next check

# The C library without ctypes' errno bookkeeping, whose first use costs a fresh candidate
# process ~0.2 ms of copied pages; errno is read directly when a call fails.
libc = ctypes.CDLL(None)
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
libc.__errno_location.restype = ctypes.POINTER(ctypes.c_int)
sys_call3 = libc["syscall"]
sys_call3.argtypes = [ctypes.c_long] * 3
sys_call3.restype = ctypes.c_long
sys_call4 = libc["syscall"]
sys_call4.argtypes = [ctypes.c_long] * 4
sys_call4.restype = ctypes.c_long


def last_error():
    return os.strerror(libc.__errno_location()[0])


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class LandlockAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


def die(msg):
    try:
        os.write(2, ("sandbox worker: %s\n" % msg).encode("utf-8", "replace"))
    finally:
        os._exit(70)


# ---- framing --------------------------------------------------------------------------------

def read_exact(fd, n):
    parts, got = [], 0
    while got < n:
        b = os.read(fd, n - got)
        if not b:
            return None
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def read_frame(fd, magic):
    """Host frame: 4-byte magic, u32 length, payload. None on a clean EOF."""
    head = read_exact(fd, 8)
    if head is None:
        return None
    if head[:4] != magic:
        die("bad frame magic %r (expected %r)" % (head[:4], magic))
    (n,) = struct.unpack("<I", head[4:])
    body = read_exact(fd, n)
    if body is None:
        die("truncated %r frame" % magic)
    return body


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_frame(fd, magic, payload):
    write_all(fd, magic + struct.pack("<I", len(payload)) + payload)


def take_blob(buf, pos):
    (n,) = struct.unpack_from("<I", buf, pos)
    pos += 4
    return buf[pos:pos + n], pos + n


# The template and the judge talk over a SOCK_SEQPACKET pair; fds travel as SCM_RIGHTS.
FD_SPACE = _socket.CMSG_SPACE(8 * 4)


def send_fds(sock, msg, fds):
    sock.sendmsg([msg], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))])


def recv_fds(sock):
    msg, anc, _, _ = sock.recvmsg(64, FD_SPACE)
    fds = []
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            n = len(data) // 4
            fds.extend(struct.unpack("%di" % n, data[:4 * n]))
    return msg, fds


# ---- plain data across the boundary -----------------------------------------------------------
# A value is JSON: null, true, false and strings stand for themselves; everything else is
# [tag, payload]. Only exact builtin types are accepted, so an object cannot pretend to be
# equal to anything on the judge's side.

class Unsupported(Exception):
    pass


def enc(v, d=0):
    """The JSON text of a plain value (the candidate's answers; built by hand because the
    json module's first use is costly in a fresh process)."""
    if d > MAX_DEPTH:
        raise Unsupported("value nested deeper than %d" % MAX_DEPTH)
    t = type(v)
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is str:
        return jstr(v)
    if t is int:
        return '["i","%s"]' % hex(v)
    if t is float:
        return '["f","%s"]' % v.hex()
    if t is list or t is tuple or t is set or t is frozenset:
        tag = "l" if t is list else "t" if t is tuple else "s" if t is set else "F"
        return '["%s",[%s]]' % (tag, ",".join([enc(x, d + 1) for x in v]))
    if t is dict:
        return '["d",[%s]]' % ",".join(["[%s,%s]" % (enc(k, d + 1), enc(x, d + 1)) for k, x in v.items()])
    if t is bytes:
        return '["b","%s"]' % v.hex()
    if t is complex:
        return '["c",["%s","%s"]]' % (v.real.hex(), v.imag.hex())
    raise Unsupported("unsupported type %s" % t.__name__)


class Malformed(Exception):
    pass


def no_number(s):
    raise Malformed("a bare JSON number")


def no_object(pairs):
    raise Malformed("a JSON object")


def hash_guard(keys):
    """Refuses a set or dict whose keys share hash values beyond what real data does: the
    interpreter would take quadratic time to build it (ints k * (2**61 - 1), tuples of
    them, ... all collide)."""
    n = len(keys)
    if n <= MAX_SAME_HASH:
        return
    hs = [hash(k) for k in keys]
    if len(set(hs)) == n:
        return
    counts = {}
    for h in hs:
        c = counts.get(h, 0) + 1
        if c > MAX_SAME_HASH:
            raise Malformed("a set or dict with more than %d keys of one hash value (built to collide)" % MAX_SAME_HASH)
        counts[h] = c


def dec(o, d=0):
    if d > MAX_DEPTH:
        raise Malformed("value nested deeper than %d" % MAX_DEPTH)
    if o is None or o is True or o is False or type(o) is str:
        return o
    if type(o) is not list or len(o) != 2 or type(o[0]) is not str:
        raise Malformed("malformed value")
    tag, p = o
    try:
        if tag == "i" and type(p) is str:
            return int(p, 16)
        if tag == "f" and type(p) is str:
            return float.fromhex(p)
        if tag == "b" and type(p) is str:
            return bytes.fromhex(p)
        if tag == "c" and type(p) is list and len(p) == 2 and all(type(x) is str for x in p):
            return complex(float.fromhex(p[0]), float.fromhex(p[1]))
        if type(p) is list:
            if tag == "l":
                return [dec(x, d + 1) for x in p]
            if tag == "t":
                return tuple([dec(x, d + 1) for x in p])
            if tag == "s" or tag == "F":
                items = [dec(x, d + 1) for x in p]
                hash_guard(items)
                return set(items) if tag == "s" else frozenset(items)
            if tag == "d":
                keys, vals = [], []
                for kv in p:
                    if type(kv) is not list or len(kv) != 2:
                        raise Malformed("malformed dict item")
                    keys.append(dec(kv[0], d + 1))
                    vals.append(dec(kv[1], d + 1))
                hash_guard(keys)
                return dict(zip(keys, vals))
    except Malformed:
        raise
    except (MemoryError, RecursionError):
        raise
    except Exception as e:  # bad hex, unhashable key, ...
        raise Malformed("malformed %s value: %s" % (quoted(tag, 8), type(e).__name__))
    raise Malformed("unknown value tag %s" % quoted(tag, 8))


def short(s, n=200):
    s = str(s)[:n + 1]  # bounded first: the text may be huge
    s = "".join([c if " " <= c <= "~" else "?" for c in s])
    return s if len(s) <= n else s[:n - 3] + "..."


def quoted(s, n=QUOTE_MAX):
    """Text that may come from the candidate, for a verdict detail: at most n printable
    ASCII characters between double quotes, none of them a double quote or a backslash, so
    nothing inside can pass for the judge's own words."""
    s = s if type(s) is str else "<%s>" % type(s).__name__
    cut = len(s) > n
    s = "".join([c if " " <= c <= "~" and c != '"' and c != "\\" else "?" for c in s[:n]])
    return '"%s%s"' % (s, "..." if cut else "")


def describe_exc(e):
    name = type(e).__name__
    try:
        msg = str(e)
    except BaseException:
        msg = "<unprintable>"
    return short("%s: %s" % (name, msg) if msg else name)


# ---- template ----------------------------------------------------------------------------------

def filter_program(bpf):
    """A seccomp program ready to load: (buffer, sock_fprog, its address)."""
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    return (buf, prog, ctypes.addressof(prog))


def load_filter(program):
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program[2], 0, 0) != 0:
        return last_error()
    return None


DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def wipe_dir(root):
    """Removes everything below the directory open at fd root (not root itself), whatever
    the candidate made of it: any depth, any permissions (the root's included: it is reset
    through the fd, which the candidate cannot take away), symlinks never followed. Holds
    at most two more fds."""
    os.chmod(root, 0o700)
    root_st = os.fstat(root)
    fd = os.dup(root)
    try:
        while True:
            with os.scandir(fd) as it:
                entry = next(it, None)
            if entry is not None:
                if entry.is_dir(follow_symlinks=False):
                    os.chmod(entry.name, 0o700, dir_fd=fd)  # a real directory: is_dir said so
                    sub = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
                    os.close(fd)
                    fd = sub
                else:
                    os.unlink(entry.name, dir_fd=fd)
                continue
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == (root_st.st_dev, root_st.st_ino):
                return
            parent = os.open("..", DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            with os.scandir(fd) as it:
                for e in it:
                    if e.inode() == st.st_ino and e.is_dir(follow_symlinks=False):
                        os.rmdir(e.name, dir_fd=fd)
                        break
                else:
                    raise OSError(errno.EIO, "lost track of a directory while wiping the scratch")
    finally:
        os.close(fd)


def clean_scratch(root, cname):
    """The scratch after a check: the candidate's own directory removed, the root empty."""
    try:
        os.rmdir(cname, dir_fd=root)  # the usual case: it wrote nothing
        with os.scandir(root) as it:
            if next(it, None) is None:
                return
    except OSError:
        pass
    wipe_dir(root)


def template_main():
    body = read_frame(INIT_FD, b"BINI")
    if body is None:
        die("no init frame")
    os.close(INIT_FD)
    cfg_text, pos = take_blob(body, 0)
    tbpf, pos = take_blob(body, pos)
    wbpf, pos = take_blob(body, pos)
    cbpf, pos = take_blob(body, pos)
    cfg = dict(line.partition("=")[::2] for line in cfg_text.decode().splitlines())
    for key in ("pidns", "seccomp", "landlock_scope"):
        cfg[key] = cfg[key] == "1"
    cfg["judge_memory"] = int(cfg["judge_memory"])
    cfg["preimport"] = [m for m in cfg["preimport"].split(",") if m]
    os.environ.clear()  # the interpreter got PYTHONHASHSEED only; candidates see nothing

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if not cfg["pidns"]:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    for name in cfg["preimport"]:
        __import__(name)
    # The judge and the template talk over a socket pair, made before the filter (which
    # refuses socket creation) so the template can hand the judge each candidate's pipes.
    t_sock, j_sock = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    if cfg["seccomp"]:
        seccomp_error = load_filter(filter_program(tbpf))
        if seccomp_error:
            die("cannot load the template seccomp filter: " + seccomp_error)
    global CAND_PROGRAM, SCOPE_ATTR
    worker_program = filter_program(wbpf)
    CAND_PROGRAM = filter_program(cbpf)  # built once, loaded by every candidate
    SCOPE_ATTR = LandlockAttr(0, 0, LANDLOCK_SCOPE_SIGNAL | LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET)
    scratch = cfg["scratch"]
    root = os.open(scratch, DIR_FLAGS)  # kept: clean-up never looks the root up again
    wipe_dir(root)
    # Candidates read from the worker's own /dev/null (read-only mount: its times cannot
    # be changed through it), not the host's.
    try:
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        os.dup2(null, 0)
        os.close(null)
    except OSError:
        pass  # no mount namespace: /dev is not in the worker's paths; fd 0 stays the host's
    gc.collect()
    gc.freeze()  # fewer copy-on-write faults in every forked child
    libc.malloc_trim(0)  # a smaller template is cheaper to fork and to tear down

    jpid = os.fork()
    if jpid == 0:
        t_sock.close()
        judge_main(j_sock, cfg)
        os._exit(0)
    j_sock.close()
    os.close(REQ_FD)
    os.close(RESP_FD)
    # The candidates' allowlist, loaded here once rather than compiled in every candidate;
    # the judge, forked before, keeps only the template filter.
    if cfg["seccomp"]:
        seccomp_error = load_filter(worker_program)
        if seccomp_error:
            die("cannot load the worker seccomp filter: " + seccomp_error)
    # One set-up report pipe for every candidate: each closes its end before running code.
    setup_r, setup_w = os.pipe()
    os.set_blocking(setup_r, False)
    tpid = os.getpid()
    epoch = 0
    while True:
        epoch += 1
        cname = str(epoch)
        os.mkdir(cname, 0o700, dir_fd=root)
        call_r, call_w = os.pipe()
        reply_r, reply_w = os.pipe()
        out_r, out_w = os.pipe()
        cpid = os.fork()
        if cpid == 0:
            t_sock.close()
            for fd in (call_w, reply_r, out_r, setup_r, root):
                os.close(fd)
            candidate_main(cfg, tpid, "%s/%s" % (scratch, cname), call_r, reply_w, out_w, setup_w)
            os._exit(0)
        for fd in (call_r, reply_w, out_w):
            os.close(fd)
        try:
            pidfd = os.pidfd_open(cpid)
        except OSError:
            pidfd = -1
        fds = [call_w, reply_r, out_r] + ([pidfd] if pidfd >= 0 else [])
        try:
            send_fds(t_sock, b"C" + struct.pack("<QI", epoch, cpid), fds)
        except OSError:
            pass  # judge gone: the wait below sees it
        for fd in fds:
            os.close(fd)
        while True:
            pid, status, ru = os.wait4(-1, 0)
            if pid == jpid:
                try:
                    os.kill(cpid, signal.SIGKILL)
                except OSError:
                    pass
                os._exit(0)
            if pid == cpid:
                break
        flags, note = 0, b""
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == SETUP_FAILED:
            try:
                note = os.read(setup_r, 4096)
            except BlockingIOError:
                note = b""
            if note:
                flags |= X_SETUP_FAILED
        try:
            clean_scratch(root, cname)
        except Exception as e:
            flags |= X_DIRTY
            note = ("the scratch could not be cleaned: %s" % describe_exc(e)).encode()
        cpu = ru.ru_utime + ru.ru_stime
        try:
            t_sock.send(b"X" + struct.pack("<QidI", epoch, status, cpu, flags) + note[:1024])
        except OSError:
            pass
        if flags & X_DIRTY:  # the judge reports it with the verdict; the host restarts us
            while os.wait4(-1, 0)[0] != jpid:
                pass
            os._exit(0)


# ---- candidate ---------------------------------------------------------------------------------

def read_msg(fd):
    """A message from the judge (trusted): marshal data. None at end of input."""
    head = read_exact(fd, 4)
    if head is None:
        return None
    (n,) = struct.unpack("<I", head)
    body = read_exact(fd, n)
    if body is None:
        return None
    return marshal.loads(body)


def landlock_scope():
    fd = sys_call4(SYS_landlock_create_ruleset, ctypes.addressof(SCOPE_ATTR), ctypes.sizeof(SCOPE_ATTR), 0)
    if fd < 0:
        return "landlock_create_ruleset: " + last_error()
    rc = sys_call3(SYS_landlock_restrict_self, fd, 0)
    err = None if rc == 0 else "landlock_restrict_self: " + last_error()
    os.close(fd)
    return err


def candidate_main(cfg, tpid, cdir, call_r, reply_w, out_w, setup_w):
    """Runs in the candidate process; never returns."""
    try:
        # Out of the way first (the template's fds are all below 100), then into place.
        for i, fd in enumerate((out_w, call_r, reply_w, setup_w)):
            os.dup2(fd, 100 + i)
        for src, dst in ((100, 1), (100, 2), (101, C_CALL_FD), (102, C_REPLY_FD), (103, C_SETUP_FD)):
            os.dup2(src, dst)
        os.closerange(C_SETUP_FD + 1, 1024)  # the template's open-files limit is 256
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != tpid:
            os._exit(0)
        # The load message: the limits, then the candidate's code compiled by the judge
        # (compiling here would copy most of the compiler's memory: ~1.5 ms per check).
        head = read_exact(C_CALL_FD, 4)
        if head is None:
            os._exit(0)
        (n,) = struct.unpack("<I", head)
        load = read_exact(C_CALL_FD, n)
        if load is None:
            os._exit(0)
        cpu, mem, fsize, nofile, nproc = LIMITS.unpack_from(load)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # over the file-size limit: killed
        os.chdir(cdir)
        if cfg["landlock_scope"]:
            err = landlock_scope()
            if err:
                raise OSError(err)
        if cfg["seccomp"]:
            err = load_filter(CAND_PROGRAM)
            if err:
                raise OSError("cannot load the candidate seccomp filter: " + err)
    except BaseException as e:
        try:
            os.write(C_SETUP_FD, describe_exc(e).encode())
        finally:
            os._exit(SETUP_FAILED)
    os.close(C_SETUP_FD)
    serve(load, LIMITS.size)
    os._exit(0)


def flush_output():
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:
            pass


def serve(load, at):
    g = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(marshal.loads(memoryview(load)[at:]), g)
        del load
        names = sorted(k for k, v in list(g.items()) if type(k) is str and callable(v) and not k.startswith("__"))
        hello = '["ok",[%s]]' % ",".join([jstr(n) for n in names])
    except BaseException as e:
        hello = '["e",%s]' % jstr(describe_exc(e))
    flush_output()
    # With every test a literal call, the judge sent the batch along with the code: answer
    # it all in one write (one wake-up of the judge) and exit. Answers go out early only if
    # the batch takes long, so a crash part-way still shows which tests passed. (A batch
    # that arrives later, because the judge's write was split, is answered the same way.)
    r, _, _ = select.select([C_CALL_FD], [], [], 0)
    msg = read_msg(C_CALL_FD) if r else None
    pending = [frame(hello)]
    if msg is None:
        write_all(C_REPLY_FD, pending.pop())
    while True:
        if msg is None:
            msg = read_msg(C_CALL_FD)
            if msg is None:
                os._exit(0)
        if msg[0] == "batch":
            last = time.monotonic()
            group = []
            for name, args, kwargs in msg[1]:
                group.append(answer(g, name, args, kwargs))
                if time.monotonic() - last > 0.02:
                    pending.append(frame('["r",[%s]]' % ",".join(group)))
                    write_all(C_REPLY_FD, b"".join(pending))
                    pending, group, last = [], [], time.monotonic()
            if group:
                pending.append(frame('["r",[%s]]' % ",".join(group)))
            write_all(C_REPLY_FD, b"".join(pending))
            os._exit(0)
        _, name, args, kwargs = msg
        pending.append(frame('["r",[%s]]' % answer(g, name, args, kwargs)))
        write_all(C_REPLY_FD, b"".join(pending))
        pending, msg = [], None


def frame(text):
    data = text.encode("ascii")
    return struct.pack("<I", len(data)) + data


def answer(g, name, args, kwargs):
    """One call's reply as JSON text: ["v", value] or ["e", error]."""
    try:
        if name not in g:
            raise NameError("name %r is not defined" % name)
        reply = '["v",%s]' % enc(g[name](*args, **kwargs))
    except Unsupported as e:
        reply = '["e",%s]' % jstr("return value: " + str(e))
    except BaseException as e:
        try:
            reply = '["e",%s]' % jstr(describe_exc(e))
        except BaseException:
            reply = '["e","an exception that cannot be described"]'
    flush_output()
    return reply


# ---- judge -------------------------------------------------------------------------------------

class Stop(Exception):
    """Ends a check early with a verdict (timeout, violation, the candidate died)."""

    def __init__(self, outcome, reason):
        Exception.__init__(self, reason)
        self.outcome, self.reason = outcome, reason


class Died(Exception):
    pass


class HarnessError(Exception):
    """Problem data the harness cannot run (tests that do not parse, unsendable args)."""


class CandidateError(Exception):
    pass


class Rejected(Exception):
    """The candidate's code does not compile: a fail, decided without running it."""


class JudgeLimit(BaseException):
    """The judge's CPU budget for this check ran out (SIGPROF). A BaseException, so the
    test statements' own `except Exception` cannot swallow it."""


def protocol(why):
    return Stop(VIOLATION, "candidate process broke the harness protocol: " + why)


class Channel:
    """The judge's end of one candidate process: calls out, replies and output in. The
    replies are bounded (MAX_REPLY bytes per check) and decoded in linear time."""

    def __init__(self, call_w, reply_r, out_r, deadline, out_cap):
        self.call_w, self.reply_r, self.out_r = call_w, reply_r, out_r
        self.deadline, self.out_cap = deadline, out_cap
        self.buf = bytearray()
        self.received = 0
        self.answers, self.next_answer = [], 0
        self.replies = 0  # answers taken: from then on, values in the tests may be the candidate's
        self.passed = 0
        self.out_head = bytearray()
        self.out_total = 0
        self.out_open = True
        self.batched = False
        os.set_blocking(reply_r, False)
        os.set_blocking(out_r, False)

    def drain_output(self):
        while self.out_open:
            try:
                b = os.read(self.out_r, 1 << 16)
            except BlockingIOError:
                return
            if not b:
                self.out_open = False
                return
            self.out_total += len(b)
            room = OUTPUT_HEAD - len(self.out_head)
            if room > 0:
                self.out_head += b[:room]
            if self.out_total > self.out_cap:
                raise Stop(VIOLATION, "output exceeded the %d-byte cap" % self.out_cap)

    def send_raw(self, data):
        self.send_framed(struct.pack("<I", len(data)) + data)

    def send_framed(self, buf):
        """Writes whole messages (length-prefixed), draining the candidate's output meanwhile."""
        msg = memoryview(buf)
        os.set_blocking(self.call_w, False)
        while msg:
            self.wait([self.out_r] if self.out_open else [], [self.call_w])
            try:
                n = os.write(self.call_w, msg)
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise Died()
            msg = msg[n:]

    def wait(self, rfds, wfds):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Stop(TIMEOUT, "wall-clock limit exceeded")
        r, w, _ = select.select(rfds, wfds, [], left)
        if not r and not w:
            raise Stop(TIMEOUT, "wall-clock limit exceeded")
        if self.out_r in r:
            self.drain_output()
        return r, w

    def recv(self):
        """The next message: a JSON array [tag, payload] with a string tag."""
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack_from("<I", self.buf)
                if 4 + n > MAX_REPLY:
                    raise Stop(VIOLATION, "the candidate's answers exceed %d bytes (a %d-byte message)" % (MAX_REPLY, n))
                if len(self.buf) >= 4 + n:
                    body = bytes(self.buf[4:4 + n])
                    del self.buf[:4 + n]
                    try:
                        obj, end = SCAN(body.decode("ascii"), 0)
                    except (Malformed, ValueError, StopIteration, RecursionError) as e:
                        raise protocol("a message that is not plain JSON (%s)" % type(e).__name__)
                    if end != n or type(obj) is not list or len(obj) != 2 or type(obj[0]) is not str:
                        raise protocol("a message that is not [tag, payload]")
                    return obj
            r, _ = self.wait([self.reply_r] + ([self.out_r] if self.out_open else []), [])
            if self.reply_r in r:
                try:
                    b = os.read(self.reply_r, 1 << 20)
                except BlockingIOError:
                    continue
                if not b:
                    raise Died()
                self.received += len(b)
                if self.received > MAX_REPLY:
                    raise Stop(VIOLATION, "the candidate's answers exceed %d bytes" % MAX_REPLY)
                self.buf += b

    def take_answer(self):
        """The next answer, in call order (several may come in one message)."""
        while self.next_answer >= len(self.answers):
            tag, payload = self.recv()
            if tag != "r" or type(payload) is not list:
                raise protocol("an answer message without answers")
            self.answers, self.next_answer = payload, 0
        a = self.answers[self.next_answer]
        self.next_answer += 1
        self.replies += 1
        if type(a) is not list or len(a) != 2:
            raise protocol("a malformed answer")
        if a[0] == "e" and type(a[1]) is str:
            raise CandidateError(a[1])
        if a[0] != "v":
            raise protocol("an answer without a value")
        try:
            return dec(a[1])
        except Malformed as e:
            raise protocol(str(e))

    def call(self, name, args, kwargs):
        if not self.batched:
            try:
                for v in args + tuple(kwargs.values()):
                    enc(v)  # plain data only
                msg = marshal.dumps(("call", name, args, kwargs))
                if len(msg) > MAX_CALL:
                    raise Unsupported("arguments of more than %d bytes" % MAX_CALL)
            except (Unsupported, ValueError) as e:
                if self.replies:  # the arguments may be built from the candidate's answers
                    raise ValueError("the arguments of %s() cannot cross to the candidate: %s" % (name, e))
                raise HarnessError("a test passes %s to %s(), which cannot cross to the candidate" % (e, name))
            self.send_raw(msg)
        return self.take_answer()  # batched: the next answer of the batch sent ahead


class Stub:
    __slots__ = ("name", "ch")

    def __init__(self, name, ch):
        self.name, self.ch = name, ch

    def __call__(self, *args, **kwargs):
        return self.ch.call(self.name, args, kwargs)


def free_names(tree):
    assigned, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else assigned).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            assigned.add(node.name)
        elif isinstance(node, ast.alias):
            assigned.add((node.asname or node.name).split(".")[0])
    return loaded - assigned - set(dir(builtins))


_test_cache = {}


def literal_call(node, candidates):
    """For `assert NAME(literals) <op> literals` (the usual hidden test): the call as it
    crosses to the candidate, else None. Such a statement makes exactly this one call,
    unconditionally and first, so all of them can be sent ahead in one batch."""
    if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
        return None
    call = node.test.left
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.func.id not in candidates:
        return None
    try:
        for c in node.test.comparators:
            ast.literal_eval(c)
        args = tuple(ast.literal_eval(a) for a in call.args)
        kwargs = {}
        for k in call.keywords:
            if k.arg is None:
                return None
            kwargs[k.arg] = ast.literal_eval(k.value)
        for v in args + tuple(kwargs.values()):
            enc(v)  # plain data only
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, Unsupported):
        return None
    return (call.func.id, args, kwargs)


def literal_compare(node):
    """For `assert NAME(...) <op> literal` with one comparison: (op, literal), which the
    judge applies to the answer directly: the same test without running the statement."""
    if len(node.test.ops) != 1 or node.msg is not None:
        return None
    op = COMPARE_OPS.get(type(node.test.ops[0]))
    if op is None:
        return None
    return (op, ast.literal_eval(node.test.comparators[0]))


def compile_tests(src):
    """(statements, names the candidate must provide, batch of calls or None). A statement
    is (line, text, code object, direct comparison or None)."""
    hit = _test_cache.pop(src, None)
    if hit is not None:
        _test_cache[src] = hit  # most recently used last
        return hit
    try:
        tree = ast.parse(src, "<tests>")
    except SyntaxError as e:
        raise HarnessError("the hidden tests do not parse: %s (line %s)" % (e.msg, e.lineno))
    lines = src.splitlines()
    names = free_names(tree)
    calls = [literal_call(node, names) for node in tree.body]
    batch = None
    if calls and all(c is not None for c in calls):
        batch = marshal.dumps(("batch", calls))
        if len(batch) > MAX_CALL:
            batch = None
    stmts = []
    for node in tree.body:
        mod = ast.Module(body=[node], type_ignores=[])
        text = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
        direct = literal_compare(node) if batch is not None else None
        stmts.append((node.lineno, short(text, 120), compile(mod, "<tests>", "exec"), direct))
    if not stmts:
        raise HarnessError("the hidden tests are empty")
    hit = (stmts, names, batch)
    if len(_test_cache) >= TEST_CACHE:
        del _test_cache[next(iter(_test_cache))]  # least recently used
    _test_cache[src] = hit
    return hit


SIGNAMES = {getattr(signal, n): n for n in dir(signal) if n.startswith("SIG") and not n.startswith("SIG_")}


def cpu_spent(cpu, cpu_limit):
    """Whether the candidate's measured CPU reached its limit. The kernel's limit check
    samples ticks and, with CPUs shared, fires when the exact figure is 10-15% short of it;
    a candidate that sends itself SIGXCPU early does not get there."""
    return cpu >= 0.75 * cpu_limit


def classify_death(status, cpu, cpu_limit):
    """How the candidate process ended, decided by what was measured: a timeout only when
    its CPU time reached the limit, whichever signal it died of."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = SIGNAMES.get(sig, "signal %d" % sig)
        if sig == signal.SIGSYS:
            return VIOLATION, "killed by the seccomp filter: a system call outside the allowlist"
        if (sig == signal.SIGXCPU or sig == signal.SIGKILL) and cpu_spent(cpu, cpu_limit):
            return TIMEOUT, "CPU limit of %d s exceeded" % cpu_limit
        if sig == signal.SIGXFSZ:
            return VIOLATION, "file size limit exceeded (SIGXFSZ)"
        return CRASH, "candidate process killed by %s after %.2f s of CPU" % (name, cpu)
    return CRASH, "candidate process exited with status %d before answering" % os.WEXITSTATUS(status)


class Judge:
    def __init__(self, sock, cfg):
        self.sock, self.cfg = sock, cfg
        self.pending = []  # messages from the template not yet consumed
        self.armed = False
        signal.signal(signal.SIGPROF, self.on_prof)

    def on_prof(self, sig, frame):
        if self.armed:
            self.armed = False
            raise JudgeLimit()

    def next_msg(self, kind):
        while True:
            for i, (m, fds) in enumerate(self.pending):
                if m[:1] == kind:
                    del self.pending[i]
                    return m, fds
            m, fds = recv_fds(self.sock)
            if not m:
                os._exit(0)  # template gone
            self.pending.append((m, fds))

    def run_tests(self, ch, stmts, names, hello_ok):
        """Runs the test statements, counting passes in ch.passed as it goes (a check that
        ends early still says how far it got); returns the first failure or None."""
        ns = {"__builtins__": builtins, "__name__": "__tests__"}
        # Batched, every call was sent and gets an answer in order (an error for a name
        # the candidate lacks), so every called name needs a stub to take it.
        for name in names if ch.batched else names.intersection(hello_ok):
            ns[name] = Stub(name, ch)
        first = None
        for lineno, text, stmt, direct in stmts:
            try:
                if direct is not None:
                    if not direct[0](ch.take_answer(), direct[1]):
                        raise AssertionError()
                else:
                    exec(stmt, ns)
                ch.passed += 1
            except (Stop, Died, HarnessError, MemoryError):
                raise
            except AssertionError:
                first = first or "line %d failed: %s" % (lineno, text)
            except CandidateError as e:
                first = first or "line %d: candidate raised, candidate output %s" % (lineno, quoted(str(e)))
            except Exception as e:  # raised in the judge; its message may quote the candidate's values
                first = first or "line %d: %s, message %s" % (lineno, type(e).__name__, quoted(str(e)))
        return first

    def check(self, body):
        t0 = time.process_time()
        seq, cpu_ms, wall_ms, mem, fsize, out_cap, nofile, nproc = struct.unpack_from("<QIIQQQII", body)
        code, pos = take_blob(body, struct.calcsize("<QIIQQQII"))
        tests, pos = take_blob(body, pos)
        tests = tests.decode("utf-8", "replace")
        cpu_limit = max(1, -(-cpu_ms // 1000))
        m, fds = self.next_msg(b"C")
        epoch, cpid = struct.unpack_from("<QI", m, 1)
        call_w, reply_r, out_r = fds[:3]
        pidfd = fds[3] if len(fds) > 3 else -1
        deadline = time.monotonic() + wall_ms / 1000.0
        ch = Channel(call_w, reply_r, out_r, deadline, out_cap)
        passed, total, outcome, detail, died = 0, 0, FAIL, "", False
        try:
            try:
                # The judge's own CPU budget for this check: the candidate's CPU limit.
                self.armed = True
                signal.setitimer(signal.ITIMER_PROF, cpu_limit)
                stmts, names, batch = compile_tests(tests)
                total = len(stmts)
                try:
                    codeobj = compile(code.decode("utf-8", "replace"), "<candidate>", "exec", dont_inherit=True)
                except Exception as e:  # SyntaxError, ValueError (NUL), RecursionError, MemoryError
                    line = getattr(e, "lineno", None) if isinstance(e, SyntaxError) else None
                    where = " (line %s)" % line if type(line) is int else ""
                    raise Rejected("candidate code does not compile%s: message %s; 0/%d tests passed" %
                                   (where, quoted(describe_exc(e)), total))
                load = LIMITS.pack(cpu_limit, mem, fsize, nofile, nproc) + marshal.dumps(codeobj)
                out = struct.pack("<I", len(load)) + load
                if batch is not None:  # every test is one literal call: send them all with the code
                    out += struct.pack("<I", len(batch)) + batch
                    ch.batched = True
                ch.send_framed(out)
                tag, hello = ch.recv()
                if tag == "e" and type(hello) is str:
                    detail = "candidate code raised at import, candidate output %s; 0/%d tests passed" % (
                        quoted(hello), total)
                elif tag != "ok" or type(hello) is not list or not all(type(x) is str for x in hello):
                    raise protocol("a bad hello")
                else:
                    first = self.run_tests(ch, stmts, names, hello)
                    passed = ch.passed
                    if passed == total:
                        outcome, detail = PASS, "%d/%d tests passed" % (passed, total)
                    else:
                        detail = "%d/%d tests passed; %s" % (passed, total, first)
            finally:
                self.armed = False
                signal.setitimer(signal.ITIMER_PROF, 0)
                passed = ch.passed
        except Stop as s:
            outcome, detail = s.outcome, "%s; %d/%d tests passed" % (s.reason, passed, total)
        except Died:
            died = True
        except HarnessError as e:
            outcome, detail = ERROR, str(e)
        except Rejected as e:
            detail = str(e)
        except JudgeLimit:
            outcome, detail = VIOLATION, "the judge's CPU limit of %d s ran out on the candidate's answers; %d/%d " \
                                         "tests passed" % (cpu_limit, passed, total)
        except MemoryError:
            outcome, detail = VIOLATION, "the judge ran out of memory on the candidate's answers; %d/%d tests " \
                                         "passed" % (passed, total)
        # End the candidate process, then learn how it ended from the template.
        try:
            if pidfd >= 0:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            else:
                os.kill(cpid, signal.SIGKILL)
        except OSError:
            pass
        m, _ = self.next_msg(b"X")
        x_epoch, status, cpu, xflags = struct.unpack_from("<QidI", m, 1)
        note = m[1 + struct.calcsize("<QidI"):].decode("utf-8", "replace")
        if x_epoch != epoch:
            die("template reported check %d, expected %d" % (x_epoch, epoch))
        if xflags & X_SETUP_FAILED:
            outcome, detail = ERROR, "the candidate sandbox could not be set up: %s" % short(note)
        elif died:
            try:
                ch.drain_output()
            except Stop:
                pass
            outcome, why = classify_death(status, cpu, cpu_limit)
            detail = "%s; %d/%d tests passed" % (why, passed, total)
        elif outcome == TIMEOUT and cpu_spent(cpu, cpu_limit):
            detail = "CPU limit of %d s exceeded; %d/%d tests passed" % (cpu_limit, passed, total)
        for fd in fds:
            os.close(fd)
        head, out_total, big = bytes(ch.out_head), ch.out_total, ch.received > TRIM_AFTER
        del ch
        if big:  # give back what a large answer took
            gc.collect()
            libc.malloc_trim(0)
        vflags = V_RETIRE if xflags & X_DIRTY else 0
        d = short(detail, DETAIL_MAX).encode()
        judge_cpu = time.process_time() - t0
        payload = struct.pack("<QIIIddQI", seq, outcome, passed, total, cpu, judge_cpu, out_total, vflags)
        payload += struct.pack("<I", len(d)) + d + struct.pack("<I", len(head)) + head
        write_frame(RESP_FD, b"BVER", payload)


def self_report():
    """What this worker observes about its own confinement, for the host's layer report:
    key=value lines."""
    rep = {"template_pid": os.getppid(), "uid": os.getuid(), "gid": os.getgid(), "python": sys.version.split()[0],
           "seccomp_mode": libc.prctl(PR_GET_SECCOMP, 0, 0, 0, 0),
           "no_new_privs": libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)}
    try:
        os.listdir("/")
        rep["landlock_denies_root"] = 0
    except PermissionError:
        rep["landlock_denies_root"] = 1
    except OSError:
        rep["landlock_denies_root"] = 0
    return "".join("%s=%s\n" % kv for kv in rep.items()).encode()


def judge_main(sock, cfg):
    global ast, SCAN, COMPARE_OPS
    import ast  # only the judge parses tests and decodes JSON: the template stays smaller
    import json
    import operator
    # A strict scanner: arrays, strings, true/false/null only (numbers and objects never
    # occur in the protocol); linear time in the message.
    SCAN = json.scanner.make_scanner(json.JSONDecoder(
        object_pairs_hook=no_object, parse_float=no_number, parse_int=no_number, parse_constant=no_number))
    COMPARE_OPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
                   ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
                   ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The judge decodes what candidates send: its memory is bounded too.
    resource.setrlimit(resource.RLIMIT_AS, (cfg["judge_memory"], cfg["judge_memory"]))
    gc.set_threshold(20000, 20, 20)  # few cycles are made here; collect rarely
    write_frame(RESP_FD, b"BRDY", self_report())
    judge = Judge(sock, cfg)
    while True:
        body = read_frame(REQ_FD, b"BREQ")
        if body is None:
            os._exit(0)
        judge.check(body)


if __name__ == "__main__":
    try:
        template_main()
    except SystemExit:
        raise
    except BaseException as e:
        die("%s: %s" % (type(e).__name__, e))
