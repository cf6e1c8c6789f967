# test_pool.py: MpPool from Python, in each start method
#
# Mirrors tests/c/test-pool.c through the Python override: Mp.Pool as
# multiprocessing.Pool, with plain module-level functions, Python values in
# and out, AsyncResult, imap iterators, callbacks that fire with no main
# loop. Everything a worker needs (the functions) is defined before
# Mp.init(), which sits at module level: a spawn worker runs this very
# script again and Mp.init() turns it into the worker; a forkserver worker
# is a copy of the program as it was inside Mp.init(). No test waits with
# sleep: a long-running task sleeps, but every wait is on the event itself
# (a result, a join, a socket the task connects to once it runs, a main
# loop) with a generous TIMEOUT that only a bug reaches; only a thread's
# exit from the kernel's view, which nothing portable notifies, is polled
# for in /proc (wait_thread_gone), with the same bound.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import array
import atexit
import gc
import itertools
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import gi

gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")
gi.require_version("Gio", "2.0")
gi.require_version("Mp", "1")
from gi.repository import Gio, GLib, Mp  # noqa: E402

# Seconds a result, a join or a main loop may take before the test fails:
# generous, only a bug reaches it.
TIMEOUT = 60

# One scratch directory for the test and its workers, however they start:
# made here before Mp.init(), so that a forkserver (forked inside it) and a
# spawn worker (which runs this script again) inherit it.
SCRATCH_ENV = "LIBMP_TEST_POOL_SCRATCH"
if SCRATCH_ENV not in os.environ:
    os.environ[SCRATCH_ENV] = tempfile.mkdtemp(prefix="test-pool-")
    _scratch_owner = os.getpid()
else:
    _scratch_owner = None
SCRATCH = os.environ[SCRATCH_ENV]

IO_ERROR_DOMAIN = GLib.quark_to_string(Gio.io_error_quark())
MP_ERROR_DOMAIN = "mp-error-quark"

# A spawn worker of a pool made while this is set in the environment takes
# a second to start, as one of a big program on a loaded machine would.
SLOW_START_ENV = "LIBMP_TEST_POOL_SLOW_START"
if os.environ.get(SLOW_START_ENV) and "MP_WORKER_FD" in os.environ:
    time.sleep(1)



# ---- the functions the workers run (defined before Mp.init) -----------------------


def square(x):
    return x * x


def add(a, b):
    return a + b


def describe(a, b=0, *, scale=1):
    return (a + b) * scale


def echo(value):
    return value


def nothing():
    pass


def fail(message):
    raise ValueError(message)


def fail_on(x, bad):
    if x == bad:
        raise ValueError(f"refused {x}")
    return x


def fail_at(x):
    if x == 3:
        raise ValueError(f"refused {x}")
    return x


def returns_object():
    return object()


def pid():
    return os.getpid()


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def hang(ready_address=""):
    """Runs until its worker is killed; with ready_address, tells the test
    once it runs (see ReadyWaiter)."""
    if ready_address:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect("\0" + ready_address)
            s.sendall(b"ready")
    while True:
        time.sleep(3600)


_init_value = None


def set_init(value):
    global _init_value
    if value < 0:
        raise RuntimeError("the initializer refuses")
    _init_value = value


def get_init():
    return _init_value


@Mp.task
def double(x):
    return 2 * x


# ---- tasks called by name (the introspected methods, see RawPool) ---------------
#
# These tasks are called through the introspected mp_pool_apply() and
# mp_pool_map(), with GLib.Variants in and out: the library's blocking
# apply over a worker's line and its map in place of an array of numbers,
# as C calls them. (The override's apply() and maps of functions get
# there too: see test_apply_interrupted and test_map_batches.)


def die_how(how):
    """Dies the way how says: "kill", "segv", "abort", "exit"."""
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "segv":
        # As a crash would, whatever handler the interpreter installed.
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGSEGV)
    elif how == "abort":
        os.abort()
    elif how == "exit":
        os._exit(3)
    return "survived"


def die_once(mark):
    """Dies the first time (the file mark says it ran), works the second."""
    try:
        fd = os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return "second time"
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def fail_gerror(what):
    raise GLib.Error(f"no such thing as {what}", "g-file-error-quark", int(GLib.FileError.NOENT))


DIES_AT_5000 = "dies-at-5000"


def square_dies_at_5000(x):
    """Squares, but the worker dies at 5000 the first time (a file in the
    scratch directory marks it): the chunks it finished before in the same
    message lose their answers."""
    if x == 5000:
        try:
            fd = os.open(os.path.join(SCRATCH, DIES_AT_5000), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def half_dies_at_5000(args, cancellable):
    """x // 2 as an int32 (results smaller than the items, written over
    them), with square_dies_at_5000's death at 5000 (its own mark)."""
    x = args.get_int64()
    if x == 5000:
        try:
            fd = os.open(os.path.join(SCRATCH, "half-" + DIES_AT_5000), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
    return GLib.Variant.new_int32(x // 2)


def number_or_string(x):
    """An int below 5000, a str from there: chunks of numbers, of strings,
    and one of both."""
    return x if x < 5000 else str(x)


def number_or_float(x):
    """An int below 5000, a float from there: chunks of "ax" and of "ad"."""
    return x if x < 5000 else x + 0.5


def gate(ready_address):
    """Tells the test once it runs (see ReadyWaiter.accept), then waits
    until the test writes to it or hangs up; returns "opened"."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect("\0" + ready_address)
        s.sendall(b"ready")
        s.recv(16)
    return "opened"


def mark(path):
    """Leaves a file at path: the task ran."""
    with open(path, "a") as f:
        f.write("ran\n")
    return 1


# What the conversions of a map in place make of one number: results
# smaller than, as large as and larger than the items.
def to_y(v):
    return int(v) & 0xFF


def to_x(v):
    return 3 * int(v) - 1


def to_d(v):
    return v / 4


# ---- what the override's maps in batches run (see Mp.py, _SlotTable) ---------------


def shift_up(x):
    """x * 2**40: past int64 for x from 2**23."""
    return x << 40


def halve(x):
    return x / 2


DIES_ONCE_AT_5000 = "dies-once-at-5000"


def square_dies_once_at_5000(x):
    """As square_dies_at_5000, with a mark of its own."""
    if x == 5000:
        try:
            fd = os.open(os.path.join(SCRATCH, DIES_ONCE_AT_5000), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def _make_adder(k):
    def adder(x):
        return x + k

    adder.__name__ = adder.__qualname__ = f"add_{k}"
    return adder


# Many module-level functions, each mapped under its own task name.
ADDERS = [_make_adder(k) for k in range(70)]
for _adder in ADDERS:
    globals()[_adder.__name__] = _adder
del _adder


def _twice(args, cancellable):
    """As test-pool.c's "twice": y -> y, i -> x, d -> d."""
    t = args.get_type_string()
    if t == "y":
        return GLib.Variant.new_byte(2 * args.get_byte())
    if t == "i":
        return GLib.Variant.new_int64(2 * args.get_int32())
    return GLib.Variant.new_double(2 * args.get_double())


Mp.register_task("test-pool.square", square)
Mp.register_task("test-pool.add", add)
Mp.register_task("test-pool.fail", fail)
Mp.register_task("test-pool.fail-gerror", fail_gerror)
Mp.register_task("test-pool.die", die_how)
Mp.register_task("test-pool.die-once", die_once)
Mp.register_task("test-pool.hang", hang)
Mp.register_task("test-pool.square-dies-at-5000", square_dies_at_5000)
Mp.register_task("test-pool.half-dies-at-5000", half_dies_at_5000, raw=True)
Mp.register_task("test-pool.number-or-string", number_or_string)
Mp.register_task("test-pool.number-or-float", number_or_float)
Mp.register_task("test-pool.gate", gate)
Mp.register_task("test-pool.mark", mark)
Mp.register_task("test-pool.twice", _twice, raw=True)
Mp.register_task("test-pool.set-init", set_init)
Mp.register_task("test-pool.to-y", lambda args, c: GLib.Variant.new_byte(to_y(args.unpack())), raw=True)
Mp.register_task("test-pool.to-x", lambda args, c: GLib.Variant.new_int64(to_x(args.unpack())), raw=True)
Mp.register_task("test-pool.to-d", lambda args, c: GLib.Variant.new_double(to_d(args.unpack())), raw=True)


Mp.init()


@atexit.register
def _remove_scratch():
    if _scratch_owner == os.getpid():
        shutil.rmtree(SCRATCH, ignore_errors=True)


# Defined after Mp.init(): spawn and forkserver workers do not know it.
def defined_after_init(x):
    return x


# ---- helpers ---------------------------------------------------------------------


_ready_counter = itertools.count()


class ReadyWaiter:
    """A listening socket in the abstract namespace: a task connects to it
    once it runs, so that the test knows the task is running (not queued)."""

    def __init__(self):
        self.address = f"libmp-test-pool-{os.getpid()}-{next(_ready_counter)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind("\0" + self.address)
        self.sock.listen(4)
        self.sock.settimeout(TIMEOUT)

    def wait(self):
        conn, _ = self.sock.accept()  # socket.timeout only on a bug
        with conn:
            conn.settimeout(TIMEOUT)
            return conn.recv(16)

    def accept(self):
        """As wait(), but returns the task's connection, still open, with
        what it said: a gate task waits until it is written to or closed."""
        conn, _ = self.sock.accept()
        conn.settimeout(TIMEOUT)
        return conn, conn.recv(16)

    def close(self):
        self.sock.close()


def run_on_ended_thread(func):
    """Runs func() on a threading.Thread and returns what it returned once
    that thread has ended and gone from the kernel's view
    (/proc/self/task/<tid>): the kernel sends the parent-death signal of
    the children the thread started when it goes, and a join returns a
    little before that. Raises what func() raised."""
    outcome = {}

    def body():
        outcome["tid"] = threading.get_native_id()
        try:
            outcome["value"] = func()
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=body, name="pool maker")
    thread.start()
    thread.join(TIMEOUT)
    if thread.is_alive():
        raise AssertionError("the thread did not end (a bug)")
    if "error" in outcome:
        raise outcome["error"]
    wait_thread_gone(outcome["tid"])
    return outcome.get("value")


def wait_thread_gone(tid):
    """Returns once thread tid of this process has gone, within TIMEOUT."""
    task_dir = f"/proc/self/task/{tid}"
    deadline = time.monotonic() + TIMEOUT
    while os.path.exists(task_dir):
        if time.monotonic() > deadline:
            raise AssertionError(f"thread {tid} still there (a bug)")
        time.sleep(0.001)


def pool_thread_ids():
    """The ids of this process's pool threads (named mp-pool)."""
    tids = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() == "mp-pool":
                    tids.add(int(tid))
        except OSError:
            pass
    return tids


# The introspected class under the override: its apply() is mp_pool_apply(),
# the blocking call that an idle pool runs over a worker's line, and its
# map() mp_pool_map(), which takes a big array of numbers in place; both
# with task names and GLib.Variants in and out.
RawPool = Mp.Pool.__bases__[0]

# The array module's codes for the GVariant number types, native layout.
_NUMBER_FORMATS = {"y": "B", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q", "d": "d"}

# A map in place takes at least this many bytes of items (MP_POOL_BATCH_BYTES).
IN_PLACE_BYTES = 32 * 1024


def numbers_variant(type_char, values):
    """An "a<type_char>" GLib.Variant of values, made in one go."""
    data = array.array(_NUMBER_FORMATS[type_char], values).tobytes()
    return GLib.Variant.new_from_bytes(GLib.VariantType.new("a" + type_char), GLib.Bytes.new(data), True)


def numbers_of(variant):
    """The elements of an array of numbers, as a list, read in one go."""
    data = variant.get_data_as_bytes().get_data() or b""
    return memoryview(data).cast(_NUMBER_FORMATS[variant.get_type_string()[1]]).tolist()


def sample_numbers(type_char):
    """Items of type_char, over the type's range (or a part of it), a
    little more than IN_PLACE_BYTES of them."""
    n = IN_PLACE_BYTES // array.array(_NUMBER_FORMATS[type_char]).itemsize + 1001
    if type_char == "d":
        return [i / 4.0 - 1000.0 for i in range(n)]
    low, high = {"y": (0, 255), "n": (-32768, 32767), "q": (0, 65535), "i": (-2**31, 2**31 - 1),
                 "u": (0, 2**32 - 1), "x": (-2**40, 2**40), "t": (0, 2**41)}[type_char]
    return [low + (i * 7919) % (high - low + 1) for i in range(n)]


class PoolTestCase(unittest.TestCase):
    method = None

    def new_pool(self, processes=2, **kwargs):
        pool = Mp.Pool(processes, start_method=self.method, **kwargs)
        self.addCleanup(pool.terminate)
        return pool

    def ready_waiter(self):
        waiter = ReadyWaiter()
        self.addCleanup(waiter.close)
        return waiter

    def assertGError(self, domain, code, func, *args, **kwargs):
        """func(*args, **kwargs) raises a GLib.Error in domain with code."""
        with self.assertRaises(GLib.Error) as cm:
            func(*args, **kwargs)
        self.assertErrorIs(cm.exception, domain, code)
        return cm.exception

    def assertErrorIs(self, error, domain, code):
        self.assertIsInstance(error, GLib.Error)
        self.assertEqual((error.domain, error.code), (domain, int(code)), error.message)

    def assertMpError(self, code, func, *args, **kwargs):
        return self.assertGError(MP_ERROR_DOMAIN, code, func, *args, **kwargs)

    def assertIOError(self, code, func, *args, **kwargs):
        return self.assertGError(IO_ERROR_DOMAIN, code, func, *args, **kwargs)

    def call_in_thread(self, func, *args):
        """Runs func(*args) on a thread of its own; finish() waits for it."""
        outcome = {}

        def run():
            try:
                outcome["value"] = func(*args)
            except BaseException as e:
                outcome["error"] = e

        thread = threading.Thread(target=run, name="blocking call", daemon=True)
        thread.start()
        return thread, outcome

    def finish(self, call):
        """What the call started by call_in_thread() returned, or raised
        (the exception itself, to check)."""
        thread, outcome = call
        thread.join(TIMEOUT)
        self.assertFalse(thread.is_alive(), "the blocking call did not end (a bug)")
        return outcome

    def only_worker_pid(self, pool):
        pids = pool.get_worker_pids()
        self.assertEqual(len(pids), 1, pids)
        return pids[0]

    def raw_apply(self, pool, task, args=None, cancellable=None):
        """The blocking mp_pool_apply(): on an idle pool, over a worker's line."""
        return RawPool.apply(pool, task, args, cancellable)

    def warm_up(self, pool):
        """A few blocking applies, so that the workers are ready and idle:
        the next blocking apply borrows a worker's line. Python cannot see
        that (the C tests count line calls): with gdb on
        mp_pool_line_call, the first apply to a new worker went through
        the queue and the next ones over the line."""
        for _ in range(3):
            self.assertEqual(self.raw_apply(pool, "test-pool.square", GLib.Variant.new_int64(3)).get_int64(), 9)

    def run_until(self, condition):
        """Iterates the default main context until condition() holds;
        fails after TIMEOUT."""
        timed_out = []

        def on_timeout():
            timed_out.append(True)
            return GLib.SOURCE_REMOVE

        source = GLib.timeout_add_seconds(TIMEOUT, on_timeout)
        context = GLib.MainContext.default()
        while not condition() and not timed_out:
            context.iteration(True)
        if not timed_out:
            GLib.source_remove(source)
        self.assertFalse(timed_out, "timed out waiting for an event (a bug)")



# ---- tests run in each start method -----------------------------------------------


class StartMethodTests:
    """Mixed into one TestCase per start method."""

    # threads

    def test_made_in_ended_thread(self):
        # A pool made (its workers started) by a thread that ends first
        # serves on: no worker is tied to that thread.
        def make():
            pool = Mp.Pool(2, start_method=self.method)
            self.assertEqual(pool.map(square, range(20)), [x * x for x in range(20)])
            return pool, sorted(pool.get_worker_pids())

        pool, pids = run_on_ended_thread(make)
        self.addCleanup(pool.terminate)
        self.assertEqual(len(pids), 2)
        for _ in range(3):
            self.assertEqual(pool.map(square, range(50), chunksize=1), [x * x for x in range(50)])
            self.assertEqual(pool.apply(add, (2, 3)), 5)
            # No worker was killed and replaced.
            self.assertEqual(sorted(pool.get_worker_pids()), pids)
        self.assertLessEqual({pool.apply(pid) for _ in range(10)}, set(pids))
        self.assertEqual(pool.props.n_failed, 0)

    # results

    def test_map_apply_starmap(self):
        with self.new_pool(3) as pool:
            self.assertIsInstance(pool, Mp.Pool)
            self.assertEqual(pool.props.n_workers, 3)
            self.assertEqual(pool.props.start_method, self.method)
            self.assertEqual(pool.map(square, range(20)), [x * x for x in range(20)])
            self.assertEqual(pool.map(square, range(20), chunksize=3), [x * x for x in range(20)])
            self.assertEqual(pool.map(square, []), [])
            self.assertEqual(pool.map(square, (x for x in range(4))), [0, 1, 4, 9])
            self.assertEqual(pool.apply(add, (2, 3)), 5)
            self.assertEqual(pool.apply(describe, (1,), {"b": 2, "scale": 10}), 30)
            self.assertIsNone(pool.apply(nothing))
            self.assertEqual(pool.starmap(add, [(1, 2), (3, 4), (5, 6)]), [3, 7, 11])
            self.assertEqual(pool.starmap(add, [[1, 2], ("a", "b")]), [3, "ab"])
            self.assertEqual(pool.starmap_async(add, [(1, 2)]).get(TIMEOUT), [3])
            self.assertEqual(pool.map_async(square, [4]).get(TIMEOUT), [16])
            # A builtin is found by name too, as Python pickles it.
            self.assertEqual(pool.map(abs, [-1, 2, -3.5]), [1, 2, 3.5])
            # The progress properties, through GObject.
            self.assertGreater(pool.props.n_submitted, 0)
            self.assertEqual(pool.props.n_failed, 0)

    def test_values(self):
        values = [0, -2**62, 2.5, "text", "", b"\x00bytes", b"", True, None, (1, "a"), (),
                  [1, 2, 3], ["a", 1], [], {"key": 1, "other": [1.5]}, {}]
        with self.new_pool(2) as pool:
            self.assertEqual(pool.map(echo, values), values)
            for value in values:
                with self.subTest(value=value):
                    result = pool.apply(echo, (value,))
                    self.assertEqual(result, value)
                    self.assertIs(type(result), type(value))

    # errors

    def test_exception_traceback(self):
        with self.new_pool(2) as pool:
            error = self.assertMpError(Mp.Error.TASK_FAILED, pool.apply, fail, ("refused on purpose",))
            # The worker's traceback: the function, the exception, its message.
            self.assertTrue(error.message.startswith("Traceback (most recent call last):"), error.message)
            self.assertIn(f'File "{__file__}"', error.message)
            self.assertIn("in fail\n", error.message)
            self.assertTrue(error.message.endswith("ValueError: refused on purpose"), error.message)

            # A map fails with its first exception, as in Python.
            error = self.assertMpError(Mp.Error.TASK_FAILED, pool.starmap, fail_on,
                                       [(i, 7) for i in range(10)])
            self.assertIn("ValueError: refused 7", error.message)

            # The pool goes on.
            self.assertEqual(pool.apply(square, (6,)), 36)
            # The apply, and at least the failed item's chunk.
            self.assertGreaterEqual(pool.props.n_failed, 2)

    def test_unknown_types(self):
        with self.new_pool(1) as pool:
            # Arguments that cannot travel are refused before anything is sent.
            with self.assertRaises(TypeError):
                pool.apply(echo, (object(),))
            with self.assertRaises(TypeError):
                pool.map(echo, [1, object()])
            with self.assertRaises(TypeError):
                pool.apply_async(echo, [1, 2, {3}])
            with self.assertRaises(TypeError):
                pool.starmap(add, [1, 2])
            with self.assertRaises(TypeError):
                pool.apply(echo, 5)
            self.assertEqual(pool.props.n_submitted, 0)
            # A result that cannot travel fails the call, with the reason.
            error = self.assertMpError(Mp.Error.TASK_FAILED, pool.apply, returns_object)
            self.assertIn("TypeError: cannot send a object", error.message)

            # Functions a worker could not find, as Python's pickle refuses them.
            def local(x):
                return x

            for func in (local, lambda x: x, 42, threading.Thread().start):
                with self.subTest(func=func):
                    with self.assertRaises(TypeError):
                        pool.apply(func, (1,))
                    with self.assertRaises(TypeError):
                        pool.map(func, [1])

            # A task name nobody registered: the library's error.
            error = self.assertMpError(Mp.Error.UNKNOWN_TASK, pool.apply, "no-such-task")
            self.assertIn("no-such-task", error.message)
            self.assertEqual(pool.apply(square, (3,)), 9)

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            Mp.Pool(0)
        with self.assertRaises(ValueError):
            Mp.Pool(2, maxtasksperchild=0)
        with self.assertRaises(TypeError):
            Mp.Pool(2, initializer=42)
        with self.assertRaises(ValueError):
            Mp.Pool(2, start_method="no-such-method")
        with self.new_pool(1) as pool:
            with self.assertRaises(ValueError):
                pool.map(square, [1], chunksize=0)
            with self.assertRaises(ValueError):
                pool.imap(square, [1], chunksize=0)

    # async results and callbacks

    def test_apply_async(self):
        main = threading.current_thread()
        lock = threading.Lock()
        got, errors, threads = [], [], set()

        def callback(value):
            with lock:
                got.append(value)
                threads.add(threading.current_thread())

        def error_callback(error):
            with lock:
                errors.append(error)
                threads.add(threading.current_thread())

        pool = self.new_pool(2)
        ok = [pool.apply_async(square, (i,), callback=callback, error_callback=error_callback)
              for i in range(10)]
        bad = pool.apply_async(fail, ("called back",), callback=callback, error_callback=error_callback)
        mapped = pool.map_async(square, range(5), callback=callback, error_callback=error_callback)
        starred = pool.starmap_async(fail_on, [(1, 1)], callback=callback, error_callback=error_callback)

        for i, result in enumerate(ok):
            # Ready only once its callback has run, as in Python.
            self.assertEqual(result.get(TIMEOUT), i * i)
            self.assertTrue(result.ready())
            self.assertTrue(result.successful())
            with lock:
                self.assertIn(i * i, got)
        self.assertTrue(bad.wait(TIMEOUT))
        self.assertFalse(bad.successful())
        error = self.assertMpError(Mp.Error.TASK_FAILED, bad.get, 0)
        self.assertIn("ValueError: called back", error.message)
        self.assertEqual(mapped.get(TIMEOUT), [0, 1, 4, 9, 16])
        self.assertMpError(Mp.Error.TASK_FAILED, starred.get, TIMEOUT)

        with lock:
            self.assertEqual(sorted(v for v in got if isinstance(v, int)), sorted(i * i for i in range(10)))
            self.assertIn([0, 1, 4, 9, 16], got)
            self.assertEqual(len(errors), 2)
            for e in errors:
                self.assertErrorIs(e, MP_ERROR_DOMAIN, Mp.Error.TASK_FAILED)
            self.assertIn("ValueError: called back", " ".join(e.message for e in errors))
            # Callbacks run on the pool's callback thread, not the caller's.
            self.assertNotIn(main, threads)

        # close + join returns once every callback due has run.
        late = []
        for i in range(20):
            pool.apply_async(square, (i,), callback=late.append)
        pool.close()
        self.assertTrue(pool.join(TIMEOUT))
        self.assertEqual(sorted(late), sorted(i * i for i in range(20)))

    def test_async_result(self):
        waiter = self.ready_waiter()
        pool = self.new_pool(1)
        running = pool.apply_async(hang, (waiter.address,))
        self.assertEqual(waiter.wait(), b"ready")
        self.assertFalse(running.ready())
        with self.assertRaises(ValueError):
            running.successful()
        self.assertFalse(running.wait(0.05))
        with self.assertRaises(multiprocessing.TimeoutError):
            running.get(0.05)
        self.assertIsInstance(running.pool_result, Mp.PoolResult)
        running.cancel()
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, running.get, TIMEOUT)
        self.assertTrue(running.ready())
        self.assertFalse(running.successful())

    # imap

    def test_imap(self):
        with self.new_pool(3) as pool:
            it = pool.imap(square, range(30))
            self.assertIs(iter(it), it)
            self.assertEqual(list(it), [x * x for x in range(30)])
            # Exhausted: StopIteration again.
            with self.assertRaises(StopIteration):
                next(it)
            self.assertEqual(list(pool.imap(square, range(30), chunksize=4)), [x * x for x in range(30)])
            self.assertEqual(sorted(pool.imap_unordered(square, range(30))), [x * x for x in range(30)])
            self.assertEqual(sorted(pool.imap_unordered(square, range(30), 7)), [x * x for x in range(30)])
            self.assertEqual(list(pool.imap(square, [])), [])

            # A failed call raises where its result would have been, and the
            # iteration goes on, as in Python.
            it = pool.imap(fail_at, range(6))
            for i in range(3):
                self.assertEqual(it.next(TIMEOUT), i)
            error = self.assertMpError(Mp.Error.TASK_FAILED, it.next, TIMEOUT)
            self.assertIn("ValueError: refused 3", error.message)
            self.assertEqual([next(it), next(it)], [4, 5])
            with self.assertRaises(StopIteration):
                it.next(TIMEOUT)

    def test_imap_timeout_and_cancel(self):
        waiter = self.ready_waiter()
        pool = self.new_pool(1)
        it = pool.imap(hang, [waiter.address, waiter.address])
        self.assertEqual(waiter.wait(), b"ready")
        # The caller's own wait runs out: multiprocessing.TimeoutError, and
        # the iterator can be asked again.
        with self.assertRaises(multiprocessing.TimeoutError):
            it.next(0.05)
        with self.assertRaises(multiprocessing.TimeoutError):
            it.next(0)
        it.cancel()
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, it.next, TIMEOUT)

    # workers that die, time out, are cancelled

    def test_worker_killed(self):
        pool = self.new_pool(2)
        for round in range(3):
            with self.subTest(round=round):
                others = pool.map_async(square, range(100), chunksize=1)
                doomed = pool.apply_async(die)
                error = self.assertMpError(Mp.Error.WORKER_DIED, doomed.get, TIMEOUT)
                self.assertIn("killed by signal 9", error.message)
                # Named by the function, not by the task that looks it up.
                self.assertIn("__main__.die", error.message)
                self.assertEqual(others.get(TIMEOUT), [x * x for x in range(100)])
        self.assertEqual(len(pool.get_worker_pids()), 2)
        self.assertEqual(pool.apply(square, (9,)), 81)

    def test_retries(self):
        # A call that kills its worker every time fails once its retries are spent.
        pool = self.new_pool(1, retries=2)
        self.assertEqual(pool.props.retries, 2)
        self.assertMpError(Mp.Error.WORKER_DIED, pool.apply, die)
        self.assertEqual(pool.apply(square, (4,)), 16)

    def test_task_timeout(self):
        pool = self.new_pool(1)
        before = pool.get_worker_pids()
        error = self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, pool.apply, hang, timeout=0.2)
        self.assertIn("__main__.hang", error.message)
        # Its worker was replaced; the pool goes on.
        self.assertEqual(pool.apply(square, (5,)), 25)
        self.assertNotEqual(pool.get_worker_pids(), before)

        # The pool's own timeout, for every call.
        pool = self.new_pool(1, task_timeout=0.2)
        self.assertEqual(pool.props.task_timeout, 0.2)
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, pool.apply, hang)
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, pool.map, hang, [""])
        # The pool goes on, with the pool's 0.2 s: a job's clock starts
        # once its new worker said it is ready (test_task_timeout_new_worker).
        self.assertEqual(pool.apply(square, (5,)), 25)

    def test_task_timeout_new_worker(self):
        # A task_timeout shorter than a worker's start-up, and a call that
        # runs at once: it must succeed. Spawn workers here take a second
        # to start (see SLOW_START_ENV); the others start from a copy.
        os.environ[SLOW_START_ENV] = "1"
        try:
            pool = self.new_pool(1, task_timeout=0.5)
        finally:
            del os.environ[SLOW_START_ENV]
        self.assertEqual(pool.apply(square, (5,)), 25)

    def test_cancel(self):
        waiter = self.ready_waiter()
        pool = self.new_pool(1)
        running = pool.apply_async(hang, (waiter.address,))
        queued = pool.apply_async(square, (2,))
        queued2 = pool.map_async(square, [3, 4])
        self.assertEqual(waiter.wait(), b"ready")

        queued2.cancel()
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, queued2.get, TIMEOUT)
        self.assertFalse(queued.ready())

        # The running call: its worker is killed and replaced.
        running.cancel()
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, running.get, TIMEOUT)
        self.assertEqual(queued.get(TIMEOUT), 4)
        self.assertEqual(pool.apply(square, (5,)), 25)

    # blocking applies over a worker's line (mirrors test-pool.c's /pool/line/*)
    #
    # A blocking mp_pool_apply() on an idle pool talks to an idle worker
    # directly; whatever goes wrong meanwhile is ended by the pool's thread
    # as for a queued job. Python cannot see that the call went over the
    # line: each test makes the pool idle first (warm_up) and checks that
    # the outcome is right. The override's apply() is the same C call (on
    # a thread of its own when made from the main thread): it is checked
    # next to the raw call.

    def test_line_answers(self):
        pool = self.new_pool(1)
        self.warm_up(pool)
        pid = self.only_worker_pid(pool)
        value = self.raw_apply(pool, "test-pool.add", GLib.Variant("(xx)", (40, 2)))
        self.assertEqual((value.get_type_string(), value.get_int64()), ("x", 42))

        # A Python exception: MP_ERROR_TASK_FAILED with the worker's traceback.
        error = self.assertMpError(Mp.Error.TASK_FAILED, self.raw_apply, pool, "test-pool.fail",
                                   GLib.Variant.new_string("refused on the line"))
        self.assertTrue(error.message.startswith("Traceback (most recent call last):"), error.message)
        self.assertIn("in fail\n", error.message)
        self.assertTrue(error.message.endswith("ValueError: refused on the line"), error.message)
        # A GLib.Error raised in the task keeps its domain, code and message.
        error = self.assertGError("g-file-error-quark", GLib.FileError.NOENT, self.raw_apply, pool,
                                  "test-pool.fail-gerror", GLib.Variant.new_string("x"))
        self.assertEqual(error.message, "no such thing as x")
        # Arguments the function cannot take: the task fails, no worker is lost.
        error = self.assertMpError(Mp.Error.TASK_FAILED, self.raw_apply, pool, "test-pool.square",
                                   GLib.Variant.new_string("7"))
        self.assertIn("TypeError", error.message)
        # Refused at once: a task nobody registered.
        self.assertMpError(Mp.Error.UNKNOWN_TASK, self.raw_apply, pool, "no-such-task")

        # The override's blocking apply, on the same idle pool.
        error = self.assertMpError(Mp.Error.TASK_FAILED, pool.apply, fail, ("refused by apply",))
        self.assertTrue(error.message.endswith("ValueError: refused by apply"), error.message)

        self.assertEqual(self.only_worker_pid(pool), pid)
        self.assertEqual(pool.props.n_completed + pool.props.n_failed, pool.props.n_submitted)

    def test_line_worker_dies(self):
        # How the worker dies, and what the error says.
        deaths = [("kill", "killed by signal 9"), ("segv", "killed by signal 11"),
                  ("abort", "killed by signal 6"), ("exit", "exited with status 3")]
        pool = self.new_pool(1, max_restarts=10)
        for how, says in deaths:
            with self.subTest(how=how):
                self.warm_up(pool)
                pid = self.only_worker_pid(pool)
                error = self.assertMpError(Mp.Error.WORKER_DIED, self.raw_apply, pool, "test-pool.die",
                                           GLib.Variant.new_string(how))
                self.assertIn(says, error.message)
                self.assertIn(f"(pid {pid})", error.message)
                # Replaced; the next call works.
                self.warm_up(pool)
                self.assertNotEqual(self.only_worker_pid(pool), pid)

        # The override's blocking apply, on an idle pool.
        self.warm_up(pool)
        pid = self.only_worker_pid(pool)
        error = self.assertMpError(Mp.Error.WORKER_DIED, pool.apply, die)
        self.assertIn("killed by signal 9", error.message)
        self.assertIn("__main__.die", error.message)
        self.assertEqual(pool.apply(square, (9,)), 81)
        self.assertNotEqual(self.only_worker_pid(pool), pid)

    def test_line_retries(self):
        # With retries, a call whose worker died on the line runs again.
        pool = self.new_pool(1, retries=1)
        self.warm_up(pool)
        pid = self.only_worker_pid(pool)
        mark = os.path.join(SCRATCH, f"line-retries-{self.method.value_nick}")
        self.addCleanup(lambda: os.path.exists(mark) and os.unlink(mark))
        value = self.raw_apply(pool, "test-pool.die-once", GLib.Variant.new_string(mark))
        self.assertEqual(value.get_string(), "second time")
        self.assertTrue(os.path.exists(mark))
        self.assertNotEqual(self.only_worker_pid(pool), pid)
        self.assertEqual(pool.props.n_failed, 0)

    def test_line_timeout(self):
        # A call over the line that times out (the pool's task_timeout)
        # kills its worker: no unexpected death (with max_restarts 0 one
        # would break the pool), and the pool goes on.
        pool = self.new_pool(1, max_restarts=0)
        self.warm_up(pool)
        pid = self.only_worker_pid(pool)
        pool.props.task_timeout = 0.2
        error = self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, self.raw_apply, pool, "test-pool.hang")
        self.assertIn("test-pool.hang", error.message)
        pool.props.task_timeout = 0.0
        self.warm_up(pool)
        self.assertNotEqual(self.only_worker_pid(pool), pid)

        # The override's blocking apply with the pool's timeout.
        pid = self.only_worker_pid(pool)
        pool.props.task_timeout = 0.2
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, pool.apply, hang)
        pool.props.task_timeout = 0.0
        self.assertEqual(pool.apply(square, (5,)), 25)
        self.assertNotEqual(self.only_worker_pid(pool), pid)

    def test_line_cancel(self):
        # A call over the line cancelled from another thread once its task
        # runs: G_IO_ERROR_CANCELLED, its worker killed and replaced, and no
        # unexpected death for max_restarts. (The override's apply takes no
        # cancellable: AsyncResult.cancel() is its way, see test_cancel.)
        waiter = self.ready_waiter()
        pool = self.new_pool(1, max_restarts=0)
        self.warm_up(pool)
        pid = self.only_worker_pid(pool)
        cancellable = Gio.Cancellable()
        call = self.call_in_thread(self.raw_apply, pool, "test-pool.hang",
                                   GLib.Variant.new_string(waiter.address), cancellable)
        self.assertEqual(waiter.wait(), b"ready")
        cancellable.cancel()
        outcome = self.finish(call)
        self.assertNotIn("value", outcome)
        self.assertErrorIs(outcome["error"], IO_ERROR_DOMAIN, Gio.IOErrorEnum.CANCELLED)
        self.assertEqual(self.raw_apply(pool, "test-pool.square", GLib.Variant.new_int64(6)).get_int64(), 36)
        self.assertNotEqual(self.only_worker_pid(pool), pid)

    def test_line_cancelled_before(self):
        # A call whose cancellable was cancelled before it, on an idle pool
        # (over the line) and on one with maxtasksperchild (which takes no
        # line): G_IO_ERROR_CANCELLED, as GIO's calls do, with nothing run
        # and no worker lost.
        for kwargs in ({}, {"maxtasksperchild": 1000}):
            with self.subTest(**kwargs):
                pool = self.new_pool(1, **kwargs)
                self.warm_up(pool)
                pid = self.only_worker_pid(pool)
                cancellable = Gio.Cancellable()
                cancellable.cancel()
                ran = os.path.join(SCRATCH, f"cancelled-before-{self.method.value_nick}-{len(kwargs)}")
                self.addCleanup(lambda: os.path.exists(ran) and os.unlink(ran))
                for _ in range(5):
                    self.assertIOError(Gio.IOErrorEnum.CANCELLED, self.raw_apply, pool, "test-pool.mark",
                                       GLib.Variant.new_string(ran), cancellable)
                    self.assertIOError(Gio.IOErrorEnum.CANCELLED, self.raw_apply, pool, "test-pool.square",
                                       GLib.Variant.new_int64(7), cancellable)
                self.warm_up(pool)
                self.assertFalse(os.path.exists(ran), "a cancelled call ran")
                self.assertEqual(self.only_worker_pid(pool), pid)

    def test_line_close(self):
        # A pool closed while a call runs over a line: the call ends with
        # its answer, join() waits for it, and no more work is taken.
        waiter = self.ready_waiter()
        pool = self.new_pool(1)
        self.warm_up(pool)
        call = self.call_in_thread(self.raw_apply, pool, "test-pool.gate", GLib.Variant.new_string(waiter.address))
        conn, said = waiter.accept()
        with conn:
            self.assertEqual(said, b"ready")
            pool.close()
            self.assertFalse(pool.join(0.1))
            self.assertMpError(Mp.Error.INVALID_STATE, self.raw_apply, pool, "test-pool.square",
                               GLib.Variant.new_int64(2))
            conn.sendall(b"go")
        outcome = self.finish(call)
        self.assertNotIn("error", outcome)
        self.assertEqual(outcome["value"].get_string(), "opened")
        self.assertTrue(pool.join(TIMEOUT))
        self.assertEqual(pool.get_worker_pids(), [])

    def test_line_killed_terminated(self):
        # A worker killed from outside while it runs a call over its line,
        # and a pool terminated meanwhile: the call ends with the reason.
        waiter = self.ready_waiter()
        pool = self.new_pool(1)
        self.warm_up(pool)
        pid = self.only_worker_pid(pool)
        call = self.call_in_thread(self.raw_apply, pool, "test-pool.hang", GLib.Variant.new_string(waiter.address))
        self.assertEqual(waiter.wait(), b"ready")
        os.kill(pid, signal.SIGKILL)
        outcome = self.finish(call)
        self.assertNotIn("value", outcome)
        self.assertErrorIs(outcome["error"], MP_ERROR_DOMAIN, Mp.Error.WORKER_DIED)
        self.assertIn("killed by signal 9", outcome["error"].message)
        self.assertIn(f"(pid {pid})", outcome["error"].message)

        self.warm_up(pool)
        self.assertNotEqual(self.only_worker_pid(pool), pid)
        call = self.call_in_thread(self.raw_apply, pool, "test-pool.hang", GLib.Variant.new_string(waiter.address))
        self.assertEqual(waiter.wait(), b"ready")
        pool.terminate()
        outcome = self.finish(call)
        self.assertNotIn("value", outcome)
        self.assertErrorIs(outcome["error"], IO_ERROR_DOMAIN, Gio.IOErrorEnum.CLOSED)
        self.assertTrue(pool.join(TIMEOUT))
        self.assertEqual(pool.get_worker_pids(), [])

    def test_line_concurrent(self):
        # Blocking applies from four threads while the queue is busy with a
        # map: every answer is right, every call counted, and a closed pool
        # still ends.
        pool = self.new_pool(2)
        self.warm_up(pool)

        def applier(start):
            return [self.raw_apply(pool, "test-pool.square", GLib.Variant.new_int64(i)).get_int64()
                    for i in range(start, start + 150)]

        mapped = pool.map_async(square, range(2000), chunksize=5)
        calls = [self.call_in_thread(applier, 1000 * t) for t in range(4)]
        for t, call in enumerate(calls):
            outcome = self.finish(call)
            self.assertNotIn("error", outcome)
            self.assertEqual(outcome["value"], [i * i for i in range(1000 * t, 1000 * t + 150)])
        self.assertEqual(mapped.get(TIMEOUT), [x * x for x in range(2000)])
        self.assertEqual(pool.props.n_completed, pool.props.n_submitted)
        self.assertEqual(pool.props.n_failed, 0)
        pool.close()
        self.assertTrue(pool.join(TIMEOUT))

    # maps in place (mirrors test-pool.c's in-place tests)
    #
    # A map of numbers ("a" of y n q i u x t d, at least 32 KiB of items)
    # goes through memory the pool shares with its workers, and its result
    # views that memory. The introspected mp_pool_map() gets there with a
    # task given by name; the override's map() of a function does with its
    # batch tasks (see test_map_batches), and is checked next to it.

    def test_in_place_squares(self):
        pool = self.new_pool(2)
        n = 200000
        items = numbers_variant("x", range(n))
        self.assertGreaterEqual(items.get_size(), IN_PLACE_BYTES)
        for chunksize in (0, 1000, 4093):
            with self.subTest(chunksize=chunksize):
                squares = RawPool.map(pool, "test-pool.square", items, chunksize, None)
                self.assertEqual(squares.get_type_string(), "ax")
                got = numbers_of(squares)
                self.assertEqual(len(got), n)
                self.assertEqual(got, [x * x for x in range(n)])
        # The items are the caller's: untouched by results written in place.
        self.assertEqual(numbers_of(items), list(range(n)))

        # The override's map of the same ints (in place too, through its
        # batch task): the same squares.
        self.assertEqual(pool.map(square, range(n)), [x * x for x in range(n)])

    def test_in_place_types(self):
        # Results smaller than, as large as and larger than the items, of
        # every number type, with chunks of an odd size.
        pool = self.new_pool(2)
        converts = {"y": to_y, "x": to_x, "d": to_d}
        for item_type in "ynqiuxtd":
            values = sample_numbers(item_type)
            items = numbers_variant(item_type, values)
            self.assertGreaterEqual(items.get_size(), IN_PLACE_BYTES)
            for result_type, convert in converts.items():
                for chunksize in (0, 997):
                    with self.subTest(items=item_type, results=result_type, chunksize=chunksize):
                        v = RawPool.map(pool, f"test-pool.to-{result_type}", items, chunksize, None)
                        self.assertEqual(v.get_type_string(), "a" + result_type)
                        got = numbers_of(v)
                        expected = [convert(x) for x in values]
                        self.assertEqual(len(got), len(expected))
                        wrong = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)
                        self.assertIsNone(wrong, f"item {wrong}: {values[wrong] if wrong is not None else ''}")

        # test-pool.c's own cases: y -> y, i -> x, d -> d.
        v = RawPool.map(pool, "test-pool.twice", numbers_variant("y", [i % 100 for i in range(40000)]), 0, None)
        self.assertEqual(v.get_type_string(), "ay")
        self.assertEqual(numbers_of(v), [2 * (i % 100) for i in range(40000)])
        v = RawPool.map(pool, "test-pool.twice", numbers_variant("i", range(-10000, 10000)), 333, None)
        self.assertEqual(v.get_type_string(), "ax")
        self.assertEqual(numbers_of(v), [2 * i for i in range(-10000, 10000)])
        v = RawPool.map(pool, "test-pool.twice", numbers_variant("d", [i / 4.0 for i in range(10000)]), 0, None)
        self.assertEqual(v.get_type_string(), "ad")
        self.assertEqual(numbers_of(v), [i / 2.0 for i in range(10000)])

    def test_in_place_mixed(self):
        # Chunks of numbers, of strings, and one of both: "av".
        pool = self.new_pool(2)
        for chunksize in (1000 - 3, 0):
            with self.subTest(chunksize=chunksize):
                v = RawPool.map(pool, "test-pool.number-or-string", numbers_variant("x", range(10000)),
                                chunksize, None)
                self.assertEqual(v.get_type_string(), "av")
                self.assertEqual(v.n_children(), 10000)
                self.assertEqual(Mp.from_variant(v), [x if x < 5000 else str(x) for x in range(10000)])
        # Chunks of numbers of two types ("ax" and "ad", each written in
        # place): "av" too.
        v = RawPool.map(pool, "test-pool.number-or-float", numbers_variant("x", range(10000)), 1000 - 3, None)
        self.assertEqual(v.get_type_string(), "av")
        got = Mp.from_variant(v)
        self.assertEqual(got, [x if x < 5000 else x + 0.5 for x in range(10000)])
        self.assertEqual({type(x) for x in got}, {int, float})

    def test_in_place_retry(self):
        # A worker that dies in a map in place, with answers it held for
        # chunks it finished (their results written over their items) lost
        # with it: those chunks run again on their items, not their results.
        mark = os.path.join(SCRATCH, DIES_AT_5000)
        for n, chunksize in ((8192, 64), (200000, 0)):
            with self.subTest(n=n, chunksize=chunksize):
                if os.path.exists(mark):
                    os.unlink(mark)
                pool = self.new_pool(2, retries=1)
                squares = RawPool.map(pool, "test-pool.square-dies-at-5000", numbers_variant("x", range(n)),
                                      chunksize, None)
                # It died once.
                self.assertTrue(os.path.exists(mark))
                self.assertEqual(squares.get_type_string(), "ax")
                got = numbers_of(squares)
                wrong = next((i for i, v in enumerate(got) if v != i * i), None)
                self.assertIsNone(wrong, f"item {wrong}: {got[wrong] if wrong is not None else ''}")
                self.assertEqual(len(got), n)
                self.assertEqual(len(pool.get_worker_pids()), 2)

        # Results smaller than the items (int32 over int64), written over
        # them: a chunk that runs again gets its items back too.
        mark = os.path.join(SCRATCH, "half-" + DIES_AT_5000)
        for n, chunksize in ((8192, 64), (200000, 0)):
            with self.subTest(n=n, chunksize=chunksize, results="ai"):
                if os.path.exists(mark):
                    os.unlink(mark)
                pool = self.new_pool(2, retries=1)
                halves = RawPool.map(pool, "test-pool.half-dies-at-5000", numbers_variant("x", range(n)),
                                     chunksize, None)
                self.assertTrue(os.path.exists(mark))
                self.assertEqual(halves.get_type_string(), "ai")
                self.assertEqual(numbers_of(halves), [x // 2 for x in range(n)])
        mark = os.path.join(SCRATCH, DIES_AT_5000)

        # Through the override (in place too, a batch task): the same.
        if os.path.exists(mark):
            os.unlink(mark)
        pool = self.new_pool(2, retries=1)
        self.assertEqual(pool.map(square_dies_at_5000, range(8192), chunksize=64), [x * x for x in range(8192)])
        self.assertTrue(os.path.exists(mark))

    def test_in_place_reuse(self):
        # The arena is used again only where no result lives: a result kept
        # while the next maps run stays right, and outlives its pool.
        pool = self.new_pool(2)
        items = numbers_variant("x", range(100000, 200000))
        expected = [x * x for x in range(100000, 200000)]
        first = None
        for round in range(3):
            v = RawPool.map(pool, "test-pool.square", items, 0, None)
            self.assertEqual(numbers_of(v), expected, f"round {round}")
            if first is None:
                first = v
            self.assertEqual(numbers_of(first), expected, f"the first result after round {round}")
        pool.terminate()
        self.assertTrue(pool.join(TIMEOUT))
        self.assertEqual(numbers_of(first), expected, "the first result after its pool")

    # the override's maps in batches and blocking applies
    #
    # The override maps a function with a batch task (one call into Python
    # per chunk in the worker), ints and floats as "ax"/"ad" in place, and
    # its blocking apply() is mp_pool_apply(), which an idle pool runs over
    # a worker's line. Python's semantics stay: results and their types,
    # the first exception with the function's traceback, workers that die.

    def test_map_batches(self):
        pool = self.new_pool(2)
        n = 200000
        before = pool.props.n_submitted
        # Ints in place (200,000 int64: over IN_PLACE_BYTES), then floats.
        self.assertEqual(pool.map(square, range(n)), [x * x for x in range(n)])
        # Every item counted, as for the library's own maps.
        self.assertEqual(pool.props.n_submitted - before, n)
        floats = [x / 4 for x in range(n)]
        got = pool.map(halve, floats)
        self.assertEqual(got, [x / 8 for x in range(n)])
        self.assertIs(type(got[0]), float)
        self.assertEqual(pool.map(square, range(n), chunksize=997)[-3:], [x * x for x in range(n - 3, n)])
        self.assertEqual(pool.map(halve, range(10)), [x / 2 for x in range(10)])
        self.assertEqual(pool.starmap(add, [(i, 2 * i) for i in range(5000)]), [3 * i for i in range(5000)])
        self.assertEqual(list(pool.imap(square, range(5000), chunksize=64)), [x * x for x in range(5000)])
        self.assertEqual(sorted(pool.imap_unordered(halve, range(5000), 7)), [x / 2 for x in range(5000)])

        # Types as they were: bools stay bools, mixed numbers their own,
        # a tuple is one argument of map (spread by starmap).
        for values in ([True, False] * 3, [1, 2.5, True, -7], [(1, 2), (3, 4)], [[1, 2], [3]], ["a", "b"],
                       [None, None], [2**63 - 1, -2**63]):
            with self.subTest(values=values):
                got = pool.map(echo, values)
                self.assertEqual(got, values)
                self.assertEqual([type(v) for v in got], [type(v) for v in values])

        # An int beyond int64 is refused before anything is sent, as before.
        submitted = pool.props.n_submitted
        with self.assertRaises(OverflowError):
            pool.map(square, [1, 2**64])
        self.assertEqual(pool.props.n_submitted, submitted)
        # A result beyond int64 fails its chunk with the reason.
        error = self.assertMpError(Mp.Error.TASK_FAILED, pool.map, shift_up, range(2**23 - 5, 2**23 + 5))
        self.assertIn("OverflowError", error.message)

        # The first exception, with the traceback of the function alone.
        error = self.assertMpError(Mp.Error.TASK_FAILED, pool.map, fail_at, range(20000))
        self.assertTrue(error.message.startswith("Traceback (most recent call last):"), error.message)
        self.assertIn("in fail_at\n", error.message)
        self.assertNotIn("overrides", error.message)
        self.assertEqual(error.message.count('  File "'), 1, error.message)
        self.assertTrue(error.message.endswith("ValueError: refused 3"), error.message)
        error = self.assertMpError(Mp.Error.TASK_FAILED, pool.starmap, fail_on, [(i, 3) for i in range(10)])
        self.assertEqual(error.message.count('  File "'), 1, error.message)
        self.assertIn("ValueError: refused 3", error.message)
        self.assertEqual(pool.map(square, range(3)), [0, 1, 4])

    def test_map_batches_worker_dies(self):
        # A worker killed during a map in place fails the map, naming the
        # function; the pool replaces it and the same map then works.
        mark = os.path.join(SCRATCH, DIES_ONCE_AT_5000)
        if os.path.exists(mark):
            os.unlink(mark)
        self.addCleanup(lambda: os.path.exists(mark) and os.unlink(mark))
        pool = self.new_pool(2)
        error = self.assertMpError(Mp.Error.WORKER_DIED, pool.map, square_dies_once_at_5000, range(200000))
        self.assertIn("killed by signal 9", error.message)
        self.assertIn("__main__.square_dies_once_at_5000", error.message)
        self.assertTrue(os.path.exists(mark))
        self.assertEqual(pool.map(square_dies_once_at_5000, range(200000)), [x * x for x in range(200000)])
        self.assertEqual(len(pool.get_worker_pids()), 2)

    def test_map_batches_many_functions(self):
        # Every function is a name of the override's task families: as
        # many functions as a program maps, with maps of several of them
        # under way at once in one pool, and in a pool made later.
        pool = self.new_pool(2)
        finished = []
        pool.connect("task-finished", lambda p, task, success: finished.append(task))
        for k, adder in enumerate(ADDERS):
            self.assertEqual(pool.map(adder, range(100), chunksize=7), [x + k for x in range(100)])
            self.assertEqual(pool.starmap(adder, [(1,), (2,)]), [1 + k, 2 + k])
        results = [(k, pool.map_async(adder, range(50000))) for k, adder in enumerate(ADDERS)]
        for k, result in results:
            self.assertEqual(result.get(), [x + k for x in range(50000)])
        self.assertEqual(sorted(pool.imap_unordered(ADDERS[3], [1, 2], 1)) + pool.map(ADDERS[5], [1]), [4, 5, 6])
        self.assertEqual(self.new_pool(1).map(ADDERS[-1], [1, 2]), [1 + 69, 2 + 69])
        # The task names say which function.
        self.run_until(lambda: f"gi.overrides.Mp.starmap/{__name__}:add_69" in finished)
        self.assertIn(f"gi.overrides.Mp.map/{__name__}:add_0", finished)

    def test_map_batches_unknown_function(self):
        # A function the workers do not have fails the call with the
        # reason, naming the function; the pool goes on.
        pool = self.new_pool(1)
        for call in (lambda: pool.map(defined_after_init, range(5)),
                     lambda: pool.starmap(defined_after_init, [(1,)]),
                     lambda: list(pool.imap(defined_after_init, [1])),
                     lambda: pool.apply(defined_after_init, (1,))):
            error = self.assertMpError(Mp.Error.TASK_FAILED, call)
            self.assertIn(f"LookupError: {__name__}.defined_after_init is not defined in the worker", error.message)
        self.assertEqual(pool.map(square, range(3)), [0, 1, 4])

    def test_map_task_initializer(self):
        # A pool whose initializer is a task name maps functions as any.
        pool = self.new_pool(1, initializer="test-pool.set-init", initargs=(7,))
        self.assertEqual(pool.props.initializer, "test-pool.set-init")
        self.assertEqual(pool.apply(get_init), 7)
        self.assertEqual(pool.map(square, range(5000)), [x * x for x in range(5000)])
        self.assertEqual(pool.starmap(add, [(1, 2)]), [3])

    def test_apply_threads(self):
        # Blocking applies from other threads (no signal handler runs
        # there: a plain C call) and from the main thread give the same.
        pool = self.new_pool(2)
        self.warm_up(pool)

        def applies(start):
            values = [pool.apply(square, (i,)) for i in range(start, start + 100)]
            error = self.assertMpError(Mp.Error.TASK_FAILED, pool.apply, fail, ("from a thread",))
            return values, error.message

        calls = [self.call_in_thread(applies, 1000 * t) for t in range(3)]
        self.assertEqual([pool.apply(add, (i, 1)) for i in range(100)], list(range(1, 101)))
        for t, call in enumerate(calls):
            outcome = self.finish(call)
            self.assertNotIn("error", outcome)
            values, message = outcome["value"]
            self.assertEqual(values, [i * i for i in range(1000 * t, 1000 * t + 100)])
            self.assertTrue(message.endswith("ValueError: from a thread"), message)
        self.assertEqual(pool.apply(describe, (1,), {"b": 2, "scale": 10}), 30)

    def interrupt_main_once(self, waiter, handled, signum=signal.SIGINT, again=False):
        """A thread that waits until the task runs, sends signum to the main
        thread, waits until handled is set (by the handler, or once the
        main thread caught the exception), then opens the gate and returns
        whether handled was set before it did. (A wait the signal did not
        interrupt ends with the gate's opening: the test fails rather than
        hangs.) With again, it sends the signal every 0.2 s until then."""

        def interrupt():
            conn, said = waiter.accept()
            with conn:
                self.assertEqual(said, b"ready")
                deadline = time.monotonic() + TIMEOUT
                while True:
                    signal.pthread_kill(threading.main_thread().ident, signum)
                    ran = handled.wait(0.2 if again else TIMEOUT)
                    if ran or time.monotonic() > deadline:
                        break
                try:
                    conn.sendall(b"go")
                except OSError:
                    pass   # the task is gone
            return ran

        return self.call_in_thread(interrupt)

    def test_apply_interrupted(self):
        # Ctrl-C interrupts a blocking apply on the line with
        # KeyboardInterrupt, as in Python; the call is cancelled (its
        # worker killed and replaced, no unexpected death for
        # max_restarts), and the pool goes on.
        waiter = self.ready_waiter()
        pool = self.new_pool(1, max_restarts=0)
        self.warm_up(pool)
        pid = self.only_worker_pid(pool)
        caught = threading.Event()
        interrupter = self.interrupt_main_once(waiter, caught)
        with self.assertRaises(KeyboardInterrupt) as cm:
            try:
                pool.apply(gate, (waiter.address,))
            except KeyboardInterrupt:
                caught.set()
                raise
        self.assertTrue(cm.exception.__suppress_context__)
        # Interrupted while the task still waited at its gate.
        self.assertEqual(self.finish(interrupter), {"value": True})
        self.assertEqual(pool.apply(square, (7,)), 49)
        self.assertNotEqual(self.only_worker_pid(pool), pid)

        # Another handler is set: the wait runs it, as every wait here, and
        # the call goes on. One that does not raise: the apply ends with
        # its result (the gate opens only once the handler ran).
        pid = self.only_worker_pid(pool)
        handled = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *unused: handled.set())
        self.addCleanup(signal.signal, signal.SIGINT, previous)
        interrupter = self.interrupt_main_once(waiter, handled)
        self.assertEqual(pool.apply(gate, (waiter.address,)), "opened")
        self.assertEqual(self.finish(interrupter), {"value": True})
        signal.signal(signal.SIGINT, previous)

        # One that raises (SIGUSR1 here): the apply raises it; its call goes
        # on in its worker, which stays. (It raises only in the override's
        # wait, and is sent until it did: a handler that happens to run in a
        # __del__, GLib.Variant's say, has its exception ignored there.)
        class Raised(Exception):
            pass

        override_file = sys.modules["gi.overrides.Mp"].__file__
        waiting = [False]

        def raising(signum, frame):
            if waiting[0] and frame is not None and frame.f_code.co_filename == override_file:
                raise Raised()

        previous_usr1 = signal.signal(signal.SIGUSR1, raising)
        self.addCleanup(signal.signal, signal.SIGUSR1, previous_usr1)
        caught = threading.Event()
        interrupter = self.interrupt_main_once(waiter, caught, signal.SIGUSR1, again=True)
        with self.assertRaises(Raised):
            waiting[0] = True
            try:
                pool.apply(gate, (waiter.address,))
            except Raised:
                waiting[0] = False
                caught.set()
                raise
            finally:
                waiting[0] = False
        self.assertEqual(self.finish(interrupter), {"value": True})
        signal.signal(signal.SIGUSR1, previous_usr1)
        self.assertEqual(pool.apply(square, (8,)), 64)
        self.assertEqual(self.only_worker_pid(pool), pid)
        self.assertEqual(pool.props.n_failed, 1)

    # close, terminate, join

    def test_terminate_many_queued(self):
        errors = []
        pool = self.new_pool(2)
        results = [pool.apply_async(hang) for _ in range(2000)]
        called_back = [pool.apply_async(hang, error_callback=errors.append) for _ in range(100)]
        pool.terminate()
        for result in results + called_back:
            self.assertIOError(Gio.IOErrorEnum.CLOSED, result.get, TIMEOUT)
        # terminate() returns once the callbacks due have run.
        self.assertEqual(len(errors), 100)
        for error in errors:
            self.assertErrorIs(error, IO_ERROR_DOMAIN, Gio.IOErrorEnum.CLOSED)
        self.assertTrue(pool.join(TIMEOUT))
        self.assertEqual(pool.get_worker_pids(), [])
        self.assertMpError(Mp.Error.INVALID_STATE, pool.apply, square, (1,))
        self.assertGreaterEqual(pool.props.n_failed, 2100)

    def test_close_join(self):
        pool = self.new_pool(2)
        # join() on a running pool is refused, as in Python.
        self.assertMpError(Mp.Error.INVALID_STATE, pool.join, 0)
        result = pool.map_async(square, range(1000), chunksize=10)
        pool.close()
        # A closed pool takes no more work.
        self.assertMpError(Mp.Error.INVALID_STATE, pool.apply, square, (1,))
        self.assertMpError(Mp.Error.INVALID_STATE, pool.map, square, [1])
        self.assertMpError(Mp.Error.INVALID_STATE, pool.imap, square, [1])
        self.assertTrue(pool.join(TIMEOUT))
        # Work given before close() is done, not dropped.
        self.assertTrue(result.ready())
        self.assertTrue(result.successful())
        self.assertEqual(result.get(0), [x * x for x in range(1000)])
        self.assertEqual(pool.get_worker_pids(), [])

    def test_context_manager_terminates(self):
        waiter = self.ready_waiter()
        with self.new_pool(1) as pool:
            running = pool.apply_async(hang, (waiter.address,))
            self.assertEqual(waiter.wait(), b"ready")
        # The exit terminated: the running call failed, the worker is gone.
        self.assertIOError(Gio.IOErrorEnum.CLOSED, running.get, TIMEOUT)
        self.assertEqual(pool.get_worker_pids(), [])
        self.assertTrue(pool.join(TIMEOUT))

    # settings

    def test_maxtasksperchild(self):
        pool = self.new_pool(2, maxtasksperchild=1)
        self.assertEqual(pool.props.max_tasks_per_worker, 1)
        pids = {pool.apply(pid) for _ in range(6)}
        # Every call in a new process, none of them this one.
        self.assertEqual(len(pids), 6)
        self.assertNotIn(os.getpid(), pids)

    def test_initializer(self):
        pool = self.new_pool(2, initializer=set_init, initargs=(42,))
        self.assertEqual(pool.props.initializer, "gi.overrides.Mp.call")
        self.assertEqual([pool.apply(get_init) for _ in range(4)], [42] * 4)
        # No initializer: none runs.
        self.assertIn(self.new_pool(1).props.initializer, (None, ""))

    def test_initializer_fails(self):
        pool = self.new_pool(1, initializer=set_init, initargs=(-1,), max_restarts=2)
        error = self.assertMpError(Mp.Error.POOL_BROKEN, pool.apply, get_init)
        self.assertIn("the initializer refuses", error.message)

    # GObject

    def test_progress_notified(self):
        pool = self.new_pool(2)
        seen = []
        finished = []
        pool.connect("notify::n-completed", lambda p, pspec: seen.append(p.props.n_completed))
        pool.connect("task-finished", lambda p, task, success: finished.append((task, success)))
        self.assertEqual(pool.map(square, range(10), chunksize=5), [x * x for x in range(10)])
        # Notified in the main context of the thread that made the pool.
        self.run_until(lambda: seen and seen[-1] == 10 and len(finished) == 2)
        self.assertEqual(pool.props.n_submitted, 10)
        # A map of a function runs the override's batch task of its name
        # (see test_map_batches), which counts items as any map does.
        self.assertEqual(finished, [(f"gi.overrides.Mp.map/{__name__}:square", True)] * 2)


class ForkTests(unittest.TestCase):
    """A pool never forks from its own thread (a worker forked while
    another thread holds the GIL hangs on its first task): fork, asked for
    or the default, means forkserver."""

    def test_fork_is_forkserver(self):
        with Mp.Pool(2, start_method="fork") as pool:
            self.assertEqual(pool.props.start_method, Mp.StartMethod.FORKSERVER)
            self.assertEqual(pool.map(square, range(5)), [x * x for x in range(5)])

    def test_default_fork_is_forkserver(self):
        before = Mp.get_start_method()
        Mp.set_start_method(Mp.StartMethod.FORK)
        self.addCleanup(Mp.set_start_method, before)
        with Mp.Pool(2) as pool:
            self.assertEqual(pool.props.start_method, Mp.StartMethod.FORKSERVER)


class SpawnTests(StartMethodTests, PoolTestCase):
    method = Mp.StartMethod.SPAWN


class ForkserverTests(StartMethodTests, PoolTestCase):
    method = Mp.StartMethod.FORKSERVER

    def test_second_pool_after_first_collected(self):
        # The forkserver outlives the first pool and its thread.
        before = pool_thread_ids()
        pool = Mp.Pool(2, start_method=self.method)
        self.assertEqual(pool.map(square, range(10)), [x * x for x in range(10)])
        (tid,) = pool_thread_ids() - before
        pool.terminate()
        del pool
        gc.collect()
        wait_thread_gone(tid)

        pool = self.new_pool(2)
        self.assertEqual(pool.map_async(square, range(10)).get(TIMEOUT), [x * x for x in range(10)])
        self.assertEqual(pool.apply_async(add, (2, 3)).get(TIMEOUT), 5)


class ThreadsAtInitTests(unittest.TestCase):
    """A program that had threads at Mp.init(), as GJS does: its
    forkserver is a fresh copy of the program, spawned by the thread that
    first needs it, a forkserver pool's own thread."""

    SCRIPT = """
import gc
import os
import threading
import time
import gi
gi.require_version("Mp", "1")
from gi.repository import Mp

TIMEOUT = 60


def square(x):
    return x * x


# A second thread while Mp.init() runs, in the program only (not in the
# copy that becomes its forkserver, nor in a spawn worker).
release = threading.Event()
helper = None
if os.environ.pop("LIBMP_TEST_POOL_THREAD_AT_INIT", None):
    helper = threading.Thread(target=release.wait)
    helper.start()
Mp.init()
if helper is not None:
    release.set()
    helper.join()


def pool_thread_ids():
    tids = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() == "mp-pool":
                    tids.add(int(tid))
        except OSError:
            pass
    return tids


pool = Mp.Pool(2, start_method="forkserver")
assert pool.props.start_method == Mp.StartMethod.FORKSERVER
(tid,) = pool_thread_ids()
assert pool.map(square, range(10)) == [x * x for x in range(10)]
pool.terminate()
del pool
gc.collect()
# Its thread, which spawned the forkserver, has gone.
deadline = time.monotonic() + TIMEOUT
while os.path.exists(f"/proc/self/task/{tid}"):
    assert time.monotonic() < deadline, "the first pool's thread is still there"
    time.sleep(0.001)
print("first")

pool = Mp.Pool(2, start_method="forkserver")
print(pool.map_async(square, range(10)).get(TIMEOUT), flush=True)
pool.terminate()
"""

    def test_second_forkserver_pool(self):
        env = dict(os.environ, LIBMP_TEST_POOL_THREAD_AT_INIT="1")
        done = subprocess.run([sys.executable, "-c", self.SCRIPT], env=env, capture_output=True,
                              text=True, timeout=3 * TIMEOUT)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "first\n" + repr([x * x for x in range(10)]) + "\n")


class ExitTests(unittest.TestCase):
    """A program that ends with a pool still open, its workers just
    killed: the pool's thread is replacing them (a fork pool without
    Mp.init() forks them itself, through os.fork(), which needs the GIL)
    as the interpreter finalizes. The pool is terminated at exit, as
    Python's are, and the program ends; it used to hang about one run in
    two, disposed with the GIL held while its thread waited for it."""

    SCRIPT = """
import os
import signal
import gi
gi.require_version("Mp", "1")
from gi.repository import Mp


def square(x):
    return x * x


pool = Mp.Pool(4, start_method="fork")
assert pool.map(square, range(10)) == [x * x for x in range(10)]
for pid in pool.get_worker_pids():
    os.kill(pid, signal.SIGKILL)
"""

    def test_exit_while_workers_are_replaced(self):
        for attempt in range(10):
            try:
                done = subprocess.run([sys.executable, "-c", self.SCRIPT], capture_output=True, text=True,
                                      timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.fail(f"run {attempt}: the program did not end")
            self.assertEqual(done.returncode, 0, done.stderr)


class DefaultTests(PoolTestCase):
    """The default start method, and the pieces that need no worker."""

    def test_default_pool(self):
        with Mp.Pool() as pool:
            self.assertEqual(pool.props.n_workers, Mp.cpu_count())
            self.assertEqual(pool.map(square, range(10)), [x * x for x in range(10)])

    def test_registered_task_by_name(self):
        with Mp.Pool(1) as pool:
            # A str names a registered task: its arguments go as they are.
            self.assertEqual(pool.apply("__main__.double", (4,)), 8)
            self.assertEqual(pool.map("__main__.double", [1, 2]), [2, 4])
            self.assertEqual(pool.starmap("__main__.double", [(3,)]), [6])
            self.assertEqual(list(pool.imap("__main__.double", [5])), [10])
            with self.assertRaises(TypeError):
                pool.apply("__main__.double", (4,), {"x": 1})
            with self.assertRaises(TypeError):
                pool.map("__main__.double", [1, "a"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
