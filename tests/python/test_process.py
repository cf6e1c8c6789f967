# test_process.py: MpProcess and the runtime from Python, in each start method
#
# Mirrors tests/c/test-process.c. Everything a child needs (tasks, Process
# subclasses) is defined before Mp.init(), which sits at module level: a
# spawn child runs this very script again and Mp.init() turns it into the
# worker; a forkserver child is a copy of the program as it was inside
# Mp.init(). No test waits with sleep: each waits for the event itself
# (join, the 'exited' signal, a main loop) with a generous bound that only
# a bug reaches. The one exception is a thread's exit from the kernel's
# view, which nothing portable notifies (a thread's pidfd needs Linux 6.9):
# run_on_ended_thread() polls /proc for it, with the same bound.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import errno
import itertools
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import gi

gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")
gi.require_version("Gio", "2.0")
gi.require_version("Mp", "1")
from gi.repository import Gio, GLib, GObject, Mp  # noqa: E402

# Seconds a join or a main loop may take before the test fails: generous,
# only a bug reaches it.
TIMEOUT = 60

MP_ERROR_DOMAIN = "mp-error-quark"

# Exit codes a child uses to say what it found wrong.
WRONG_PARENT = 3
WRONG_CURRENT = 4
WRONG_NAME = 5
WRONG_DAEMON = 6
WRONG_GREETING = 11
WRONG_TYPE = 14
NEVER_TOLD_TO_GO = 15

NO_AFTER_FORK = 16

# Set in the environment of this script run again as the parent that
# test_parent_killed kills (see orphan_helper).
ORPHAN_HELPER_ENV = "LIBMP_TEST_PROCESS_ORPHAN_HELPER"

# The pids of the processes where os.register_at_fork()'s handlers ran.
# Registered before Mp.init(), so that the forkserver and its workers
# have them too.
after_fork_in_child = []
after_fork_in_parent = []
os.register_at_fork(after_in_child=lambda: after_fork_in_child.append(os.getpid()),
                    after_in_parent=lambda: after_fork_in_parent.append(os.getpid()))


# ---- tasks (registered before Mp.init) -------------------------------------


@Mp.task
def ok(*args):
    return None


@Mp.task
def fail(message):
    raise ValueError(message)


@Mp.task
def exit_with(code):
    Mp.exit(code)


@Mp.task
def sys_exit_with(code):
    sys.exit(code)


@Mp.task
def forever(ready_address="", default_sigint=False):
    """The workload of the signal tests: runs until a signal ends it. With
    default_sigint, SIGINT gets its default action (death by signal)
    instead of Python's KeyboardInterrupt. Once set up, it tells the
    parent through ready_address (see ReadyWaiter)."""
    if default_sigint:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if ready_address:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect("\0" + ready_address)
            s.sendall(b"ready")
    while True:
        signal.pause()


@Mp.task
def ready_go(ready, go):
    """Sets ready (the child is up and has armed whatever ties it to its
    parent), then waits for go: exits 0 once the parent sets it."""
    ready.set()
    if not go.wait(TIMEOUT):
        Mp.exit(NEVER_TOLD_TO_GO)


@Mp.task
def ready_forever(ready):
    """Sets ready, then runs until killed (or its parent goes)."""
    ready.set()
    Mp.Event().wait()


@Mp.task
def check_identity(expected_parent, expected_name, expected_daemon):
    """Exits 0 only if the child sees the expected libmp parent and its own
    process object, with the name and daemon flag the parent gave it."""
    if Mp.parent_pid() != expected_parent:
        Mp.exit(WRONG_PARENT)
    current = Mp.current_process()
    if current is None or current.get_pid() != os.getpid():
        Mp.exit(WRONG_CURRENT)
    if current.get_name() != expected_name:
        Mp.exit(WRONG_NAME)
    if current.get_daemon() != expected_daemon:
        Mp.exit(WRONG_DAEMON)


@Mp.task
def draw_random(queue):
    queue.put(random.random())


@Mp.task
def after_fork_ran():
    """Exits 0 when os.register_at_fork()'s child handler ran last in this
    very process, as in an os.fork() child."""
    if after_fork_in_child[-1:] != [os.getpid()]:
        Mp.exit(NO_AFTER_FORK)


@Mp.task
def exit_with_thread_count():
    """Exits with the number of Python threads this process knows: 1 in a
    fork child, once threading's after-fork cleanup has run."""
    Mp.exit(threading.active_count())


# ---- a subclass whose properties must travel --------------------------------


class Worker(Mp.Process):
    """Checks in the child what the parent set, then exits with count."""

    __gtype_name__ = "TestPyProcessWorker"

    greeting = GObject.Property(type=str, default="")
    count = GObject.Property(type=int, default=0, minimum=0, maximum=255)
    expected_parent = GObject.Property(type=int, default=0)
    fail_with = GObject.Property(type=str, default="")

    def do_run(self):
        if self.fail_with:
            raise RuntimeError(self.fail_with)
        current = Mp.current_process()
        if not isinstance(current, Worker) or current is not self:
            sys.exit(WRONG_TYPE)
        if Mp.parent_pid() != self.expected_parent:
            sys.exit(WRONG_PARENT)
        if self.greeting != "hello from the parent":
            sys.exit(WRONG_GREETING)
        if self.name != "custom-name":
            sys.exit(WRONG_NAME)
        if not self.daemon:
            sys.exit(WRONG_DAEMON)
        sys.exit(self.count)


Mp.init()


# ---- helpers ----------------------------------------------------------------


def count_fds():
    return len(os.listdir("/proc/self/fd"))


def count_zombies():
    """Our children in state Z."""
    n = 0
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z" and int(fields[1]) == me:
            n += 1
    return n


def run_on_ended_thread(func):
    """Runs func() on a threading.Thread and returns once that thread has
    ended and gone from the kernel's view (/proc/self/task/<tid>): the
    kernel sends the parent-death signal of the children the thread
    started when it goes, and a join returns a little before that.
    Raises what func() raised."""
    outcome = {}

    def body():
        outcome["tid"] = threading.get_native_id()
        try:
            func()
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=body, name="starter")
    thread.start()
    thread.join(2 * TIMEOUT)
    if thread.is_alive():
        raise AssertionError("the starting thread did not end (a bug)")
    if "error" in outcome:
        raise outcome["error"]
    task_dir = f"/proc/self/task/{outcome['tid']}"
    deadline = time.monotonic() + TIMEOUT
    while os.path.exists(task_dir):
        if time.monotonic() > deadline:
            raise AssertionError(f"thread {outcome['tid']} still there after it ended (a bug)")
        time.sleep(0.001)


def start_from_ended_thread(p, ready=None):
    """Starts p from a thread that has ended when this returns. With
    ready, that thread waits for the child to set it first, so the child
    has armed whatever ties it to its parent before the thread goes."""

    def start():
        p.start()
        if ready is not None and not ready.wait(TIMEOUT):
            raise AssertionError("the child never got ready (a bug)")

    run_on_ended_thread(start)


_ready_counter = itertools.count()


class ReadyWaiter:
    """A listening socket in the abstract namespace: a child connects to it
    once it is ready (its signal handlers set up, inside its task), so that
    a signal sent afterwards reaches the task and not the child's start-up
    (a spawn child still importing gi would die of KeyboardInterrupt there)."""

    def __init__(self):
        # The name in the abstract namespace, without its leading NUL (a
        # GVariant string cannot carry it).
        self.address = f"libmp-test-process-{os.getpid()}-{next(_ready_counter)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind("\0" + self.address)
        self.sock.listen(1)
        self.sock.settimeout(TIMEOUT)

    def wait(self):
        conn, _ = self.sock.accept()  # socket.timeout only on a bug
        with conn:
            conn.settimeout(TIMEOUT)
            return conn.recv(16)

    def close(self):
        self.sock.close()


class MpTestCase(unittest.TestCase):
    def assertMpError(self, code, func, *args):
        """func(*args) raises a GLib.Error in the MP_ERROR domain with code."""
        with self.assertRaises(GLib.Error) as cm:
            func(*args)
        error = cm.exception
        self.assertEqual(error.domain, MP_ERROR_DOMAIN, error.message)
        self.assertEqual(error.code, int(code), error.message)
        return error

    def stop_later(self, p):
        """Makes sure a child that runs forever is gone when the test ends,
        even when it fails (the runtime would join it at exit)."""

        def stop():
            if p.get_state() == Mp.ProcessState.STARTED:
                p.kill()
                p.join(TIMEOUT)

        self.addCleanup(stop)
        return p

    def run_loop(self, loop):
        """Runs loop until something quits it; fails after TIMEOUT."""
        timed_out = []

        def on_timeout():
            timed_out.append(True)
            loop.quit()
            return GLib.SOURCE_REMOVE

        source = GLib.timeout_add_seconds(TIMEOUT, on_timeout)
        loop.run()
        if not timed_out:
            GLib.source_remove(source)
        self.assertFalse(timed_out, "timed out waiting for an event (a bug)")

    @staticmethod
    def drain_main_context():
        context = GLib.MainContext.default()
        while context.pending():
            context.iteration(False)


# ---- tests run in each start method -----------------------------------------


class StartMethodTests:
    """Mixed into one TestCase per start method."""

    method = None

    def new(self, target=None, args=(), **kwargs):
        return Mp.Process(target=target, args=args, start_method=self.method, **kwargs)

    def run_to_exit(self, target=None, args=(), **kwargs):
        p = self.new(target, args, **kwargs)
        self.assertIsNone(p.exitcode)
        self.assertIsNone(p.pid)
        p.start()
        self.assertGreater(p.pid, 0)
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.get_state(), Mp.ProcessState.EXITED)
        self.assertFalse(p.is_alive())
        self.assertIsNotNone(p.exitcode)
        return p

    def start_forever(self, default_sigint=False):
        """Starts a child that runs until a signal ends it, and returns
        once its task runs."""
        ready = ReadyWaiter()
        self.addCleanup(ready.close)
        p = self.stop_later(self.new(forever, (ready.address, default_sigint)))
        p.start()
        self.assertEqual(ready.wait(), b"ready")
        self.assertTrue(p.is_alive())
        return p

    # exit codes

    def test_success(self):
        p = self.run_to_exit(ok, (1, "two"))
        self.assertEqual(p.exitcode, 0)
        self.assertTrue(p.check_error())

    def test_no_target(self):
        # A process with no target runs nothing and succeeds, as in Python.
        self.assertEqual(self.run_to_exit().exitcode, 0)

    def test_task_error(self):
        message = f"refused on purpose in {self.method.value_nick}"
        p = self.new(fail, (message,))
        # Nothing to report before it ran.
        self.assertTrue(p.check_error())
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, 1)
        error = self.assertMpError(Mp.Error.TASK_FAILED, p.check_error)
        # The traceback text, with the exception and its message.
        self.assertIn("Traceback", error.message)
        self.assertIn(f"ValueError: {message}", error.message)

    def test_mp_exit(self):
        p = self.run_to_exit(exit_with, (7,))
        self.assertEqual(p.exitcode, 7)
        # Ending through exit is not an error.
        self.assertTrue(p.check_error())

    def test_sys_exit(self):
        self.assertEqual(self.run_to_exit(sys_exit_with, (23,)).exitcode, 23)

    def test_identity_travels(self):
        # parent pid, current process, name and daemon as the child sees them
        p = self.run_to_exit(check_identity, (os.getpid(), "child-name", True), name="child-name", daemon=True)
        self.assertEqual(p.exitcode, 0)
        p = self.run_to_exit(check_identity, (os.getpid(), "other-name", False), name="other-name")
        self.assertEqual(p.exitcode, 0)

    # signals

    def check_signal(self, send, expected, *args):
        p = self.start_forever(*args)
        # join with a timeout while it runs: not ended, no error
        self.assertFalse(p.join(0.05))
        self.assertTrue(p.is_alive())
        self.assertIsNone(p.exitcode)
        self.assertEqual(p.get_state(), Mp.ProcessState.STARTED)

        getattr(p, send)()
        self.assertTrue(p.join(TIMEOUT))
        self.assertFalse(p.is_alive())
        self.assertEqual(p.exitcode, expected)
        # Signalling an ended process does nothing.
        p.terminate()
        p.kill()
        self.assertEqual(p.exitcode, expected)
        return p

    def test_terminate(self):
        p = self.check_signal("terminate", -signal.SIGTERM)
        self.assertTrue(p.check_error())

    def test_kill(self):
        self.check_signal("kill", -signal.SIGKILL)

    def test_interrupt(self):
        # With SIGINT's default action, as a C child: death by SIGINT.
        self.check_signal("interrupt", -signal.SIGINT, True)

    def test_interrupt_keyboard_interrupt(self):
        # With Python's own handler, as in multiprocessing: the child gets
        # KeyboardInterrupt, which fails the task (exit code 1).
        p = self.check_signal("interrupt", 1)
        error = self.assertMpError(Mp.Error.TASK_FAILED, p.check_error)
        self.assertIn("KeyboardInterrupt", error.message)

    # misuse

    def test_misuse(self):
        p = self.stop_later(self.new(forever))

        # Not started: join and signals are clear errors.
        self.assertMpError(Mp.Error.INVALID_STATE, p.join, 0)
        self.assertMpError(Mp.Error.INVALID_STATE, p.terminate)

        p.start()
        self.assertMpError(Mp.Error.INVALID_STATE, p.start)
        # close() on a live process is an error, as in Python.
        self.assertMpError(Mp.Error.INVALID_STATE, p.close)
        self.assertTrue(p.is_alive())

        p.kill()
        self.assertTrue(p.join(TIMEOUT))
        p.close()
        self.assertEqual(p.get_state(), Mp.ProcessState.CLOSED)
        self.assertMpError(Mp.Error.INVALID_STATE, p.join)
        self.assertMpError(Mp.Error.INVALID_STATE, p.join, 0)
        self.assertMpError(Mp.Error.INVALID_STATE, p.start)

    def test_unknown_task(self):
        p = self.new("no-such-task")
        error = self.assertMpError(Mp.Error.UNKNOWN_TASK, p.start)
        self.assertIn("no-such-task", error.message)
        self.assertEqual(p.get_pid(), 0)
        self.assertIsNone(p.pid)
        self.assertEqual(p.get_state(), Mp.ProcessState.INITIAL)

    def test_unregistered_function(self):
        def not_a_task():
            pass

        with self.assertRaises(TypeError):
            self.new(not_a_task)

    # subclass

    def test_subclass(self):
        p = Worker(
            greeting="hello from the parent",
            count=42,
            expected_parent=os.getpid(),
            name="custom-name",
            daemon=True,
            start_method=self.method,
        )
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, 42)

    def test_subclass_error(self):
        p = Worker(fail_with="the subclass failed", start_method=self.method)
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, 1)
        error = self.assertMpError(Mp.Error.TASK_FAILED, p.check_error)
        self.assertIn("RuntimeError: the subclass failed", error.message)

    # join_async and the 'exited' signal

    def test_join_async(self):
        loop = GLib.MainLoop()
        exited = []
        joined = []
        p = self.new(exit_with, (5,))
        p.connect("exited", lambda process, code: exited.append(code))
        p.start()

        def on_joined(process, result, *user_data):
            try:
                joined.append((process.join_finish(result), user_data))
            except GLib.Error as e:
                joined.append(e)
            loop.quit()

        p.join_async(None, on_joined, "user data")
        self.run_loop(loop)

        self.assertEqual(joined, [(True, ("user data",))])
        self.assertEqual(exited, [5])
        self.assertEqual(p.exitcode, 5)
        # Emitted once: not again from the main loop nor from a later join.
        self.drain_main_context()
        self.assertTrue(p.join(TIMEOUT))
        self.assertFalse(p.is_alive())
        self.drain_main_context()
        self.assertEqual(exited, [5])

    def test_join_async_cancel(self):
        p = self.start_forever()
        loop = GLib.MainLoop()
        results = []

        def on_joined(process, result):
            try:
                results.append(process.join_finish(result))
            except GLib.Error as e:
                results.append(e)
            loop.quit()

        cancellable = Gio.Cancellable()
        p.join_async(cancellable, on_joined)
        cancellable.cancel()
        self.run_loop(loop)
        self.assertEqual(len(results), 1)
        self.assertIsInstance(results[0], GLib.Error)
        self.assertEqual(results[0].domain, "g-io-error-quark")
        self.assertEqual(results[0].code, int(Gio.IOErrorEnum.CANCELLED))
        self.assertTrue(p.is_alive())

        # Another join_async still ends when the child does.
        results.clear()
        p.join_async(None, on_joined)
        p.kill()
        self.run_loop(loop)
        self.assertEqual(results, [True])
        self.assertEqual(p.exitcode, -signal.SIGKILL)

        # On an ended process it completes at once.
        results.clear()
        p.join_async(None, on_joined)
        self.run_loop(loop)
        self.assertEqual(results, [True])

    def test_join_async_not_started(self):
        loop = GLib.MainLoop()
        results = []

        def on_joined(process, result):
            try:
                results.append(process.join_finish(result))
            except GLib.Error as e:
                results.append(e)
            loop.quit()

        self.new(ok).join_async(None, on_joined)
        self.run_loop(loop)
        self.assertEqual(len(results), 1)
        self.assertIsInstance(results[0], GLib.Error)
        self.assertEqual(results[0].domain, MP_ERROR_DOMAIN)
        self.assertEqual(results[0].code, int(Mp.Error.INVALID_STATE))

    def test_exited_signal_from_join(self):
        exited = []
        p = self.new(exit_with, (6,))
        p.connect("exited", lambda process, code: exited.append(code))
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(exited, [6])
        self.drain_main_context()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(exited, [6])

    def test_exited_signal_from_main_loop(self):
        # Nobody joins: the main loop notices the exit by itself.
        loop = GLib.MainLoop()
        exited = []

        def on_exited(process, code):
            exited.append(code)
            loop.quit()

        p = self.new(exit_with, (8,))
        p.connect("exited", on_exited)
        p.start()
        self.run_loop(loop)
        self.assertEqual(exited, [8])
        self.assertEqual(p.exitcode, 8)
        self.assertTrue(p.join(TIMEOUT))
        self.drain_main_context()
        self.assertEqual(exited, [8])

    # started from a thread that ended

    def test_started_from_ended_thread(self):
        # The kernel's parent-death signal follows the thread that started
        # a child, not the process: a child started from a short-lived
        # thread must outlive it.
        ready, go = Mp.Event(), Mp.Event()
        p = self.stop_later(self.new(ready_go, (ready, go)))
        start_from_ended_thread(p, ready)
        go.set()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, 0)
        self.assertTrue(p.check_error())

    # random numbers

    def test_random_differs(self):
        # Each child draws its own numbers, as multiprocessing's children
        # do: fork children and forkserver workers (copies of one server)
        # run random's after-fork reseed. A fork() of libmp's own left
        # them all with the parent's (or the server's) state.
        queue = Mp.Queue()
        procs = [self.new(draw_random, (queue,)) for _ in range(4)]
        for p in procs:
            p.start()
        values = [queue.get(timeout=TIMEOUT) for _ in procs]
        for p in procs:
            self.assertTrue(p.join(TIMEOUT))
            self.assertEqual(p.exitcode, 0)
        self.assertEqual(len(set(values)), len(values), values)

    # many

    def test_many(self):
        # Warm up anything allocated once.
        self.assertEqual(self.run_to_exit(ok).exitcode, 0)
        fds_before = count_fds()
        zombies_before = count_zombies()

        procs = [self.new(ok, (i,)) for i in range(50)]
        for p in procs:
            p.start()
        for p in procs:
            self.assertTrue(p.join(TIMEOUT))
            self.assertEqual(p.exitcode, 0)

        if count_fds() != fds_before:
            for fd in os.listdir("/proc/self/fd"):
                try:
                    print(f"fd {fd} -> {os.readlink(f'/proc/self/fd/{fd}')}", file=sys.stderr)
                except OSError:
                    pass
        self.assertEqual(count_fds(), fds_before)
        self.assertEqual(count_zombies(), zombies_before)


class ForkedChildTests:
    """For the start methods whose children are forked: libmp forks
    through os.fork() (Mp.set_fork_func), which does Python's bookkeeping
    around the fork."""

    def test_after_fork_handler_runs_in_child(self):
        self.assertEqual(self.run_to_exit(after_fork_ran).exitcode, 0)


class ForkTests(StartMethodTests, ForkedChildTests, MpTestCase):
    method = Mp.StartMethod.FORK

    def test_after_fork_handler_runs_in_parent(self):
        before = after_fork_in_parent.count(os.getpid())
        p = self.run_to_exit(ok)
        self.assertEqual(p.exitcode, 0)
        self.assertEqual(after_fork_in_parent.count(os.getpid()), before + 1)

    def test_threading_cleanup_in_child(self):
        # threading's after-fork handler leaves the child one thread, the
        # one that forked, as in an os.fork() child; it saw the parent's.
        stop = threading.Event()
        waiter = threading.Thread(target=stop.wait, args=(TIMEOUT,))
        waiter.start()
        try:
            self.assertEqual(self.run_to_exit(exit_with_thread_count).exitcode, 1)
        finally:
            stop.set()
            waiter.join(TIMEOUT)

    # Children per test below: a fork() of libmp's own hung about 1 child
    # in 7 here with two threads spinning, so the old code failed them
    # every time.
    N_WHILE_SPINNING = 100

    def start_one_by_one(self):
        """Starts fork children one after the other, each waited for."""
        for i in range(self.N_WHILE_SPINNING):
            p = self.new(ok)
            p.start()
            if not p.join(TIMEOUT):
                p.kill()
                p.join(TIMEOUT)
                self.fail(f"fork child {i} hung (it inherited a GIL held by a thread it does not have)")
            self.assertEqual(p.exitcode, 0, f"fork child {i}")

    def spin_in_threads(self, n):
        """Starts n threads that run Python code until the test ends."""
        running = [True]

        def spin():
            n = 0
            while running[0]:
                n += 1

        spinners = [threading.Thread(target=spin) for _ in range(n)]
        for t in spinners:
            t.start()

        def stop():
            running[0] = False
            for t in spinners:
                t.join(TIMEOUT)

        self.addCleanup(stop)

    def test_while_other_threads_run_python(self):
        # libmp is called with the GIL released: a fork() of its own let
        # the child inherit a GIL that a spinning thread held at that
        # moment, and the child hung in PyGILState_Ensure() before its
        # task ran. os.fork() holds the GIL across the fork.
        self.spin_in_threads(2)
        self.start_one_by_one()

    def test_from_thread_while_main_runs_python(self):
        # The same with a threading.Thread starting the children while
        # the main thread (and one more) spins until it is done.
        self.spin_in_threads(1)
        outcome = []

        def body():
            try:
                self.start_one_by_one()
            except BaseException as e:
                outcome.append(e)

        starter = threading.Thread(target=body)
        starter.start()
        n = 0
        while starter.is_alive():
            n += 1
        starter.join()
        if outcome:
            raise outcome[0]


class SpawnTests(StartMethodTests, MpTestCase):
    method = Mp.StartMethod.SPAWN


class ForkserverTests(StartMethodTests, ForkedChildTests, MpTestCase):
    method = Mp.StartMethod.FORKSERVER


# ---- a parent killed with SIGKILL ---------------------------------------------

METHODS = (Mp.StartMethod.FORK, Mp.StartMethod.SPAWN, Mp.StartMethod.FORKSERVER)


def orphan_helper():
    """This script run again as a parent to kill: starts one child per
    start method from the main thread, and one per method from a thread
    that has ended, prints each child's pid once it runs, then waits to be
    killed."""
    for from_thread in (False, True):
        for method in METHODS:
            ready = Mp.Event()
            p = Mp.Process(target=ready_forever, args=(ready,), start_method=method)
            if from_thread:
                start_from_ended_thread(p, ready)
            else:
                p.start()
                if not ready.wait(TIMEOUT):
                    raise AssertionError("the child never got ready (a bug)")
            print(p.pid, flush=True)
    while True:
        signal.pause()


class ParentKilledTests(MpTestCase):
    N_CHILDREN = 2 * len(METHODS)

    def read_lines(self, stream, n):
        """n lines from stream (a pipe), each within TIMEOUT."""
        data = b""
        deadline = time.monotonic() + TIMEOUT
        while data.count(b"\n") < n:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([stream], [], [], max(remaining, 0))
            self.assertTrue(readable, f"the helper printed {data!r} only (a bug)")
            chunk = os.read(stream.fileno(), 4096)
            self.assertTrue(chunk, f"the helper ended after printing {data!r}")
            data += chunk
        return data.decode().split()

    def test_parent_killed(self):
        # The parent is killed with SIGKILL: its children go too, those
        # started from a thread that ended as well as the others.
        env = dict(os.environ, **{ORPHAN_HELPER_ENV: "1"})
        helper = subprocess.Popen([sys.executable, __file__], env=env, stdout=subprocess.PIPE)

        def stop_helper():
            if helper.poll() is None:
                helper.kill()
            helper.wait(TIMEOUT)
            helper.stdout.close()

        self.addCleanup(stop_helper)
        pids = [int(line) for line in self.read_lines(helper.stdout, self.N_CHILDREN)]
        self.assertEqual(len(set(pids)), self.N_CHILDREN, pids)
        names = [f"{m.value_nick}{' from an ended thread' if i >= len(METHODS) else ''}"
                 for i, m in enumerate(METHODS * 2)]

        pidfds = []
        for pid, name in zip(pids, names):
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                self.fail(f"the {name} child was gone before its parent was killed")
            pidfds.append(pidfd)

            def kill_survivor(pidfd=pidfd):
                # Only after a failure: no orphan outlives the test.
                try:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                os.close(pidfd)

            self.addCleanup(kill_survivor)

        helper.kill()
        helper.wait(TIMEOUT)
        self.assertEqual(helper.returncode, -signal.SIGKILL)

        deadline = time.monotonic() + TIMEOUT
        survivors = []
        for pid, pidfd in zip(pids, pidfds):
            # Readable once the process has exited; a generous bound that
            # only a bug reaches.
            readable, _, _ = select.select([pidfd], [], [], max(deadline - time.monotonic(), 0))
            if not readable:
                survivors.append(pid)
        self.assertEqual(survivors, [], [names[pids.index(pid)] for pid in survivors])


# ---- closures and the runtime ---------------------------------------------


def late():
    pass


class RuntimeTests(MpTestCase):
    def test_closure(self):
        captured = 4

        def func(process, data):
            # A real closure: it sees the parent's locals, copied by fork.
            if process is not Mp.current_process() or Mp.parent_pid() != data:
                Mp.exit(WRONG_CURRENT)
            Mp.exit(captured + 5)

        p = Mp.Process.new_for_func(func, os.getpid())
        self.assertIsInstance(p, Mp.Process)
        # The default for a closure is fork.
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, 9)

    def test_closure_explicit_fork(self):
        p = Mp.Process.new_for_func(lambda process, data: data, True)
        p.set_start_method(Mp.StartMethod.FORK)
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, 0)
        self.assertTrue(p.check_error())

    def test_closure_returns_false(self):
        p = Mp.Process.new_for_func(lambda process, data: False, None)
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, 1)
        self.assertMpError(Mp.Error.TASK_FAILED, p.check_error)

    def test_closure_raises(self):
        def func(process, data):
            raise ValueError("the closure failed")

        p = Mp.Process.new_for_func(func, None)
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, 1)
        self.assertMpError(Mp.Error.TASK_FAILED, p.check_error)

    def test_closure_raises_message(self):
        def func(process, data):
            raise ValueError("the closure failed")

        p = Mp.Process.new_for_func(func, None)
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        error = self.assertMpError(Mp.Error.TASK_FAILED, p.check_error)
        self.assertIn("ValueError: the closure failed", error.message)

    def test_closure_needs_fork(self):
        for method in (Mp.StartMethod.SPAWN, Mp.StartMethod.FORKSERVER):
            with self.subTest(method=method.value_nick):
                p = Mp.Process.new_for_func(lambda process, data: True, None)
                p.set_start_method(method)
                self.assertMpError(Mp.Error.START_METHOD, p.start)
                self.assertEqual(p.get_pid(), 0)
                self.assertEqual(p.get_state(), Mp.ProcessState.INITIAL)

    def test_registered_after_init(self):
        Mp.register_task("late", late)
        for method in (Mp.StartMethod.SPAWN, Mp.StartMethod.FORKSERVER):
            with self.subTest(method=method.value_nick):
                p = Mp.Process(target=late, start_method=method)
                error = self.assertMpError(Mp.Error.UNKNOWN_TASK, p.start)
                self.assertIn("mp_init", error.message)
                self.assertEqual(p.get_pid(), 0)
        # fork copies the registry as it is now, so it works there.
        p = Mp.Process(target=late, start_method=Mp.StartMethod.FORK)
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, 0)

    def test_fork_fails(self):
        # os.fork()'s OSError fails the start with its reason and starts
        # nothing; the process can be started once fork works again.
        def no_fork():
            raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))

        p = Mp.Process(target=ok, start_method="fork")
        real_fork = os.fork
        os.fork = no_fork
        try:
            with self.assertRaises(GLib.Error) as cm:
                p.start()
        finally:
            os.fork = real_fork
        error = cm.exception
        self.assertEqual(error.domain, "g-io-error-quark", error.message)
        self.assertEqual(error.code, int(Gio.io_error_from_errno(errno.EAGAIN)), error.message)
        self.assertIn(os.strerror(errno.EAGAIN), error.message)
        self.assertEqual(p.get_pid(), 0)
        self.assertEqual(p.get_state(), Mp.ProcessState.INITIAL)
        p.start()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, 0)

    # A program without Mp.init(): a fork pool forks its workers from its
    # own thread, one Python did not start, while another thread runs
    # Python code. The thread state PyGObject makes for the fork call is
    # the child's only one and must outlive the call (CPython 3.11
    # aborted making the next), and the workers must not inherit the
    # spinning thread's GIL.
    FORK_POOL_SCRIPT = """
import sys, threading, gi
gi.require_version("Mp", "1")
from gi.repository import Mp

@Mp.task
def square(x):
    return x * x

running = True

def spin():
    n = 0
    while running:
        n += 1

spinner = threading.Thread(target=spin)
spinner.start()
try:
    for _ in range(5):
        with Mp.Pool(2, start_method="fork", maxtasksperchild=1) as pool:
            print(sum(pool.map(square, range(20), chunksize=1)))
finally:
    running = False
    spinner.join()
"""

    def test_fork_pool_without_init(self):
        # A worker hung before its first job hangs the map: the bound on
        # the script catches it.
        done = subprocess.run([sys.executable, "-c", self.FORK_POOL_SCRIPT], capture_output=True,
                              timeout=2 * TIMEOUT)
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        self.assertEqual(done.stdout.split(), [b"2470"] * 5, done.stderr.decode())

    def test_default_start_method(self):
        # Mp.init ran while Python had one thread: forkserver, as in C.
        self.assertEqual(Mp.get_start_method(), Mp.StartMethod.FORKSERVER)
        for method in (Mp.StartMethod.FORK, Mp.StartMethod.SPAWN, Mp.StartMethod.FORKSERVER):
            self.assertTrue(Mp.start_method_is_available(method))

    def test_active_children(self):
        p = self.stop_later(Mp.Process(target=forever))
        p.start()
        self.assertIn(p, Mp.active_children())
        p.kill()
        self.assertTrue(p.join(TIMEOUT))
        self.assertNotIn(p, Mp.active_children())

    def test_helpers(self):
        n = Mp.cpu_count()
        self.assertGreaterEqual(n, 1)
        self.assertLessEqual(n, os.cpu_count())
        self.assertTrue(Mp.is_initialized())
        self.assertEqual(Mp.parent_pid(), 0)
        main = Mp.current_process()
        self.assertEqual(main.get_name(), "MainProcess")
        self.assertEqual(main.get_pid(), os.getpid())
        self.assertTrue(main.is_alive())
        self.assertMpError(Mp.Error.INVALID_STATE, main.join, 0)


if __name__ == "__main__":
    if os.environ.get(ORPHAN_HELPER_ENV):
        orphan_helper()
    unittest.main(verbosity=2)
