# sandbox_harness.py — the Python side of a sandbox worker (embedded in the verify binary,
# started by verify/sandbox_launch.c with `python3 -s -S -B -c <this file>`).
#
# One worker is three kinds of process (see verify/sandbox.h and verify/README.md):
#   template   this process after start-up: imports, loads the template seccomp filter,
#              forks the judge once, then forks one candidate process per check. It never
#              reads a request, so no candidate can find another check's data in memory.
#   judge      reads requests from the host (fd 3), runs the hidden tests with the
#              candidate's functions replaced by stubs, writes verdicts to the host (fd 4).
#   candidate  locks itself down (rlimits, Landlock scope, seccomp allowlist), runs the
#              candidate code, answers the judge's calls with plain data.
#
# Fds on entry: 0 and 1 /dev/null, 2 the host's stderr, 3 requests, 4 responses, 5 init.
import builtins
import ctypes
import errno
import gc
import json
import marshal
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
from json.encoder import encode_basestring_ascii as jstr

REQ_FD, RESP_FD, INIT_FD = 3, 4, 5
# Candidate-side fds.
C_CALL_FD, C_REPLY_FD = 3, 4

PASS, FAIL, TIMEOUT, CRASH, VIOLATION, ERROR = 0, 1, 2, 3, 4, 5
MAX_MSG = 16 << 20          # largest judge<->candidate message
TEST_CACHE = 1024           # compiled hidden tests kept by a judge (many checks per problem)
MAX_DEPTH = 100             # nesting of values crossing the boundary
OUTPUT_HEAD = 1024          # bytes of candidate output reported to the host
DETAIL_MAX = 480

PR_SET_PDEATHSIG, PR_GET_SECCOMP, PR_SET_SECCOMP, PR_GET_NO_NEW_PRIVS = 1, 21, 22, 39
PR_SET_CHILD_SUBREAPER = 36
SECCOMP_MODE_FILTER = 2
SYS_landlock_create_ruleset, SYS_landlock_restrict_self = 444, 446
LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET, LANDLOCK_SCOPE_SIGNAL = 1, 2

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
                return tuple(dec(x, d + 1) for x in p)
            if tag == "s":
                return set(dec(x, d + 1) for x in p)
            if tag == "F":
                return frozenset(dec(x, d + 1) for x in p)
            if tag == "d":
                out = {}
                for kv in p:
                    if type(kv) is not list or len(kv) != 2:
                        raise Malformed("malformed dict item")
                    out[dec(kv[0], d + 1)] = dec(kv[1], d + 1)
                return out
    except Malformed:
        raise
    except Exception as e:  # bad hex, unhashable key, ...
        raise Malformed("malformed %r value: %s" % (tag, type(e).__name__))
    raise Malformed("unknown value tag %r" % tag)


def short(s, n=200):
    s = "".join(c if " " <= c <= "~" else "?" for c in str(s))
    return s if len(s) <= n else s[:n - 3] + "..."


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


def wipe_dir(path):
    """Removes everything below path (not path itself), whatever the candidate made of it:
    any depth, any permissions, symlinks never followed. Holds at most two fds."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    root = os.open(path, flags)
    root_st = os.fstat(root)
    fd = os.dup(root)
    try:
        while True:
            with os.scandir(fd) as it:
                entry = next(it, None)
            if entry is not None:
                if entry.is_dir(follow_symlinks=False):
                    os.chmod(entry.name, 0o700, dir_fd=fd)  # a real directory: is_dir said so
                    sub = os.open(entry.name, flags, dir_fd=fd)
                    os.close(fd)
                    fd = sub
                else:
                    os.unlink(entry.name, dir_fd=fd)
                continue
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == (root_st.st_dev, root_st.st_ino):
                return
            parent = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = parent
            with os.scandir(fd) as it:
                for e in it:
                    if e.inode() == st.st_ino and e.is_dir(follow_symlinks=False):
                        os.rmdir(e.name, dir_fd=fd)
                        break
                else:
                    raise OSError(errno.EIO, "lost track of a directory while wiping " + path)
    finally:
        os.close(fd)
        os.close(root)


def template_main():
    body = read_frame(INIT_FD, b"BINI")
    if body is None:
        die("no init frame")
    os.close(INIT_FD)
    cfg_json, pos = take_blob(body, 0)
    tbpf, pos = take_blob(body, pos)
    cbpf, pos = take_blob(body, pos)
    cfg = dict(line.partition("=")[::2] for line in cfg_json.decode().splitlines())
    for key in ("pidns", "seccomp", "landlock_scope"):
        cfg[key] = cfg[key] == "1"
    cfg["preimport"] = [m for m in cfg["preimport"].split(",") if m]
    os.environ.clear()  # the interpreter got PYTHONHASHSEED only; candidates see nothing

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if not cfg["pidns"]:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    for name in cfg["preimport"]:
        __import__(name)
    # The judge and the template talk over a socket pair, made before the filter (which
    # refuses socket creation) so the template can hand the judge each candidate's pipes.
    t_sock, j_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    seccomp_error = None
    if cfg["seccomp"]:
        seccomp_error = load_filter(filter_program(tbpf))
        if seccomp_error:
            die("cannot load the template seccomp filter: " + seccomp_error)
    global CAND_PROGRAM, SCOPE_ATTR
    CAND_PROGRAM = filter_program(cbpf)  # built once, loaded by every candidate
    SCOPE_ATTR = LandlockAttr(0, 0, LANDLOCK_SCOPE_SIGNAL | LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET)
    scratch = cfg["scratch"]
    wipe_dir(scratch)
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
    tpid = os.getpid()
    epoch = 0
    while True:
        epoch += 1
        cdir = "%s/%d" % (scratch, epoch)
        os.mkdir(cdir, 0o700)
        call_r, call_w = os.pipe()
        reply_r, reply_w = os.pipe()
        out_r, out_w = os.pipe()
        cpid = os.fork()
        if cpid == 0:
            t_sock.close()
            for fd in (call_w, reply_r, out_r):
                os.close(fd)
            candidate_main(cfg, tpid, cdir, call_r, reply_w, out_w)
            os._exit(0)
        for fd in (call_r, reply_w, out_w):
            os.close(fd)
        try:
            pidfd = os.pidfd_open(cpid)
        except OSError:
            pidfd = -1
        fds = [call_w, reply_r, out_r] + ([pidfd] if pidfd >= 0 else [])
        try:
            socket.send_fds(t_sock, [b"C" + struct.pack("<QI", epoch, cpid)], fds)
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
        wipe_dir(scratch)  # the candidate may have written anywhere under the scratch root
        cpu = ru.ru_utime + ru.ru_stime
        try:
            t_sock.send(b"X" + struct.pack("<Qid", epoch, status, cpu))
        except OSError:
            pass


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


def candidate_main(cfg, tpid, cdir, call_r, reply_w, out_w):
    """Runs in the candidate process; never returns."""
    try:
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.dup2(call_r, C_CALL_FD)
        os.dup2(reply_w, C_REPLY_FD)
        os.closerange(5, 1024)  # the template's open-files limit is 256
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != tpid:
            os._exit(0)
        # The load message: the limits and the candidate's code, compiled by the judge
        # (compiling here would copy most of the compiler's memory: ~1.5 ms per check).
        load = read_msg(C_CALL_FD)
        if load is None:
            os._exit(0)
        cpu, mem, fsize, nofile, nproc, code = load
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
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
            write_all(C_REPLY_FD, frame('{"fatal":%s}' % jstr(describe_exc(e))))
        finally:
            os._exit(70)
    serve(code)
    os._exit(0)


def flush_output():
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:
            pass


def serve(code):
    g = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(code, g)
        names = sorted(k for k, v in list(g.items()) if type(k) is str and callable(v) and not k.startswith("__"))
        hello = '{"ok":[%s]}' % ",".join([jstr(n) for n in names])
    except BaseException as e:
        hello = '{"e":%s}' % jstr(describe_exc(e))
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
            for name, args, kwargs in msg[1]:
                pending.append(frame(answer(g, name, args, kwargs)))
                if time.monotonic() - last > 0.02:
                    write_all(C_REPLY_FD, b"".join(pending))
                    pending, last = [], time.monotonic()
            write_all(C_REPLY_FD, b"".join(pending))
            os._exit(0)
        _, name, args, kwargs = msg
        pending.append(frame(answer(g, name, args, kwargs)))
        write_all(C_REPLY_FD, b"".join(pending))
        pending, msg = [], None


def frame(text):
    data = text.encode("ascii")
    return struct.pack("<I", len(data)) + data


def answer(g, name, args, kwargs):
    """One call's reply as JSON text: {"v": value} or {"e": error}."""
    try:
        if name not in g:
            raise NameError("name %r is not defined" % name)
        reply = '{"v":%s}' % enc(g[name](*args, **kwargs))
    except Unsupported as e:
        reply = '{"e":%s}' % jstr("return value: " + str(e))
    except BaseException as e:
        try:
            reply = '{"e":%s}' % jstr(describe_exc(e))
        except BaseException:
            reply = '{"e":"an exception that cannot be described"}'
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


class Channel:
    """The judge's end of one candidate process: calls out, replies and output in."""

    def __init__(self, call_w, reply_r, out_r, deadline, out_cap):
        self.call_w, self.reply_r, self.out_r = call_w, reply_r, out_r
        self.deadline, self.out_cap = deadline, out_cap
        self.buf = bytearray()
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
        if len(data) > MAX_MSG:
            raise HarnessError("a call's arguments exceed %d bytes" % MAX_MSG)
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
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack_from("<I", self.buf)
                if n > MAX_MSG:
                    raise Stop(VIOLATION, "candidate process broke the harness protocol: a %d-byte message" % n)
                if len(self.buf) >= 4 + n:
                    body = bytes(self.buf[4:4 + n])
                    del self.buf[:4 + n]
                    try:
                        obj = json.loads(body)
                    except Exception:
                        raise Stop(VIOLATION, "candidate process broke the harness protocol: a message that is not JSON")
                    if type(obj) is not dict:
                        raise Stop(VIOLATION, "candidate process broke the harness protocol: a message that is not an object")
                    return obj
            r, _ = self.wait([self.reply_r] + ([self.out_r] if self.out_open else []), [])
            if self.reply_r in r:
                try:
                    b = os.read(self.reply_r, 1 << 20)
                except BlockingIOError:
                    continue
                if not b:
                    raise Died()
                self.buf += b

    def call(self, name, args, kwargs):
        if not self.batched:
            try:
                for v in args + tuple(kwargs.values()):
                    enc(v)  # plain data only
                msg = marshal.dumps(("call", name, args, kwargs))
            except (Unsupported, ValueError) as e:
                raise HarnessError("a test passes %s to %s(), which cannot cross to the candidate" % (e, name))
            self.send_raw(msg)
        reply = self.recv()  # batched: the next answer of the batch sent ahead
        if "e" in reply:
            raise CandidateError(short(reply["e"]))
        if "v" not in reply:
            raise Stop(VIOLATION, "candidate process broke the harness protocol: a reply without a value")
        try:
            return dec(reply["v"])
        except Malformed as e:
            raise Stop(VIOLATION, "candidate process broke the harness protocol: %s" % e)


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


def compile_tests(src):
    """(statements, names the candidate must provide, batch of calls or None)."""
    hit = _test_cache.pop(src, None)
    if hit is not None:
        _test_cache[src] = hit  # most recently used last
        return hit
    try:
        tree = ast.parse(src, "<tests>")
    except SyntaxError as e:
        raise HarnessError("the hidden tests do not parse: %s (line %s)" % (e.msg, e.lineno))
    lines = src.splitlines()
    stmts = []
    for node in tree.body:
        mod = ast.Module(body=[node], type_ignores=[])
        text = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
        stmts.append((node.lineno, short(text, 120), compile(mod, "<tests>", "exec")))
    if not stmts:
        raise HarnessError("the hidden tests are empty")
    names = free_names(tree)
    calls = [literal_call(node, names) for node in tree.body]
    batch = None
    if all(c is not None for c in calls):
        batch = marshal.dumps(("batch", calls))
        if len(batch) > MAX_MSG:
            batch = None
    hit = (stmts, names, batch)
    if len(_test_cache) >= TEST_CACHE:
        del _test_cache[next(iter(_test_cache))]  # least recently used
    _test_cache[src] = hit
    return hit


SIGNAMES = {getattr(signal, n): n for n in dir(signal) if n.startswith("SIG") and not n.startswith("SIG_")}


def classify_death(status, cpu, cpu_limit):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = SIGNAMES.get(sig, "signal %d" % sig)
        if sig == signal.SIGSYS:
            return VIOLATION, "killed by the seccomp filter: a system call outside the allowlist"
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= cpu_limit - 0.05):
            return TIMEOUT, "CPU limit of %d s exceeded" % cpu_limit
        if sig == signal.SIGXFSZ:
            return VIOLATION, "file size limit exceeded"
        return CRASH, "candidate process killed by %s" % name
    return CRASH, "candidate process exited with status %d before answering" % os.WEXITSTATUS(status)


class Judge:
    def __init__(self, sock, cfg):
        self.sock, self.cfg = sock, cfg
        self.pending = []  # messages from the template not yet consumed

    def next_msg(self, kind):
        while True:
            for i, (m, fds) in enumerate(self.pending):
                if m[:1] == kind:
                    del self.pending[i]
                    return m, fds
            m, fds, _, _ = socket.recv_fds(self.sock, 64, 8)
            if not m:
                os._exit(0)  # template gone
            self.pending.append((m, fds))

    def check(self, body):
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
            stmts, names, batch = compile_tests(tests)
            total = len(stmts)
            try:
                codeobj = compile(code.decode("utf-8", "replace"), "<candidate>", "exec", dont_inherit=True)
            except Exception as e:  # SyntaxError, ValueError (NUL), RecursionError, MemoryError
                line = getattr(e, "lineno", None) if isinstance(e, SyntaxError) else None
                where = " (line %s)" % line if type(line) is int else ""
                raise Rejected("candidate code raised %s%s; 0/%d tests passed" % (describe_exc(e), where, total))
            load = marshal.dumps((cpu_limit, mem, fsize, nofile, nproc, codeobj))
            out = struct.pack("<I", len(load)) + load
            if batch is not None:  # every test is one literal call: send them all with the code
                out += struct.pack("<I", len(batch)) + batch
                ch.batched = True
            ch.send_framed(out)
            hello = ch.recv()
            if "fatal" in hello:
                raise HarnessError("the candidate sandbox could not be set up: %s" % short(hello["fatal"]))
            if "e" in hello:
                detail = "candidate code raised %s; 0/%d tests passed" % (short(hello["e"]), total)
            elif type(hello.get("ok")) is not list or not all(type(x) is str for x in hello["ok"]):
                raise Stop(VIOLATION, "candidate process broke the harness protocol: a bad hello")
            else:
                ns = {"__builtins__": builtins, "__name__": "__tests__"}
                # Batched, every call was sent and gets an answer in order (an error for a
                # name the candidate lacks), so every called name needs a stub to take it.
                for name in names if ch.batched else names.intersection(hello["ok"]):
                    ns[name] = Stub(name, ch)
                first = None
                for lineno, text, stmt in stmts:
                    try:
                        exec(stmt, ns)
                        passed += 1
                    except (Stop, Died, HarnessError):
                        raise
                    except AssertionError:
                        first = first or "line %d failed: %s" % (lineno, text)
                    except CandidateError as e:
                        first = first or "line %d: candidate raised %s" % (lineno, e)
                    except Exception as e:
                        first = first or "line %d: %s" % (lineno, describe_exc(e))
                if passed == total:
                    outcome, detail = PASS, "%d/%d tests passed" % (passed, total)
                else:
                    detail = "%d/%d tests passed; %s" % (passed, total, first)
        except Stop as s:
            outcome, detail = s.outcome, "%s; %d/%d tests passed" % (s.reason, passed, total)
        except Died:
            died = True
        except HarnessError as e:
            outcome, detail = ERROR, str(e)
        except Rejected as e:
            detail = str(e)
        # End the candidate process, then learn how it ended from the template.
        try:
            if pidfd >= 0:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            else:
                os.kill(cpid, signal.SIGKILL)
        except OSError:
            pass
        m, _ = self.next_msg(b"X")
        x_epoch, status, cpu = struct.unpack_from("<Qid", m, 1)
        if x_epoch != epoch:
            die("template reported check %d, expected %d" % (x_epoch, epoch))
        if died:
            try:
                ch.drain_output()
            except Stop:
                pass
            outcome, why = classify_death(status, cpu, cpu_limit)
            detail = "%s; %d/%d tests passed" % (why, passed, total)
        elif outcome == TIMEOUT and cpu >= cpu_limit - 0.05:
            detail = "CPU limit of %d s exceeded; %d/%d tests passed" % (cpu_limit, passed, total)
        for fd in fds:
            os.close(fd)
        d = short(detail, DETAIL_MAX).encode()
        head = bytes(ch.out_head)
        payload = struct.pack("<QIIIdQ", seq, outcome, passed, total, cpu, ch.out_total)
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
    global ast
    import ast  # only the judge parses tests: the template stays smaller
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
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
