# test_sync.py: locks, conditions, events, barriers, shared values, arrays and
# shared memory from Python, in one process and in each start method
#
# Mirrors multiprocessing's synchronize / sharedctypes / shared_memory through
# the override (Mp.Lock, Mp.RLock, Mp.Semaphore, Mp.BoundedSemaphore,
# Mp.Condition, Mp.Event, Mp.Barrier, Mp.Value, Mp.Array, Mp.SharedMemory).
# Everything a child needs (tasks, the barrier action) is defined before
# Mp.init(), which sits at module level: a spawn child runs this very script
# again and Mp.init() turns it into the worker; a forkserver child is a copy
# of the program as it was inside Mp.init().
#
# No test waits with sleep: a test waits for the thing itself (an Event, a
# Semaphore, a process exit) with a TIMEOUT that only a bug reaches. Where a
# test shows that something does NOT happen (a lock not acquired, no extra
# wakeup) it uses a timed acquire or wait that must return False.
#
# A child reports what it found wrong by raising: the override turns the
# exception into an error with its traceback, which join_ok() raises in the
# parent through check_error().
#
# Choices the tests pin down (see the docstrings in gi/overrides/Mp.py):
# opening a shared memory name that does not exist (or was unlinked) raises
# FileNotFoundError, creating one whose name is taken FileExistsError, as
# Python's SharedMemory does (the GLib.Error, G_IO_ERROR_NOT_FOUND or
# G_IO_ERROR_EXISTS, is the __cause__); a value out of a typecode's range
# raises OverflowError (ctypes would wrap it).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import ctypes
import errno
import os
import signal
import threading
import time
import unittest
import uuid

import gi

gi.require_version("GLib", "2.0")
gi.require_version("Gio", "2.0")
gi.require_version("Mp", "1")
from gi.repository import Gio, GLib, Mp  # noqa: E402

# Seconds a wait, a join or an acquire may take before the test fails:
# generous, only a bug reaches it.
TIMEOUT = 60

# How long a wait that must run out is given, and how far past it the
# wait may return (a loaded machine) before it counts as a bug.
SHORT = 0.5
SLACK = 10

# The seeds' counter: N_COUNTERS processes each add 1 N_INCREMENTS times.
N_COUNTERS = 10
N_INCREMENTS = 50

# The barrier test: parties and passes.
N_PARTIES = 3
N_PASSES = 1000

# The one-Condition ping-pong: round trips, and how long one side may wait
# for its turn (a round trip takes microseconds: only a lost notification
# makes it wait that long).
N_ROUND_TRIPS = 300
TURN_TIMEOUT = 5

# Condition.notify(n) with K_WAITERS waiting.
K_WAITERS = 4
N_NOTIFIED = 2

IO_ERROR = Gio.io_error_quark()
MP_ERROR_DOMAIN = "mp-error-quark"


def expect(condition, message):
    """In a child: fail the task (its traceback goes back to the parent)."""
    if not condition:
        raise AssertionError(message)


# ---- tasks (registered before Mp.init) --------------------------------------


@Mp.task
def count_under_lock(lock, value, n):
    """The seeds' counter: value.value += 1, n times, each under lock."""
    expect(isinstance(lock, Mp.Lock), f"the lock arrived as {type(lock).__name__}")
    expect(isinstance(value, Mp.Value), f"the value arrived as {type(value).__name__}")
    for _ in range(n):
        with lock:
            value.value += 1


@Mp.task
def count_under_own_lock(value, n):
    """The same, under the value's own lock."""
    for _ in range(n):
        with value.get_lock():
            value.value += 1


@Mp.task
def add_atomically(value, n):
    """value.add(1) n times, no lock: the additions are atomic."""
    for _ in range(n):
        value.add(1)


@Mp.task
def hold_forever(lock, ready):
    """Takes lock, says so, and waits for ever (the parent kills it)."""
    expect(lock.acquire(timeout=TIMEOUT), "could not take the lock")
    ready.set()
    Mp.Event().wait()


@Mp.task
def hold_until(lock, ready, go):
    """Takes lock, says so, waits for go, releases lock."""
    expect(lock.acquire(timeout=TIMEOUT), "could not take the lock")
    ready.set()
    expect(go.wait(TIMEOUT), "go never came")
    lock.release()


@Mp.task
def release_for_parent(lock):
    """Releases a Lock the parent holds: any process may."""
    expect(lock.locked(), "the parent's lock is not held")
    lock.release()


@Mp.task
def try_lock(lock, expected):
    """acquire(block=False) and compare; release what was taken."""
    got = lock.acquire(block=False)
    expect(got == expected, f"acquire(block=False) gave {got}, expected {expected}")
    if got:
        lock.release()


@Mp.task
def release_rlock_not_owned(rlock):
    """Releasing an RLock another process holds is a RuntimeError."""
    try:
        rlock.release()
    except RuntimeError as e:
        expect(str(e) == "cannot release un-acquired lock", f"message {e}")
        return
    raise AssertionError("releasing a foreign RLock did not raise")


@Mp.task
def release_semaphore(sem, n):
    for _ in range(n):
        sem.release()


@Mp.task
def over_release(sem):
    """A bounded semaphore at its value: release() is a ValueError."""
    try:
        sem.release()
    except ValueError as e:
        expect(str(e) == "semaphore or lock released too many times", f"message {e}")
        return
    raise AssertionError("the release above the bound did not raise")


@Mp.task
def use_semaphore(sem, inside, peak):
    """Counts the holders of sem while holding it; records the peak."""
    for _ in range(20):
        expect(sem.acquire(timeout=TIMEOUT), "could not take the semaphore")
        try:
            with inside.get_lock():
                inside.value += 1
                if inside.value > peak.value:
                    peak.value = inside.value
            with inside.get_lock():
                inside.value -= 1
        finally:
            sem.release()


@Mp.task
def condition_waiter(cond, ready, woken, done):
    """Holds the condition's lock while it says it is ready, so that a
    parent holding the lock afterwards knows it is inside wait()."""
    with cond:
        ready.release()
        expect(cond.wait(TIMEOUT), "never notified")
        woken.add(1)
    done.release()


@Mp.task
def condition_waiter_quiet(cond, ready, done):
    """As condition_waiter, for a waiter that may be killed."""
    with cond:
        ready.release()
        expect(cond.wait(TIMEOUT), "never notified")
    done.release()


@Mp.task
def ping_pong(cond, turn, mine, theirs, n):
    """n turns through one Condition: waits for turn == mine, hands it
    over and notifies (the other side is the only other waiter)."""
    for i in range(n):
        with cond:
            while turn.value != mine:
                expect(cond.wait(TURN_TIMEOUT), f"side {mine}: no notification in round {i}")
            turn.value = theirs
            cond.notify()


@Mp.task
def add_halves(value, n):
    for _ in range(n):
        value.add(0.5)


@Mp.task
def condition_setter(cond, value, ready):
    """Waits until the parent waits (ready), then sets value to 1, 2, 3,
    notifying each time."""
    expect(ready.acquire(timeout=TIMEOUT), "the parent never got ready")
    for i in (1, 2, 3):
        with cond:
            value.value = i
            cond.notify_all()


@Mp.task
def set_event_after(event, go):
    expect(go.wait(TIMEOUT), "go never came")
    event.set()


@Mp.task
def pass_barrier(barrier, actions, indices, party):
    """Passes barrier N_PASSES times; after pass p the action ran exactly
    p + 1 times (the next one needs this party too). Sends the indices."""
    global _action_counter
    _action_counter = actions
    expect(barrier.parties == N_PARTIES, f"parties {barrier.parties}")
    got = []
    for p in range(N_PASSES):
        i = barrier.wait(TIMEOUT)
        expect(0 <= i < N_PARTIES, f"index {i}")
        n = actions.value
        expect(n == p + 1, f"after pass {p} the action ran {n} times")
        got.append(i)
    indices.put((party, got))


@Mp.task
def wait_broken_barrier(barrier):
    """Waits at barrier, which the parent breaks: BrokenBarrierError."""
    try:
        barrier.wait(TIMEOUT)
    except threading.BrokenBarrierError:
        return
    raise AssertionError("the barrier wait was not broken")


@Mp.task
def check_types(lock, rlock, sem, bsem, cond, event, barrier, value, array, queue):
    """Each object arrives as the same kind of object, sharing its state."""
    for obj, cls in ((lock, Mp.Lock), (rlock, Mp.RLock), (sem, Mp.Semaphore), (bsem, Mp.Semaphore),
                     (cond, Mp.Condition), (event, Mp.Event), (barrier, Mp.Barrier), (value, Mp.Value),
                     (array, Mp.Array), (queue, Mp.Queue)):
        expect(isinstance(obj, cls), f"{obj!r} arrived as {type(obj).__name__}, not {cls.__name__}")
    expect(lock.locked(), "the parent holds the lock")
    expect(not rlock.acquire(block=False), "the parent holds the RLock")
    expect(sem.get_value() == 3 and not sem.is_bounded(), f"semaphore {sem!r}")
    expect(bsem.get_value() == 2 and bsem.is_bounded(), f"bounded semaphore {bsem!r}")
    expect(isinstance(cond.lock, Mp.Lock), f"the condition's lock is {cond.lock!r}")
    expect(event.is_set(), "the event is set")
    expect(barrier.parties == 5, f"parties {barrier.parties}")
    expect(value.value == 1.25 and value.typecode == "d", f"value {value!r}")
    expect(array[:] == [10, -20, 30], f"array {array!r}")
    expect(len(value.get_lock().__class__.__name__) > 0, "no lock")
    value.value = -2.5
    array[1] = 99
    lock.release()
    queue.put("checked")


@Mp.task
def fill_array(array):
    """Squares in the elements, then a slice, read back."""
    n = len(array)
    for i in range(n):
        array[i] = i * i
    array[-1] = -1
    array[1:3] = [100, 200]
    expect(array[:3] == [0, 100, 200], f"array {array[:]}")


@Mp.task
def use_shared_memory(shm, expected, offset, reply):
    """shm arrived as an object: reads expected at 0, writes reply at offset."""
    expect(isinstance(shm, Mp.SharedMemory), f"the block arrived as {type(shm).__name__}")
    got = bytes(shm.buf[:len(expected)])
    expect(got == expected, f"read {got!r}")
    shm.buf[offset:offset + len(reply)] = reply
    shm.close()


@Mp.task
def use_shared_memory_by_name(name, size, expected, offset, reply):
    """Opens the block by name and does as use_shared_memory."""
    shm = Mp.SharedMemory(name)
    expect(shm.name == name, f"name {shm.name}")
    expect(shm.size >= size, f"size {shm.size}")
    got = bytes(shm.buf[:len(expected)])
    expect(got == expected, f"read {got!r}")
    shm.buf[offset:offset + len(reply)] = reply
    shm.close()


# The barrier action: the counter comes from pass_barrier's arguments, in
# each party's process (the action runs in the last one to arrive).
_action_counter = None


def barrier_action():
    _action_counter.add(1)


def failing_action():
    raise ZeroDivisionError("the action failed")


# Pool functions: module level, as Python's Pool pickles them.
def add_to_value(value, n):
    value.add(n)
    return os.getpid()


def get_value(value):
    return value.value


def make_value_and_lock(n):
    """Objects made in the worker come back as objects."""
    lock = Mp.Lock()
    lock.acquire()
    return Mp.Value("i", n), lock


Mp.init()


# ---- helpers ---------------------------------------------------------------------


class SyncTestCase(unittest.TestCase):
    def assertGError(self, domain, code, func, *args, **kwargs):
        """func(*args, **kwargs) raises a GLib.Error in domain with code."""
        with self.assertRaises(GLib.Error) as cm:
            func(*args, **kwargs)
        error = cm.exception
        self.assertEqual((error.domain, error.code), (domain, int(code)), error.message)
        return error

    def assertIOError(self, code, func, *args, **kwargs):
        return self.assertGError(GLib.quark_to_string(IO_ERROR), code, func, *args, **kwargs)

    def assertTakes(self, seconds, func, *args):
        """func(*args) returns a false value after about seconds."""
        start = time.monotonic()
        result = func(*args)
        elapsed = time.monotonic() - start
        self.assertFalse(result)
        self.assertGreaterEqual(elapsed, 0.9 * seconds, "returned before the timeout")
        self.assertLess(elapsed, seconds + SLACK, "returned far after the timeout")
        return result

    def wait_until(self, condition, what):
        """Spins (no sleep) until condition() holds; fails after TIMEOUT."""
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what} (a bug)")
            os.sched_yield()


def shm_name():
    return f"libmp-test-sync-{os.getpid()}-{uuid.uuid4().hex[:12]}"


# ---- in one process ----------------------------------------------------------------


class LockTests(SyncTestCase):
    def test_lock_basics(self):
        lock = Mp.Lock()
        self.assertIsInstance(lock, Mp.Lock)
        self.assertIsInstance(lock, Mp.Shareable)
        self.assertFalse(lock.locked())
        self.assertIs(lock.acquire(), True)
        self.assertTrue(lock.locked())
        # Not recursive: the holder does not get it again.
        self.assertIs(lock.acquire(block=False), False)
        self.assertIs(lock.acquire(timeout=0), False)
        lock.release()
        self.assertFalse(lock.locked())
        with lock as entered:
            self.assertIs(entered, True)
            self.assertTrue(lock.locked())
        self.assertFalse(lock.locked())

    def test_lock_release_unlocked(self):
        lock = Mp.Lock()
        with self.assertRaises(ValueError) as cm:
            lock.release()
        self.assertEqual(str(cm.exception), "semaphore or lock released too many times")
        lock.acquire()
        lock.release()
        with self.assertRaises(ValueError):
            lock.release()
        # The refused release changed nothing.
        self.assertTrue(lock.acquire(block=False))
        lock.release()
        # Underneath: MP_ERROR_INVALID_STATE.
        self.assertGError(MP_ERROR_DOMAIN, Mp.Error.INVALID_STATE, Mp.Lock.__bases__[0].release, lock)

    def test_lock_released_by_another_thread(self):
        lock = Mp.Lock()
        lock.acquire()
        t = threading.Thread(target=lock.release)
        t.start()
        t.join(TIMEOUT)
        self.assertFalse(lock.locked())

    def test_lock_timed_acquire(self):
        lock = Mp.Lock()
        lock.acquire()
        self.assertTakes(SHORT, lambda: lock.acquire(timeout=SHORT))
        # Longer than a slice of the override's sliced wait.
        self.assertTakes(1.2, lambda: lock.acquire(True, 1.2))
        # block=False tries once, whatever the timeout; a negative one is 0.
        self.assertLess(self._time(lambda: self.assertFalse(lock.acquire(False, 30))), SLACK)
        self.assertLess(self._time(lambda: self.assertFalse(lock.acquire(timeout=-1))), SLACK)
        self.assertTrue(lock.locked())
        lock.release()

    @staticmethod
    def _time(func):
        start = time.monotonic()
        func()
        return time.monotonic() - start

    def test_lock_wakes_a_waiting_thread(self):
        lock = Mp.Lock()
        lock.acquire()
        got = []
        t = threading.Thread(target=lambda: got.append(lock.acquire(timeout=TIMEOUT)))
        t.start()
        # The thread cannot have it yet.
        self.assertFalse(lock.acquire(timeout=0.1))
        self.assertEqual(got, [])
        lock.release()
        t.join(TIMEOUT)
        self.assertEqual(got, [True])
        self.assertTrue(lock.locked())
        lock.release()

    def test_lock_cancelled(self):
        lock = Mp.Lock()
        lock.acquire()
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, lock.acquire, True, None, cancellable)
        # Cancelled while waiting, from another thread.
        cancellable = Gio.Cancellable()
        t = threading.Thread(target=cancellable.cancel)
        t.start()
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, lock.acquire, True, TIMEOUT, cancellable)
        t.join(TIMEOUT)
        self.assertTrue(lock.locked())
        lock.release()

    def test_lock_acquire_async(self):
        lock = Mp.Lock()
        lock.acquire()
        loop = GLib.MainLoop()
        results = []

        def done(source, result):
            results.append(source.acquire_finish(result))
            loop.quit()

        Mp.Lock.acquire_async(lock, -1, None, done)
        context = GLib.MainContext.default()
        while context.pending():
            context.iteration(False)
        self.assertEqual(results, [])
        lock.release()
        guard = GLib.timeout_add_seconds(TIMEOUT, loop.quit)
        loop.run()
        GLib.source_remove(guard)
        self.assertEqual(results, [True])
        self.assertTrue(lock.locked())
        lock.release()

    def test_rlock_recursion(self):
        rlock = Mp.RLock()
        self.assertIsInstance(rlock, Mp.RLock)
        self.assertFalse(rlock.is_owned())
        self.assertEqual(rlock.get_count(), 0)
        for n in range(1, 4):
            self.assertIs(rlock.acquire(), True)
            self.assertEqual(rlock.get_count(), n)
        self.assertTrue(rlock.is_owned())
        # Another thread does not get it.
        other = []
        t = threading.Thread(target=lambda: other.append((rlock.acquire(timeout=0.1), rlock.is_owned())))
        t.start()
        t.join(TIMEOUT)
        self.assertEqual(other, [(False, False)])
        for n in (2, 1, 0):
            rlock.release()
            self.assertEqual(rlock.get_count(), n)
        self.assertFalse(rlock.is_owned())
        with self.assertRaises(RuntimeError) as cm:
            rlock.release()
        self.assertEqual(str(cm.exception), "cannot release un-acquired lock")
        with rlock:
            with rlock:
                self.assertEqual(rlock.get_count(), 2)
        self.assertEqual(rlock.get_count(), 0)
        # Now free for the other thread.
        t = threading.Thread(target=lambda: other.append(rlock.acquire(timeout=TIMEOUT) and rlock.release()))
        t.start()
        t.join(TIMEOUT)
        self.assertEqual(other[-1], None)

    def test_rlock_release_by_non_owner(self):
        rlock = Mp.RLock()
        rlock.acquire()
        errors = []

        def release():
            try:
                rlock.release()
            except RuntimeError as e:
                errors.append(str(e))

        t = threading.Thread(target=release)
        t.start()
        t.join(TIMEOUT)
        self.assertEqual(errors, ["cannot release un-acquired lock"])
        # Still held once by this thread.
        self.assertEqual(rlock.get_count(), 1)
        rlock.release()

    def test_rlock_timed_acquire(self):
        rlock = Mp.RLock()
        result = []

        def hold_and_try():
            rlock.acquire()
            result.append("held")

        t = threading.Thread(target=hold_and_try)
        t.start()
        t.join(TIMEOUT)
        self.assertEqual(result, ["held"])
        self.assertTakes(SHORT, lambda: rlock.acquire(timeout=SHORT))
        self.assertFalse(rlock.acquire(block=False))


class SemaphoreTests(SyncTestCase):
    def test_semaphore(self):
        sem = Mp.Semaphore(2)
        self.assertIsInstance(sem, Mp.Semaphore)
        self.assertFalse(sem.is_bounded())
        self.assertEqual(sem.get_value(), 2)
        self.assertTrue(sem.acquire())
        self.assertTrue(sem.acquire(timeout=0))
        self.assertEqual(sem.get_value(), 0)
        self.assertFalse(sem.acquire(block=False))
        self.assertTakes(SHORT, lambda: sem.acquire(timeout=SHORT))
        sem.release()
        sem.release()
        # Unbounded: above the initial value is allowed.
        sem.release()
        self.assertEqual(sem.get_value(), 3)
        with sem:
            self.assertEqual(sem.get_value(), 2)
        self.assertEqual(sem.get_value(), 3)
        self.assertEqual(Mp.Semaphore().get_value(), 1)
        self.assertEqual(Mp.Semaphore(0).get_value(), 0)

    def test_semaphore_bad_value(self):
        with self.assertRaises(ValueError):
            Mp.Semaphore(-1)
        with self.assertRaises(ValueError):
            Mp.BoundedSemaphore(-1)
        with self.assertRaises(TypeError):
            Mp.Semaphore(1.5)

    def test_bounded_over_release(self):
        sem = Mp.BoundedSemaphore(2)
        self.assertTrue(sem.is_bounded())
        self.assertEqual(sem.get_value(), 2)
        with self.assertRaises(ValueError) as cm:
            sem.release()
        self.assertEqual(str(cm.exception), "semaphore or lock released too many times")
        self.assertEqual(sem.get_value(), 2)
        self.assertTrue(sem.acquire(block=False))
        self.assertEqual(sem.get_value(), 1)
        sem.release()
        with self.assertRaises(ValueError):
            sem.release()
        self.assertEqual(sem.get_value(), 2)
        self.assertEqual(Mp.BoundedSemaphore().get_value(), 1)


class ConditionTests(SyncTestCase):
    def test_wait_timeout_holds_lock_again(self):
        cond = Mp.Condition()
        self.assertIsInstance(cond.lock, Mp.RLock)
        with cond:
            with cond:
                self.assertTakes(SHORT, lambda: cond.wait(SHORT))
                # Held again, at both levels.
                self.assertEqual(cond.lock.get_count(), 2)
        self.assertEqual(cond.lock.get_count(), 0)

        lock = Mp.Lock()
        cond = Mp.Condition(lock)
        self.assertIs(cond.lock, lock)
        with cond:
            self.assertIs(cond.wait(0), False)
            self.assertTrue(lock.locked())
        self.assertFalse(lock.locked())

    def test_wait_for_timeout(self):
        cond = Mp.Condition()
        calls = []

        def predicate():
            calls.append(1)
            return len(calls) > 100

        with cond:
            self.assertTakes(SHORT, lambda: cond.wait_for(predicate, SHORT))
            self.assertTrue(cond.lock.is_owned())
            # A true predicate returns at once, with its value.
            self.assertEqual(cond.wait_for(lambda: "yes", 0), "yes")

    def test_without_lock(self):
        cond = Mp.Condition(Mp.Lock())
        with self.assertRaises(RuntimeError) as cm:
            cond.wait(0)
        self.assertEqual(str(cm.exception), "cannot wait on un-acquired lock")
        with self.assertRaises(RuntimeError):
            cond.notify()
        with self.assertRaises(RuntimeError):
            cond.notify_all()
        with self.assertRaises(ValueError):
            cond.release()
        cond = Mp.Condition()
        with self.assertRaises(RuntimeError):
            cond.release()
        with self.assertRaises(ValueError):
            with cond:
                cond.notify(-1)

    def test_bad_lock(self):
        with self.assertRaises(TypeError):
            Mp.Condition(threading.Lock())
        with self.assertRaises(TypeError):
            Mp.Condition(Mp.Semaphore())

    def test_notify_without_waiters(self):
        cond = Mp.Condition()
        with cond:
            cond.notify()
            cond.notify(5)
            cond.notify_all()
            # Nothing was stored for a later waiter.
            self.assertFalse(cond.wait(0.05))

    def test_notify_a_thread(self):
        cond = Mp.Condition()
        ready = threading.Event()
        results = []

        def waiter():
            with cond:
                ready.set()
                results.append(cond.wait(TIMEOUT))

        t = threading.Thread(target=waiter)
        t.start()
        self.assertTrue(ready.wait(TIMEOUT))
        with cond:   # the thread is inside wait() now
            cond.notify()
        t.join(TIMEOUT)
        self.assertEqual(results, [True])


class CancelTests(SyncTestCase):
    @staticmethod
    def cancelled():
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        return cancellable

    def test_semaphore(self):
        sem = Mp.Semaphore(0)
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, sem.acquire, True, TIMEOUT, self.cancelled())
        self.assertEqual(sem.get_value(), 0)

    def test_rlock(self):
        rlock = Mp.RLock()
        t = threading.Thread(target=rlock.acquire)
        t.start()
        t.join(TIMEOUT)
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, rlock.acquire, True, None, self.cancelled())
        self.assertFalse(rlock.is_owned())

    def test_condition_wait(self):
        cond = Mp.Condition()
        with cond:
            self.assertIOError(Gio.IOErrorEnum.CANCELLED, cond.wait, TIMEOUT, self.cancelled())
            # Held again.
            self.assertEqual(cond.lock.get_count(), 1)

    def test_barrier(self):
        # Cancelled before it arrived: it never did.
        barrier = Mp.Barrier(2)
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait(TIMEOUT, self.cancelled())
        self.assertEqual(barrier.n_waiting, 0)
        # Cancelled while waiting: that breaks the barrier, as a timeout does.
        cancellable = Gio.Cancellable()
        errors = []

        def wait():
            try:
                barrier.wait(TIMEOUT, cancellable)
            except threading.BrokenBarrierError as e:
                errors.append(e)

        t = threading.Thread(target=wait)
        t.start()
        self.wait_until(lambda: barrier.n_waiting == 1, "the thread to wait at the barrier")
        cancellable.cancel()
        t.join(TIMEOUT)
        self.assertEqual(len(errors), 1)
        self.assertTrue(barrier.broken)


class EventTests(SyncTestCase):
    def test_event(self):
        event = Mp.Event()
        self.assertFalse(event.is_set())
        self.assertIs(event.wait(0), False)
        self.assertTakes(SHORT, lambda: event.wait(SHORT))
        event.set()
        self.assertTrue(event.is_set())
        self.assertIs(event.wait(0), True)
        self.assertIs(event.wait(), True)
        event.set()
        self.assertTrue(event.wait(0))
        event.clear()
        self.assertFalse(event.is_set())
        self.assertIs(event.wait(0), False)

    def test_event_cancelled(self):
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, Mp.Event().wait, TIMEOUT, cancellable)

    def test_event_wakes_a_thread(self):
        event = Mp.Event()
        results = []
        t = threading.Thread(target=lambda: results.append(event.wait(TIMEOUT)))
        t.start()
        event.set()
        t.join(TIMEOUT)
        self.assertEqual(results, [True])


class BarrierTests(SyncTestCase):
    def test_properties(self):
        barrier = Mp.Barrier(3)
        self.assertEqual((barrier.parties, barrier.n_waiting, barrier.broken), (3, 0, False))
        with self.assertRaises(ValueError):
            Mp.Barrier(0)
        with self.assertRaises(TypeError):
            Mp.Barrier(2, action=lambda: None)

    def test_one_party(self):
        barrier = Mp.Barrier(1)
        self.assertEqual([barrier.wait(TIMEOUT) for _ in range(3)], [0, 0, 0])

    def test_timeout_breaks(self):
        barrier = Mp.Barrier(2)
        start = time.monotonic()
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait(SHORT)
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 0.9 * SHORT)
        self.assertLess(elapsed, SHORT + SLACK)
        self.assertTrue(barrier.broken)
        # Broken for later waits too, at once.
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait(TIMEOUT)
        barrier.reset()
        self.assertFalse(barrier.broken)
        self.assertEqual(barrier.n_waiting, 0)

    def test_default_timeout(self):
        barrier = Mp.Barrier(2, timeout=SHORT)
        start = time.monotonic()
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait()
        self.assertGreaterEqual(time.monotonic() - start, 0.9 * SHORT)
        self.assertTrue(barrier.broken)

    def test_abort(self):
        barrier = Mp.Barrier(2)
        barrier.abort()
        self.assertTrue(barrier.broken)
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait(TIMEOUT)
        barrier.reset()
        self.assertFalse(barrier.broken)

    def test_threads(self):
        barrier = Mp.Barrier(2)
        results = []
        t = threading.Thread(target=lambda: results.append(barrier.wait(TIMEOUT)))
        t.start()
        results.append(barrier.wait(TIMEOUT))
        t.join(TIMEOUT)
        self.assertEqual(sorted(results), [0, 1])

    def test_failing_action(self):
        # The party that runs it gets its error; the barrier is broken.
        barrier = Mp.Barrier(1, action=failing_action)
        error = self.assertGError(MP_ERROR_DOMAIN, Mp.Error.TASK_FAILED, barrier.wait, TIMEOUT)
        self.assertIn("ZeroDivisionError: the action failed", error.message)
        self.assertTrue(barrier.broken)


class ValueTests(SyncTestCase):
    # (typecode, GVariant type, a value that fits, the lowest, the highest)
    CASES = [
        ("b", "n", -5, -128, 127),
        ("B", "y", 200, 0, 255),
        ("h", "n", -300, -2 ** 15, 2 ** 15 - 1),
        ("H", "q", 60000, 0, 2 ** 16 - 1),
        ("i", "i", -7, -2 ** 31, 2 ** 31 - 1),
        ("I", "u", 4000000000, 0, 2 ** 32 - 1),
        ("l", "x", -2 ** 40, -2 ** 63, 2 ** 63 - 1),
        ("q", "x", 2 ** 40, -2 ** 63, 2 ** 63 - 1),
        ("L", "t", 2 ** 63, 0, 2 ** 64 - 1),
        ("Q", "t", 2 ** 64 - 1, 0, 2 ** 64 - 1),
    ]

    def test_integer_typecodes(self):
        for typecode, gtype, some, low, high in self.CASES:
            with self.subTest(typecode=typecode):
                v = Mp.Value(typecode)
                self.assertEqual(v.get_type_string(), gtype)
                self.assertEqual(v.typecode, typecode)
                self.assertEqual(v.value, 0)
                for x in (some, low, high):
                    v.value = x
                    self.assertEqual(v.value, x)
                with self.assertRaises(OverflowError):
                    v.value = high + 1
                with self.assertRaises(OverflowError):
                    v.value = low - 1
                self.assertEqual(v.value, high)
                with self.assertRaises(TypeError):
                    v.value = 1.5
                with self.assertRaises(TypeError):
                    v.value = "1"
                self.assertEqual(Mp.Value(typecode, some).value, some)

    def test_other_typecodes(self):
        c = Mp.Value("c", b"x")
        self.assertEqual((c.get_type_string(), c.value), ("y", b"x"))
        c.value = b"\0"
        self.assertEqual(c.value, b"\0")
        for bad in (b"ab", b"", "x", 65):
            with self.assertRaises(TypeError):
                c.value = bad
        self.assertEqual(Mp.Value("c").value, b"\0")

        for typecode in "fd":
            d = Mp.Value(typecode, 1.5)
            self.assertEqual((d.get_type_string(), d.value), ("d", 1.5))
            d.value = 3
            self.assertEqual(d.value, 3.0)
            self.assertIsInstance(d.value, float)
            with self.assertRaises(TypeError):
                d.value = "2.5"

        flag = Mp.Value("?")
        self.assertEqual((flag.get_type_string(), flag.value), ("b", False))
        flag.value = True
        self.assertIs(flag.value, True)
        flag.value = 0
        self.assertIs(flag.value, False)

    def test_ctypes_types(self):
        for ctype, gtype in ((ctypes.c_int, "i"), (ctypes.c_uint, "u"), (ctypes.c_double, "d"),
                             (ctypes.c_float, "d"), (ctypes.c_bool, "b"), (ctypes.c_char, "y"),
                             (ctypes.c_byte, "n"), (ctypes.c_ubyte, "y"), (ctypes.c_short, "n"),
                             (ctypes.c_ushort, "q"), (ctypes.c_longlong, "x"), (ctypes.c_ulonglong, "t"),
                             (ctypes.c_long, "x"), (ctypes.c_ulong, "t")):
            with self.subTest(ctype=ctype.__name__):
                self.assertEqual(Mp.Value(ctype).get_type_string(), gtype)
        self.assertEqual(Mp.Value(ctypes.c_int, 42).value, 42)

    def test_bad_typecodes(self):
        for bad in ("x", "u", "ii", "", None, 3, int, ctypes.c_wchar, ctypes.c_char_p, ctypes.c_void_p,
                    ctypes.c_int * 2):
            with self.subTest(bad=bad):
                with self.assertRaises(TypeError):
                    Mp.Value(bad)
                with self.assertRaises(TypeError):
                    Mp.Array(bad, 3)

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            Mp.Value("i", 1, 2)
        with self.assertRaises(TypeError):
            Mp.Value("i", 1.5)
        with self.assertRaises(OverflowError):
            Mp.Value("B", 256)
        with self.assertRaises(TypeError):
            Mp.Value("i", lock=Mp.RLock())

    def test_lock(self):
        v = Mp.Value("i", 5)
        lock = v.get_lock()
        self.assertIsInstance(lock, Mp.RLock)
        with v.get_lock():
            v.value += 1
            self.assertTrue(lock.is_owned())
        self.assertEqual(v.value, 6)
        self.assertIs(v.get_obj(), v)
        unlocked = Mp.Value("i", 5, lock=False)
        with self.assertRaises(AttributeError):
            unlocked.get_lock()
        unlocked.value = 7
        self.assertEqual(unlocked.value, 7)

    def test_add(self):
        v = Mp.Value("i", 5)
        self.assertEqual(v.add(3), 8)
        self.assertEqual(v.add(-10), -2)
        self.assertEqual(v.value, -2)
        d = Mp.Value("d", 0.5)
        self.assertEqual(d.add(0.25), 0.75)
        with self.assertRaises(TypeError):
            v.add(0.5)
        with self.assertRaises(TypeError):
            v.add("1")
        self.assertIOError(Gio.IOErrorEnum.INVALID_ARGUMENT, Mp.Value("?").add, 1)


class ArrayTests(SyncTestCase):
    def test_indexing(self):
        a = Mp.Array("i", [1, 2, 3, 4, 5])
        self.assertEqual(len(a), 5)
        self.assertEqual(a.get_element_type(), "i")
        self.assertEqual(a[0], 1)
        self.assertEqual(a[4], 5)
        self.assertEqual(a[-1], 5)
        self.assertEqual(a[-5], 1)
        self.assertEqual(list(a), [1, 2, 3, 4, 5])
        self.assertEqual(a[:], [1, 2, 3, 4, 5])
        self.assertEqual(a[1:3], [2, 3])
        self.assertEqual(a[3:1], [])
        self.assertEqual(a[-2:], [4, 5])
        self.assertEqual(a[::2], [1, 3, 5])
        self.assertEqual(a[::-1], [5, 4, 3, 2, 1])
        self.assertEqual(a[1:100], [2, 3, 4, 5])
        self.assertEqual(a[4:0:-2], [5, 3])
        self.assertEqual(a[-1:-4:-1], [5, 4, 3])
        self.assertEqual(a[1::3], [2, 5])
        self.assertEqual(a[10:], [])
        for bad in (5, -6, 100):
            with self.assertRaises(IndexError) as cm:
                a[bad]
            self.assertEqual(str(cm.exception), "invalid index")
            with self.assertRaises(IndexError):
                a[bad] = 0
        for bad in ("0", 1.0, None):
            with self.assertRaises(TypeError):
                a[bad]

    def test_assignment(self):
        a = Mp.Array("i", 6)
        self.assertEqual(a[:], [0] * 6)
        a[0] = 10
        a[-1] = -10
        self.assertEqual(a[:], [10, 0, 0, 0, 0, -10])
        a[1:4] = [1, 2, 3]
        self.assertEqual(a[:], [10, 1, 2, 3, 0, -10])
        a[::2] = (7, 8, 9)
        self.assertEqual(a[:], [7, 1, 8, 3, 9, -10])
        a[2:2] = []
        self.assertEqual(a[:], [7, 1, 8, 3, 9, -10])
        with self.assertRaises(ValueError) as cm:
            a[0:2] = [1]
        self.assertEqual(str(cm.exception), "Can only assign sequence of same size")
        with self.assertRaises(ValueError):
            a[::2] = [1, 2]
        for bad in ("x", 1.5, None):
            with self.assertRaises(TypeError):
                a[0] = bad
        with self.assertRaises(TypeError):
            a[0:2] = [1, "x"]
        with self.assertRaises(OverflowError):
            a[0] = 2 ** 31
        # The refused assignments changed nothing.
        self.assertEqual(a[:], [7, 1, 8, 3, 9, -10])
        with self.assertRaises(TypeError):
            del a[0]

    def test_typecodes(self):
        c = Mp.Array("c", b"hello")
        self.assertEqual(len(c), 5)
        self.assertEqual(c[0], b"h")
        self.assertEqual(c[:], b"hello")
        self.assertEqual(c[1:3], b"el")
        self.assertEqual(c[::-1], b"olleh")
        self.assertEqual(c[::2], b"hlo")
        self.assertEqual(c[3:3], b"")
        c[0] = b"H"
        c[1:3] = b"EL"
        self.assertEqual(c[:], b"HELlo")
        with self.assertRaises(TypeError):
            c[0] = 72
        d = Mp.Array(ctypes.c_double, range(3))
        self.assertEqual(d.get_element_type(), "d")
        self.assertEqual(d[:], [0.0, 1.0, 2.0])
        flags = Mp.Array("?", [True, False, 1])
        self.assertEqual(flags[:], [True, False, True])
        self.assertEqual(Mp.Array("B", 3)[:], [0, 0, 0])
        self.assertEqual(len(Mp.Array("i", 0)), 0)
        self.assertEqual(Mp.Array("i", [])[:], [])

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            Mp.Array("i", -1)
        with self.assertRaises(TypeError):
            Mp.Array("i", [1, "2"])
        with self.assertRaises(OverflowError):
            Mp.Array("b", [1, 128])
        with self.assertRaises(TypeError):
            Mp.Array("i", 3, lock=Mp.Lock())
        with self.assertRaises(TypeError):
            Mp.Array("i", None)
        with self.assertRaises(TypeError):
            Mp.Array("i", 2.0)
        with self.assertRaises(TypeError):
            Mp.Array("d", [1.0, "2"])
        with self.assertRaises(TypeError):
            Mp.Array("c", [b"a", b"bc"])
        with self.assertRaises(TypeError):
            Mp.Array("c", "text")
        with self.assertRaises(OverflowError):
            Mp.Array("Q", [0, -1])
        self.assertEqual(Mp.Array("Q", [2 ** 64 - 1])[:], [2 ** 64 - 1])
        self.assertEqual(Mp.Array("c", [b"a", b"b"])[:], b"ab")

    def test_lock(self):
        a = Mp.Array("i", 3)
        self.assertIsInstance(a.get_lock(), Mp.RLock)
        self.assertIs(a.get_obj(), a)
        with a.get_lock():
            a[0] += 1
        self.assertEqual(a[0], 1)
        with self.assertRaises(AttributeError):
            Mp.Array("i", 3, lock=False).get_lock()


class SharedMemoryTests(SyncTestCase):
    def test_anonymous(self):
        shm = Mp.SharedMemory(create=True, size=100)
        self.assertIsNone(shm.name)
        self.assertGreaterEqual(shm.size, 100)
        buf = shm.buf
        self.assertIsInstance(buf, memoryview)
        self.assertFalse(buf.readonly)
        self.assertEqual(bytes(buf[:100]), bytes(100))
        buf[10:15] = b"hello"
        self.assertEqual(shm.read(10, 5).get_data(), b"hello")
        shm.write(0, GLib.Bytes.new(b"abc"))
        self.assertEqual(bytes(shm.buf[:3]), b"abc")
        # A view taken from buf keeps the memory after close().
        view = shm.buf[10:15]
        shm.close()
        self.assertIsNone(shm.buf)
        self.assertEqual(shm.size, 0)
        self.assertEqual(bytes(view), b"hello")
        shm.close()   # twice is harmless

    def test_named(self):
        name = shm_name()
        shm = Mp.SharedMemory(name, create=True, size=64)
        self.addCleanup(self._unlink, shm)
        self.assertEqual(shm.name, name)
        shm.buf[:5] = b"named"
        other = Mp.SharedMemory(name)
        self.assertEqual(bytes(other.buf[:5]), b"named")
        other.buf[5:6] = b"!"
        self.assertEqual(bytes(shm.buf[:6]), b"named!")
        # Taken: FileExistsError.
        with self.assertRaises(FileExistsError) as cm:
            Mp.SharedMemory(name, create=True, size=64)
        self.assertEqual(cm.exception.errno, errno.EEXIST)
        self.assertTrue(cm.exception.__cause__.matches(IO_ERROR, Gio.IOErrorEnum.EXISTS))
        shm.unlink()
        # Unlinked: FileNotFoundError, and the GLib.Error underneath.
        with self.assertRaises(FileNotFoundError) as cm:
            Mp.SharedMemory(name)
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        self.assertTrue(cm.exception.__cause__.matches(IO_ERROR, Gio.IOErrorEnum.NOT_FOUND))
        self.assertIOError(Gio.IOErrorEnum.NOT_FOUND, Mp.SharedMemory.open, name)
        with self.assertRaises(FileNotFoundError):
            shm.unlink()
        # Those that have it keep it.
        self.assertEqual(bytes(other.buf[:6]), b"named!")
        # The name is free again.
        again = Mp.SharedMemory(name, create=True, size=8)
        self.assertEqual(bytes(again.buf[:8]), bytes(8))
        again.unlink()

    @staticmethod
    def _unlink(shm):
        try:
            Mp.SharedMemory.__bases__[0].unlink(shm)
        except GLib.Error:
            pass

    def test_never_created(self):
        with self.assertRaises(FileNotFoundError):
            Mp.SharedMemory(shm_name())

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            Mp.SharedMemory()
        with self.assertRaises(ValueError):
            Mp.SharedMemory(create=True)
        with self.assertRaises(ValueError):
            Mp.SharedMemory(create=True, size=-1)
        with self.assertRaises(ValueError):
            Mp.SharedMemory(shm_name(), create=True, size=0)

    def test_reference_round_trip(self):
        # What a child gets: the same memory.
        shm = Mp.SharedMemory(create=True, size=16)
        shm.buf[:4] = b"same"
        copy = Mp.from_variant(Mp.to_variant(shm))
        self.assertIsInstance(copy, Mp.SharedMemory)
        self.assertEqual(bytes(copy.buf[:4]), b"same")
        copy.buf[4:8] = b"mem!"
        self.assertEqual(bytes(shm.buf[:8]), b"samemem!")


class ReferenceTests(SyncTestCase):
    def test_round_trip(self):
        # Each object's reference comes back as the same kind of object,
        # sharing its state (the references are held while they are used).
        lock, rlock, sem, cond = Mp.Lock(), Mp.RLock(), Mp.BoundedSemaphore(2), Mp.Condition(Mp.Lock())
        event, barrier, value, array = Mp.Event(), Mp.Barrier(4), Mp.Value("q", -3), Mp.Array("H", [1, 2])
        objects = (lock, rlock, sem, cond, event, barrier, value, array)
        copies = Mp.from_variant(Mp.to_variant(objects))
        self.assertEqual([type(c) for c in copies], [type(o) for o in objects])
        lock.acquire()
        self.assertTrue(copies[0].locked())
        copies[0].release()
        self.assertFalse(lock.locked())
        self.assertTrue(copies[2].is_bounded())
        event.set()
        self.assertTrue(copies[4].is_set())
        self.assertEqual(copies[5].parties, 4)
        copies[6].value = 9
        self.assertEqual(value.value, 9)
        copies[7][1] = 7
        self.assertEqual(array[:], [1, 7])
        # A list of them, and inside a dict.
        many = Mp.from_variant(Mp.to_variant({"locks": [lock, lock], "value": value}))
        self.assertEqual([type(x) for x in many["locks"]], [Mp.Lock, Mp.Lock])
        self.assertEqual(many["value"].value, 9)


class ExitTests(SyncTestCase):
    # A program that leaves children unjoined: Python's exit joins them (a
    # daemonic one is terminated) and the program exits cleanly. The
    # library's own C atexit handler runs after the interpreter is gone,
    # where dropping a Python Process subclass crashed it.
    SCRIPT = """
import sys
import gi
gi.require_version("Mp", "1")
from gi.repository import GObject, Mp

class Worker(Mp.Process):
    __gtype_name__ = "TestSyncExitWorker"
    value = GObject.Property(type=Mp.Value)

    def do_run(self):
        self.value.add(1)

@Mp.task
def forever(ready):
    ready.set()
    Mp.Event().wait()

Mp.init()
value = Mp.Value("i", 0)
ready = Mp.Event()
Worker(value=value).start()
Mp.Process(target=forever, args=(ready,), daemon=True).start()
assert ready.wait(60)
print("leaving")
"""

    def test_unjoined_children_at_exit(self):
        import subprocess
        import sys
        for method in ("fork", "spawn", "forkserver"):
            with self.subTest(method=method):
                env = dict(os.environ, MP_START_METHOD=method)
                done = subprocess.run([sys.executable, "-c", self.SCRIPT], env=env, capture_output=True,
                                      text=True, timeout=TIMEOUT)
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertEqual(done.stdout, "leaving\n")


# ---- across processes, in each start method ------------------------------------------


class StartMethodTests:
    """Mixed into one TestCase per start method."""

    method = None

    def start(self, target, args=()):
        p = Mp.Process(target=target, args=args, start_method=self.method)
        p.start()
        self.addCleanup(self.stop, p)
        return p

    @staticmethod
    def stop(p):
        """After a failed test, a child may still wait: the runtime would
        join it at exit, forever."""
        if p.get_state() == Mp.ProcessState.STARTED:
            p.kill()
            p.join(TIMEOUT)

    def join_ok(self, p):
        self.assertTrue(p.join(TIMEOUT), "the child did not end (a bug)")
        # Raises the child's error, with its traceback, if it had one.
        self.assertTrue(p.check_error())
        self.assertEqual(p.exitcode, 0)

    def test_counter_under_lock(self):
        lock = Mp.Lock()
        v = Mp.Value("i", 0)
        children = [self.start(count_under_lock, (lock, v, N_INCREMENTS)) for _ in range(N_COUNTERS)]
        for p in children:
            self.join_ok(p)
        self.assertEqual(v.value, N_COUNTERS * N_INCREMENTS)
        self.assertFalse(lock.locked())

    def test_counter_under_value_lock(self):
        v = Mp.Value("i", 0)
        children = [self.start(count_under_own_lock, (v, N_INCREMENTS)) for _ in range(N_COUNTERS)]
        for p in children:
            self.join_ok(p)
        self.assertEqual(v.value, N_COUNTERS * N_INCREMENTS)

    def test_atomic_add(self):
        v = Mp.Value("q", 0, lock=False)
        children = [self.start(add_atomically, (v, 1000)) for _ in range(4)]
        for p in children:
            self.join_ok(p)
        self.assertEqual(v.value, 4000)

    def _kill_holder(self, lock):
        ready = Mp.Event()
        p = self.start(hold_forever, (lock, ready))
        self.assertTrue(ready.wait(TIMEOUT), "the child never took the lock")
        self.assertFalse(lock.acquire(timeout=0.1), "the child's lock was taken")
        p.kill()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, -signal.SIGKILL)

    def test_holder_killed(self):
        lock = Mp.Lock()
        self._kill_holder(lock)
        self.assertTrue(lock.locked())
        with self.assertRaises(Mp.OwnerDiedError) as cm:
            lock.acquire(timeout=TIMEOUT)
        self.assertIsInstance(cm.exception, RuntimeError)
        self.assertTrue(cm.exception.error.matches(GLib.quark_from_string(MP_ERROR_DOMAIN), Mp.Error.OWNER_DIED))
        # The lock is held, by this process now.
        self.assertTrue(lock.locked())
        self.assertFalse(lock.acquire(block=False))
        lock.release()
        self.assertFalse(lock.locked())
        self.assertTrue(lock.acquire(block=False))
        lock.release()

    def test_holder_killed_while_waited_for(self):
        # A thread here already waits when the holder dies: it gets the lock.
        lock = Mp.Lock()
        ready = Mp.Event()
        p = self.start(hold_forever, (lock, ready))
        self.assertTrue(ready.wait(TIMEOUT), "the child never took the lock")
        outcome = []

        def wait():
            try:
                outcome.append(lock.acquire(timeout=TIMEOUT))
            except Mp.OwnerDiedError as e:
                outcome.append(e)

        t = threading.Thread(target=wait)
        t.start()
        p.kill()
        t.join(TIMEOUT + SLACK)
        self.assertEqual(len(outcome), 1)
        self.assertIsInstance(outcome[0], Mp.OwnerDiedError)
        self.assertTrue(lock.locked())
        lock.release()

    def test_holder_killed_with(self):
        lock = Mp.Lock()
        self._kill_holder(lock)
        entered = False
        with self.assertWarns(RuntimeWarning):
            with lock:
                entered = True
                self.assertTrue(lock.locked())
        self.assertTrue(entered)
        self.assertFalse(lock.locked())

    def test_rlock_holder_killed(self):
        rlock = Mp.RLock()
        self._kill_holder(rlock)
        with self.assertRaises(Mp.OwnerDiedError):
            rlock.acquire(timeout=TIMEOUT)
        self.assertTrue(rlock.is_owned())
        self.assertEqual(rlock.get_count(), 1)
        rlock.release()
        self.assertFalse(rlock.is_owned())
        self.assertTrue(rlock.acquire(block=False))
        rlock.release()

    def test_timed_acquire_held_elsewhere(self):
        for lock in (Mp.Lock(), Mp.RLock()):
            with self.subTest(lock=type(lock).__name__):
                ready, go = Mp.Event(), Mp.Event()
                p = self.start(hold_until, (lock, ready, go))
                self.assertTrue(ready.wait(TIMEOUT))
                self.assertTakes(SHORT, lambda: lock.acquire(timeout=SHORT))
                self.assertFalse(lock.acquire(block=False))
                go.set()
                # The child's release wakes this wait.
                self.assertTrue(lock.acquire(timeout=TIMEOUT))
                lock.release()
                self.join_ok(p)

    def test_lock_released_by_child(self):
        lock = Mp.Lock()
        lock.acquire()
        self.join_ok(self.start(release_for_parent, (lock,)))
        self.assertFalse(lock.locked())
        # Released once more: the child would have failed, here a ValueError.
        with self.assertRaises(ValueError):
            lock.release()

    def test_rlock_across_processes(self):
        rlock = Mp.RLock()
        rlock.acquire()
        rlock.acquire()
        self.join_ok(self.start(release_rlock_not_owned, (rlock,)))
        self.join_ok(self.start(try_lock, (rlock, False)))
        self.assertEqual(rlock.get_count(), 2)
        rlock.release()
        self.join_ok(self.start(try_lock, (rlock, False)))
        rlock.release()
        self.join_ok(self.start(try_lock, (rlock, True)))
        self.assertFalse(rlock.is_owned())

    def test_semaphore_across_processes(self):
        sem = Mp.Semaphore(0)
        p = self.start(release_semaphore, (sem, 3))
        for _ in range(3):
            self.assertTrue(sem.acquire(timeout=TIMEOUT))
        self.join_ok(p)
        self.assertEqual(sem.get_value(), 0)
        self.assertTakes(SHORT, lambda: sem.acquire(timeout=SHORT))

        bounded = Mp.BoundedSemaphore(2)
        self.assertTrue(bounded.acquire(block=False))
        self.join_ok(self.start(release_semaphore, (bounded, 1)))
        self.assertEqual(bounded.get_value(), 2)
        self.join_ok(self.start(over_release, (bounded,)))
        self.assertEqual(bounded.get_value(), 2)

    def test_semaphore_limits_holders(self):
        sem = Mp.Semaphore(2)
        inside = Mp.Value("i", 0)
        peak = Mp.Value("i", 0, lock=False)
        children = [self.start(use_semaphore, (sem, inside, peak)) for _ in range(5)]
        for p in children:
            self.join_ok(p)
        self.assertIn(peak.value, (1, 2))
        self.assertEqual(inside.value, 0)
        self.assertEqual(sem.get_value(), 2)

    def test_condition_notify_n(self):
        for lock in (None, Mp.Lock()):
            with self.subTest(lock=type(lock).__name__):
                self._notify_n(Mp.Condition(lock))

    def _notify_n(self, cond):
        ready, done = Mp.Semaphore(0), Mp.Semaphore(0)
        woken = Mp.Value("i", 0)
        children = [self.start(condition_waiter, (cond, ready, woken, done)) for _ in range(K_WAITERS)]
        for _ in range(K_WAITERS):
            self.assertTrue(ready.acquire(timeout=TIMEOUT), "a child never got ready")
        # Each released ready holding the lock: once this process holds it,
        # they all are inside wait().
        with cond:
            cond.notify(N_NOTIFIED)
        for _ in range(N_NOTIFIED):
            self.assertTrue(done.acquire(timeout=TIMEOUT), "fewer woke than notified")
        # Nobody else woke.
        self.assertTakes(SHORT, lambda: done.acquire(timeout=SHORT))
        self.assertEqual(woken.value, N_NOTIFIED)
        with cond:
            cond.notify_all()
        for _ in range(K_WAITERS - N_NOTIFIED):
            self.assertTrue(done.acquire(timeout=TIMEOUT), "notify_all did not wake them all")
        for p in children:
            self.join_ok(p)
        self.assertEqual(woken.value, K_WAITERS)

    def test_condition_dead_waiter(self):
        # A waiter killed inside wait() takes no notification with it.
        cond = Mp.Condition()
        ready, done = Mp.Semaphore(0), Mp.Semaphore(0)
        children = [self.start(condition_waiter_quiet, (cond, ready, done)) for _ in range(2)]
        for _ in range(2):
            self.assertTrue(ready.acquire(timeout=TIMEOUT), "a child never got ready")
        with cond:   # both are inside wait() now
            pass
        children[0].kill()
        self.assertTrue(children[0].join(TIMEOUT))
        with cond:
            cond.notify(1)
        self.assertTrue(done.acquire(timeout=TIMEOUT), "the live waiter was not woken")
        self.join_ok(children[1])

    def test_condition_ping_pong(self):
        # Each side notifies and at once waits again: Python's Condition
        # wakes only waiters that were waiting when notify() ran, so the
        # notifier never takes its own notification (libmp's did, and both
        # sides slept).
        cond = Mp.Condition()
        turn = Mp.Value("i", 0, lock=False)
        p = self.start(ping_pong, (cond, turn, 1, 0, N_ROUND_TRIPS))
        ping_pong(cond, turn, 0, 1, N_ROUND_TRIPS)
        self.join_ok(p)
        self.assertEqual(turn.value, 0)

    def test_atomic_add_double(self):
        v = Mp.Value("d", 0.0, lock=False)
        children = [self.start(add_halves, (v, 1000)) for _ in range(4)]
        for p in children:
            self.join_ok(p)
        self.assertEqual(v.value, 2000.0)

    def test_condition_wait_for(self):
        cond = Mp.Condition()
        value = Mp.Value("i", 0)
        ready = Mp.Semaphore(0)
        p = self.start(condition_setter, (cond, value, ready))
        seen = []

        def predicate():
            seen.append(value.value)
            return value.value == 3

        with cond:
            ready.release()   # the child can only notify once this waits
            self.assertIs(cond.wait_for(predicate, TIMEOUT), True)
            self.assertTrue(cond.lock.is_owned())
        self.assertEqual(seen[0], 0)
        self.assertEqual(seen[-1], 3)
        self.join_ok(p)

    def test_event_set_by_child(self):
        event, go = Mp.Event(), Mp.Event()
        p = self.start(set_event_after, (event, go))
        self.assertIs(event.wait(0), False)
        self.assertTakes(SHORT, lambda: event.wait(SHORT))
        go.set()
        self.assertIs(event.wait(TIMEOUT), True)
        self.assertTrue(event.is_set())
        self.join_ok(p)
        event.clear()
        self.assertIs(event.wait(0), False)

    def test_barrier_1000_passes(self):
        actions = Mp.Value("i", 0)
        barrier = Mp.Barrier(N_PARTIES, action=barrier_action)
        indices = Mp.Queue()
        children = [self.start(pass_barrier, (barrier, actions, indices, n)) for n in range(N_PARTIES)]
        got = dict(indices.get(timeout=TIMEOUT) for _ in range(N_PARTIES))
        for p in children:
            self.join_ok(p)
        self.assertEqual(sorted(got), list(range(N_PARTIES)))
        for p in range(N_PASSES):
            pass_indices = sorted(got[party][p] for party in range(N_PARTIES))
            self.assertEqual(pass_indices, list(range(N_PARTIES)), f"pass {p}")
        self.assertEqual(actions.value, N_PASSES)
        self.assertFalse(barrier.broken)
        self.assertEqual(barrier.n_waiting, 0)

    def _break_waiting(self, breaker):
        barrier = Mp.Barrier(2)
        p = self.start(wait_broken_barrier, (barrier,))
        self.wait_until(lambda: barrier.n_waiting == 1, "the child to wait at the barrier")
        breaker(barrier)
        self.join_ok(p)
        return barrier

    def test_barrier_abort(self):
        barrier = self._break_waiting(Mp.Barrier.abort)
        self.assertTrue(barrier.broken)
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait(TIMEOUT)

    def test_barrier_reset(self):
        barrier = self._break_waiting(Mp.Barrier.reset)
        self.assertFalse(barrier.broken)

    def test_barrier_timeout(self):
        # This wait times out and breaks it for the child.
        def time_out(barrier):
            with self.assertRaises(threading.BrokenBarrierError):
                barrier.wait(0.1)

        barrier = Mp.Barrier(3)
        p = self.start(wait_broken_barrier, (barrier,))
        self.wait_until(lambda: barrier.n_waiting == 1, "the child to wait at the barrier")
        time_out(barrier)
        self.join_ok(p)
        self.assertTrue(barrier.broken)

    def test_objects_as_args(self):
        lock, rlock, sem, bsem = Mp.Lock(), Mp.RLock(), Mp.Semaphore(3), Mp.BoundedSemaphore(2)
        cond, event, barrier = Mp.Condition(Mp.Lock()), Mp.Event(), Mp.Barrier(5)
        value, array, queue = Mp.Value("d", 1.25), Mp.Array("i", [10, -20, 30]), Mp.Queue()
        lock.acquire()
        rlock.acquire()
        event.set()
        p = self.start(check_types, (lock, rlock, sem, bsem, cond, event, barrier, value, array, queue))
        self.assertEqual(queue.get(timeout=TIMEOUT), "checked")
        self.join_ok(p)
        self.assertFalse(lock.locked())
        self.assertEqual(value.value, -2.5)
        self.assertEqual(array[:], [10, 99, 30])

    def test_temporary_args(self):
        # Objects made in the call: the Process keeps them until it starts.
        value = Mp.Value("i", 0)
        p = Mp.Process(target=count_under_lock, args=(Mp.Lock(), value, 5), start_method=self.method)
        import gc
        gc.collect()
        p.start()
        self.addCleanup(self.stop, p)
        self.join_ok(p)
        self.assertEqual(value.value, 5)

    def test_array_across(self):
        a = Mp.Array("q", 10)
        self.join_ok(self.start(fill_array, (a,)))
        self.assertEqual(a[:], [0, 100, 200, 9, 16, 25, 36, 49, 64, -1])

    def test_shared_memory_anonymous(self):
        shm = Mp.SharedMemory(create=True, size=4096)
        shm.buf[:5] = b"hello"
        self.join_ok(self.start(use_shared_memory, (shm, b"hello", 1000, b"world")))
        self.assertEqual(bytes(shm.buf[1000:1005]), b"world")
        self.assertEqual(bytes(shm.buf[:5]), b"hello")

    def test_shared_memory_named(self):
        name = shm_name()
        shm = Mp.SharedMemory(name, create=True, size=4096)
        self.addCleanup(SharedMemoryTests._unlink, shm)
        shm.buf[:6] = b"by way"
        self.join_ok(self.start(use_shared_memory_by_name, (name, 4096, b"by way", 2000, b"of a name")))
        self.assertEqual(bytes(shm.buf[2000:2009]), b"of a name")
        # The named block passed as an object, too.
        self.join_ok(self.start(use_shared_memory, (shm, b"by way", 3000, b"object")))
        self.assertEqual(bytes(shm.buf[3000:3006]), b"object")
        shm.unlink()
        with self.assertRaises(FileNotFoundError):
            Mp.SharedMemory(name)

    def test_pool_args(self):
        v = Mp.Value("i", 0)
        with Mp.Pool(2, start_method=self.method) as pool:
            pids = pool.starmap(add_to_value, [(v, n) for n in range(1, 11)])
        self.assertEqual(v.value, sum(range(1, 11)))
        self.assertNotIn(os.getpid(), pids)


    def test_pool_temporary_objects(self):
        # Objects made in the call and dropped at once: the pool keeps them
        # until their call is done (their descriptors would be reused by
        # the decoys, and the worker would read those).
        import gc
        with Mp.Pool(2, start_method=self.method) as pool:
            r = pool.apply_async(get_value, (Mp.Value("i", 42),))
            gc.collect()
            decoys = [Mp.Value("i", -1) for _ in range(10)]
            self.assertEqual(r.get(TIMEOUT), 42)
            self.assertEqual(pool.map(get_value, [Mp.Value("i", i) for i in range(4)]), [0, 1, 2, 3])
            it = pool.imap(get_value, (Mp.Value("i", i) for i in range(4)))
            gc.collect()
            decoys += [Mp.Value("i", -1) for _ in range(10)]
            self.assertEqual([it.next(TIMEOUT) for _ in range(4)], [0, 1, 2, 3])
            # Made in the worker, dropped there once returned.
            value, lock = pool.apply(make_value_and_lock, (5,))
            self.assertIsInstance(value, Mp.Value)
            self.assertEqual(value.value, 5)
            self.assertIsInstance(lock, Mp.Lock)
            self.assertTrue(lock.locked())
            lock.release()
        self.assertEqual(len(decoys), 20)


class ForkTests(StartMethodTests, SyncTestCase):
    method = Mp.StartMethod.FORK


class SpawnTests(StartMethodTests, SyncTestCase):
    method = Mp.StartMethod.SPAWN


class ForkserverTests(StartMethodTests, SyncTestCase):
    method = Mp.StartMethod.FORKSERVER


if __name__ == "__main__":
    unittest.main(verbosity=2)
