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
# loop) with a generous TIMEOUT that only a bug reaches.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import itertools
import multiprocessing
import os
import signal
import socket
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


Mp.init()


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

    def close(self):
        self.sock.close()


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
        self.assertEqual(finished, [("gi.overrides.Mp.call", True)] * 2)


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
