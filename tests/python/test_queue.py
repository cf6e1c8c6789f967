# test_queue.py: MpQueue from Python, in one process and in each start method
#
# Mirrors tests/c/test-queue.c through the Python override (Mp.Queue(maxsize)
# with Python values, queue.Full / queue.Empty). Everything a child needs
# (tasks, the Process subclass) is defined before Mp.init(), which sits at
# module level: a spawn child runs this very script again and Mp.init()
# turns it into the worker; a forkserver child is a copy of the program as
# it was inside Mp.init(). No test waits with sleep: every get that could
# block forever on a bug has a TIMEOUT (queue.Empty then fails the test),
# and a main loop runs under a TIMEOUT guard; only a bug reaches either.
#
# A child reports what it found wrong by raising: the override turns the
# exception into an error with its traceback, which join_ok() raises in the
# parent through check_error().
#
# The raw GI methods are used where the override has no equivalent: the
# *_async/*_finish pairs, and RawQueue.get() for the GLib.Variant as it
# came. The large payload is put as a ready "ay" GLib.Variant: the
# override's put(bytes) builds one element by element (about 20 s for
# 8 MiB), see bytes_variant().
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gc
import os
import queue
import random
import signal
import unittest

import gi

gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")
gi.require_version("Gio", "2.0")
gi.require_version("Mp", "1")
from gi.repository import Gio, GLib, GObject, Mp  # noqa: E402

# Seconds a get, a join or a main loop may take before the test fails:
# generous, only a bug reaches it.
TIMEOUT = 60

# Items per producer in the many-to-many test.
N_ITEMS = 3000
N_PRODUCERS = 2
N_CONSUMERS = 2
QUIT = (-1, -1)

# The size of the large item: 8 MiB and a few bytes, so that the payload
# does not end on a page boundary.
BIG_SIZE = 8 * 1024 * 1024 + 7

# The feeder test: items just under the 64 KiB that would go in a memfd, so
# that they fill the socket (its send buffer is at most 8 MiB), and three
# times that in all.
FEED_ITEM_SIZE = 60 * 1024
FEED_ITEMS = 400

IO_ERROR = Gio.io_error_quark()
MP_ERROR_DOMAIN = "mp-error-quark"

# The introspected class under the override: its get() returns the
# GLib.Variant as it came.
RawQueue = Mp.Queue.__bases__[0]


def pattern(size, seed):
    """Deterministic bytes, made the same way on both sides, so that the
    parent checks what the child sent without sharing a copy."""
    return random.Random(seed).randbytes(size)


def bytes_variant(data):
    """An "ay" GLib.Variant over data, made in one go (the override's
    put(bytes) makes it element by element)."""
    return GLib.Variant.new_from_bytes(GLib.VariantType.new("ay"), GLib.Bytes.new(data), True)


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def expect(condition, message):
    """In a child: fail the task (its traceback goes back to the parent)."""
    if not condition:
        raise AssertionError(message)


# ---- tasks (registered before Mp.init) --------------------------------------


@Mp.task
def produce(q, producer, n):
    """Puts (producer, seq) for seq in 0..n-1 and returns: what is still in
    the feeder must go out before the child ends."""
    expect(isinstance(q, Mp.Queue), f"the queue arrived as {type(q).__name__}")
    for seq in range(n):
        q.put((producer, seq))


@Mp.task
def produce_and_leave(q, told, n, seed):
    """Puts n items (seq, payload), far more than the socket holds, says so
    through told and returns: the rest is still in its feeder, which the
    exit waits for. Nobody takes anything meanwhile: no put may block."""
    payload = bytes_variant(pattern(FEED_ITEM_SIZE, seed))
    for seq in range(n):
        q.put_nowait(GLib.Variant.new_tuple(GLib.Variant("i", seq), payload))
    told.put("all put")


@Mp.task
def consume(q, results, consumer):
    """Gets until the quit marker and forwards what it got, in the order it
    got it, to results as (consumer, producer, seq); the marker too."""
    while True:
        producer, seq = q.get(timeout=TIMEOUT)
        results.put((consumer, producer, seq))
        if producer < 0:
            return


@Mp.task
def idle_consumer(q, ready):
    """Says it is ready, then waits for an item that never comes."""
    ready.put(True)
    q.get()
    raise AssertionError("an item came to the idle consumer")


@Mp.task
def worker_done(q, n):
    """Takes n items and marks each done (JoinableQueue)."""
    for _ in range(n):
        q.get(timeout=TIMEOUT)
        q.task_done()


@Mp.task
def queue_from_pipe(conn):
    """Receives a queue through conn, takes the item waiting in it, says
    which through conn, and puts an answer in the queue."""
    expect(conn.poll(TIMEOUT), "nothing from the parent")
    q = conn.recv()
    expect(isinstance(q, Mp.Queue), f"the queue arrived as {type(q).__name__}: {q!r}")
    expect(q.maxsize == 5, f"maxsize {q.maxsize}")
    conn.send(q.get(timeout=TIMEOUT))
    q.put("through the pipe")


@Mp.task
def send_big(q, size, seed):
    q.put(bytes_variant(pattern(size, seed)))


# ---- a subclass holding queues ----------------------------------------------------


class QueueWorker(Mp.Process):
    """Its queues travel as GObject properties: run() takes strings from
    inbox until "quit" and puts them upper-cased in outbox."""

    __gtype_name__ = "TestPyQueueWorker"

    inbox = GObject.Property(type=Mp.Queue)
    outbox = GObject.Property(type=Mp.Queue)

    def do_run(self):
        for q in (self.inbox, self.outbox):
            expect(isinstance(q, Mp.Queue), f"the property holds {q!r}")
        expect(self.inbox.maxsize == 4, f"inbox maxsize {self.inbox.maxsize}")
        while True:
            item = self.inbox.get(timeout=TIMEOUT)
            if item == "quit":
                return
            self.outbox.put(item.upper())


Mp.init()


# ---- helpers ---------------------------------------------------------------------


def count_fds():
    return len(os.listdir("/proc/self/fd"))


def list_fds():
    lines = []
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            lines.append(f"fd {fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            pass
    return "\n".join(lines)


class QueueTestCase(unittest.TestCase):
    def assertGError(self, domain, code, func, *args, **kwargs):
        """func(*args, **kwargs) raises a GLib.Error in domain with code."""
        with self.assertRaises(GLib.Error) as cm:
            func(*args, **kwargs)
        error = cm.exception
        self.assertEqual((error.domain, error.code), (domain, int(code)), error.message)
        return error

    def assertIOError(self, code, func, *args, **kwargs):
        return self.assertGError(GLib.quark_to_string(IO_ERROR), code, func, *args, **kwargs)

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

    @staticmethod
    def drain_main_context():
        context = GLib.MainContext.default()
        while context.pending():
            context.iteration(False)


# ---- in one process ----------------------------------------------------------------


class QueueTests(QueueTestCase):
    def test_fifo(self):
        q = Mp.Queue()
        self.assertIsInstance(q, Mp.Queue)
        self.assertEqual(q.maxsize, 0)
        values = ["text", 42, -1.5, True, None, b"raw\0bytes", b"", [1, 2, 3], (1, "two", False),
                  {"k": "v", "n": 3}]
        for value in values:
            q.put(value)
        self.assertEqual(q.qsize(), len(values))
        self.assertEqual([q.get(timeout=TIMEOUT) for _ in values], values)
        self.assertTrue(q.empty())
        # A GLib.Variant goes as it is; the raw get keeps its type.
        q.put(GLib.Variant("(ub)", (7, True)))
        v = RawQueue.get(q, True, TIMEOUT, None)
        self.assertEqual(v.get_type_string(), "(ub)")
        self.assertEqual(v.unpack(), (7, True))

    def test_aliases(self):
        self.assertIs(Mp.JoinableQueue, Mp.Queue)
        self.assertIs(Mp.SimpleQueue, Mp.Queue)
        self.assertEqual(Mp.JoinableQueue(2).maxsize, 2)

    def test_bounded_full(self):
        q = Mp.Queue(3)
        self.assertEqual(q.maxsize, 3)
        self.assertEqual(q.get_maxsize(), 3)
        self.assertTrue(q.empty())
        self.assertFalse(q.full())
        for i in range(3):
            self.assertEqual(q.qsize(), i)
            q.put(i)
        self.assertEqual(q.qsize(), 3)
        self.assertTrue(q.full())
        self.assertFalse(q.empty())

        with self.assertRaises(queue.Full):
            q.put_nowait(3)
        with self.assertRaises(queue.Full):
            q.put(3, block=False)
        with self.assertRaises(queue.Full):
            q.put(3, timeout=0.01)
        # Nothing went in.
        self.assertEqual(q.qsize(), 3)

        self.assertEqual(q.get(timeout=TIMEOUT), 0)
        self.assertEqual(q.qsize(), 2)
        self.assertFalse(q.full())
        # The place a get made is free again.
        q.put_nowait(3)
        self.assertTrue(q.full())
        self.assertEqual([q.get_nowait() for _ in range(3)], [1, 2, 3])
        self.assertTrue(q.empty())
        self.assertFalse(q.full())
        self.assertEqual(q.qsize(), 0)

    def test_empty(self):
        q = Mp.Queue()
        with self.assertRaises(queue.Empty):
            q.get_nowait()
        with self.assertRaises(queue.Empty):
            q.get(block=False)
        with self.assertRaises(queue.Empty):
            q.get(timeout=0.01)
        q.put("one")
        self.assertEqual(q.qsize(), 1)
        self.assertEqual(q.get_nowait(), "one")
        with self.assertRaises(queue.Empty):
            q.get_nowait()

    def test_gi_error_codes(self):
        # What the override turns into queue.Full / queue.Empty.
        q = Mp.Queue(1)
        self.assertIOError(Gio.IOErrorEnum.WOULD_BLOCK, RawQueue.get, q, False, 0, None)
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, RawQueue.get, q, True, 0.01, None)
        RawQueue.put(q, GLib.Variant("i", 1), True, -1, None)
        self.assertIOError(Gio.IOErrorEnum.WOULD_BLOCK, RawQueue.put, q, GLib.Variant("i", 2), False, 0, None)
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, RawQueue.put, q, GLib.Variant("i", 2), True, 0.01, None)
        self.assertEqual(q.get_nowait(), 1)

    def test_close(self):
        q = Mp.Queue()
        q.put("before")
        q.close()
        self.assertIOError(Gio.IOErrorEnum.CLOSED, q.put, "after")
        self.assertIOError(Gio.IOErrorEnum.CLOSED, q.put_nowait, "after")
        results = []
        Mp.Queue.put_async(q, GLib.Variant("s", "after"), None,
                           lambda source, result: results.append(self.assertIOError(
                               Gio.IOErrorEnum.CLOSED, source.put_finish, result)))
        self.run_until(lambda: results)
        self.assertEqual(q.qsize(), 1)
        # Getting still works.
        self.assertEqual(q.get(timeout=TIMEOUT), "before")
        self.assertTrue(q.empty())
        # join_thread() is close() too, and a second close is harmless.
        q.join_thread()
        q.cancel_join_thread()

    def test_negative_maxsize(self):
        self.assertIOError(Gio.IOErrorEnum.INVALID_ARGUMENT, Mp.Queue, -1)
        self.assertIOError(Gio.IOErrorEnum.INVALID_ARGUMENT, Mp.Queue.new, -5)

    def test_task_done_too_often(self):
        q = Mp.JoinableQueue()
        # Nothing put: join returns at once.
        self.assertTrue(q.join(0))
        self.assertGError(MP_ERROR_DOMAIN, Mp.Error.INVALID_STATE, q.task_done)
        q.put(1)
        q.put(2)
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, q.join, 0.01)
        self.assertEqual(q.get(timeout=TIMEOUT), 1)
        self.assertTrue(q.task_done())
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, q.join, 0.01)
        self.assertEqual(q.get(timeout=TIMEOUT), 2)
        self.assertTrue(q.task_done())
        self.assertTrue(q.join(0))
        self.assertTrue(q.join())
        self.assertGError(MP_ERROR_DOMAIN, Mp.Error.INVALID_STATE, q.task_done)
        # The refused call changed nothing.
        self.assertTrue(q.join(0))

    def test_put_get_async(self):
        # Mirrors test_async in tests/c/test-queue.c, with the raw GI methods.
        q = Mp.Queue(1)
        puts = []
        got = []

        def on_put(source, result, *user_data):
            self.assertIs(source, q)
            puts.append((source.put_finish(result), user_data))

        def on_get(source, result, *user_data):
            value = source.get_finish(result)
            self.assertIsInstance(value, GLib.Variant)
            got.append((value.unpack(), user_data))

        Mp.Queue.put_async(q, GLib.Variant("i", 1), None, on_put, "first")
        Mp.Queue.put_async(q, GLib.Variant("i", 2), None, on_put, "second")
        self.run_until(lambda: len(puts) >= 1)
        # The second waits for room, which a get makes.
        self.drain_main_context()
        self.assertEqual(puts, [(True, ("first",))])
        self.assertTrue(q.full())

        Mp.Queue.get_async(q, None, on_get, "user data")
        self.run_until(lambda: len(got) == 1 and len(puts) == 2)
        self.assertEqual(got, [(1, ("user data",))])
        self.assertEqual(puts[1], (True, ("second",)))

        Mp.Queue.get_async(q, None, on_get)
        self.run_until(lambda: len(got) == 2)
        self.assertEqual(got[1], (2, ()))
        self.assertTrue(q.empty())

    def test_get_async_waits_for_a_put(self):
        q = Mp.Queue()
        loop = GLib.MainLoop()
        got = []

        def on_get(source, result):
            got.append(Mp.Queue.get_finish(source, result))
            loop.quit()

        Mp.Queue.get_async(q, None, on_get)
        self.drain_main_context()
        self.assertEqual(got, [])
        q.put("late")
        self.run_loop(loop)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0].unpack(), "late")

    def test_join_async(self):
        q = Mp.JoinableQueue()
        joined = []

        def on_joined(source, result):
            joined.append(source.join_finish(result))

        q.put(1)
        q.put(2)
        Mp.Queue.join_async(q, None, on_joined)
        self.assertEqual(q.get(timeout=TIMEOUT), 1)
        self.assertEqual(q.get(timeout=TIMEOUT), 2)
        q.task_done()
        # One item is still not done: the loop runs, the join waits.
        self.drain_main_context()
        self.assertEqual(joined, [])
        q.task_done()
        self.run_until(lambda: joined)
        self.assertEqual(joined, [True])

        # With nothing unfinished it completes at once.
        joined.clear()
        Mp.Queue.join_async(q, None, on_joined)
        self.run_until(lambda: joined)
        self.assertEqual(joined, [True])

    def test_async_cancel(self):
        # Cancelling a wait on the main loop ends it with CANCELLED and
        # takes nothing: the item stays for the next get.
        q = Mp.Queue(1)
        results = {}

        def on_done(name, finish):
            def callback(source, result):
                try:
                    results[name] = finish(source, result)
                except GLib.Error as e:
                    results[name] = e

            return callback

        c_get, c_put, c_join = Gio.Cancellable(), Gio.Cancellable(), Gio.Cancellable()
        Mp.Queue.get_async(q, c_get, on_done("get", Mp.Queue.get_finish))
        q.put(1)
        # Full: this one waits.
        Mp.Queue.put_async(q, GLib.Variant("x", 2), c_put, on_done("put", Mp.Queue.put_finish))
        # One item unfinished: this one waits too.
        Mp.Queue.join_async(q, c_join, on_done("join", Mp.Queue.join_finish))
        for c in (c_get, c_put, c_join):
            c.cancel()
        self.run_until(lambda: len(results) == 3)
        for name in ("get", "put", "join"):
            with self.subTest(name=name):
                e = results[name]
                self.assertIsInstance(e, GLib.Error)
                self.assertTrue(e.matches(IO_ERROR, Gio.IOErrorEnum.CANCELLED), f"{e.domain} {e.code}: {e.message}")
        self.assertEqual(q.qsize(), 1)
        self.assertEqual(q.get_nowait(), 1)
        # The cancelled put put nothing.
        self.assertTrue(q.empty())
        with self.assertRaises(queue.Empty):
            q.get_nowait()

    def test_cancel_get_async_after_put(self):
        # The item arrives, then the get is cancelled before the loop ran:
        # CANCELLED, and the item is still there.
        q = Mp.Queue()
        loop = GLib.MainLoop()
        results = []

        def on_get(source, result):
            try:
                results.append(source.get_finish(result))
            except GLib.Error as e:
                results.append(e)
            loop.quit()

        cancellable = Gio.Cancellable()
        Mp.Queue.get_async(q, cancellable, on_get)
        q.put("kept")
        cancellable.cancel()
        self.run_loop(loop)
        self.assertEqual(len(results), 1)
        self.assertIsInstance(results[0], GLib.Error)
        self.assertTrue(results[0].matches(IO_ERROR, Gio.IOErrorEnum.CANCELLED))
        self.assertEqual(q.get_nowait(), "kept")

        # Another get_async, not cancelled, takes the next item.
        results.clear()
        q.put("next")
        Mp.Queue.get_async(q, Gio.Cancellable(), on_get)
        self.run_loop(loop)
        self.assertEqual([v.unpack() for v in results], ["next"])

    def test_cancel_blocking_get(self):
        # A cancellable that is already cancelled ends a blocking get.
        q = Mp.Queue()
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, q.get, True, None, cancellable)
        q.put(1)
        self.assertEqual(q.get_nowait(), 1)

    def test_unbounded_never_blocks(self):
        # Far more than the socket holds: the rest waits in the feeder.
        q = Mp.Queue()
        n = 50000
        for i in range(n):
            q.put_nowait(i)
        self.assertEqual(q.qsize(), n)
        self.assertFalse(q.full())
        for i in range(n):
            value = q.get(timeout=TIMEOUT)
            if value != i:
                self.fail(f"got {value} where {i} was expected")
        self.assertTrue(q.empty())
        with self.assertRaises(queue.Empty):
            q.get_nowait()

    def test_fd_count(self):
        def use_queues(n):
            for i in range(n):
                q = Mp.Queue(i % 3)
                q.put(i)
                self.assertEqual(q.get(timeout=TIMEOUT), i)
                # A copy from the reference: its descriptors are dup'd.
                copy = Mp.Queue.new_from_variant(q.to_variant())
                copy.put(i)
                self.assertEqual(q.get(timeout=TIMEOUT), i)
                # Over 64 KiB: travels in a sealed memfd.
                q.put(bytes_variant(bytes([i]) * (100 * 1024)))
                v = RawQueue.get(copy, True, TIMEOUT, None)
                self.assertEqual(v.get_size(), 100 * 1024)
                del v
                if i % 2:
                    q.close()
                    copy.close()
                del q, copy
            gc.collect()

        # Warm up anything allocated once.
        use_queues(1)
        before = count_fds()
        use_queues(50)
        after = count_fds()
        self.assertEqual(after, before, list_fds())


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
        """After a failed test, a child may still wait for an item: the
        runtime would join it at exit, forever."""
        if p.get_state() == Mp.ProcessState.STARTED:
            p.kill()
            p.join(TIMEOUT)

    def join_ok(self, p):
        self.assertTrue(p.join(TIMEOUT), "the child did not end (a bug)")
        # Raises the child's error, with its traceback, if it had one.
        self.assertTrue(p.check_error())
        self.assertEqual(p.exitcode, 0)

    def test_many_to_many(self):
        # The items got are exactly the items put, and each consumer sees
        # each producer's items in order.
        q = Mp.Queue()
        results = Mp.Queue()
        consumers = [self.start(consume, (q, results, c)) for c in range(N_CONSUMERS)]
        producers = [self.start(produce, (q, p, N_ITEMS)) for p in range(N_PRODUCERS)]
        for p in producers:
            self.join_ok(p)
        # Everything the producers put is in the queue now: the markers
        # come after it.
        for _ in range(N_CONSUMERS):
            q.put(QUIT)

        seen = set()
        last = {}
        quits = []
        while len(quits) < N_CONSUMERS:
            consumer, producer, seq = results.get(timeout=TIMEOUT)
            if producer < 0:
                quits.append(consumer)
                continue
            self.assertNotIn((producer, seq), seen, "duplicate")
            seen.add((producer, seq))
            previous = last.get((consumer, producer), -1)
            self.assertGreater(seq, previous, f"consumer {consumer} got producer {producer}'s items out of order")
            last[consumer, producer] = seq
        self.assertEqual(sorted(quits), list(range(N_CONSUMERS)))
        self.assertEqual(len(seen), N_PRODUCERS * N_ITEMS, "items lost")
        for p in consumers:
            self.join_ok(p)
        self.assertTrue(q.empty())
        self.assertTrue(results.empty())
        with self.assertRaises(queue.Empty):
            q.get_nowait()

    def test_feeder_drains_at_exit(self):
        # A producer whose task ended with items still in its feeder: its
        # exit waits for them, and they all arrive, whole and in order.
        q = Mp.Queue()
        told = Mp.Queue()
        seed = f"libmp-feeder-{self.method.value_nick}"
        p = self.start(produce_and_leave, (q, told, FEED_ITEMS, seed))
        self.assertEqual(told.get(timeout=TIMEOUT), "all put")
        # The socket holds a third of it at most: the child cannot be gone.
        self.assertTrue(p.is_alive(), "the child exited with items in its feeder")
        self.assertEqual(q.qsize(), FEED_ITEMS)
        payload = pattern(FEED_ITEM_SIZE, seed)
        for i in range(FEED_ITEMS):
            seq, got = q.get(timeout=TIMEOUT)
            self.assertEqual(seq, i)
            if got != payload:
                self.fail(f"item {i}: the bytes differ from offset {first_difference(got, payload)}")
        self.join_ok(p)
        self.assertTrue(q.empty())

    def test_idle_consumer_killed(self):
        q = Mp.Queue()
        ready = Mp.Queue()
        p = self.start(idle_consumer, (q, ready))
        self.assertIs(ready.get(timeout=TIMEOUT), True)
        p.kill()
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, -signal.SIGKILL)

        for i in range(10):
            q.put(i)
        self.assertEqual([q.get(timeout=TIMEOUT) for _ in range(10)], list(range(10)))
        self.assertTrue(q.empty())

    def test_joinable(self):
        n = 100
        q = Mp.JoinableQueue()
        for i in range(n):
            q.put(i)
        p = self.start(worker_done, (q, n))
        self.assertTrue(q.join(TIMEOUT))
        self.join_ok(p)
        self.assertTrue(q.empty())
        self.assertTrue(q.join(0))
        self.assertGError(MP_ERROR_DOMAIN, Mp.Error.INVALID_STATE, q.task_done)

    def test_subclass_property(self):
        inbox = Mp.Queue(4)
        outbox = Mp.Queue()
        p = QueueWorker(inbox=inbox, outbox=outbox, start_method=self.method)
        self.assertIs(p.inbox, inbox)
        self.assertIs(p.props.outbox, outbox)
        for word in ("alpha", "beta", "gamma", "quit"):
            inbox.put_nowait(word)
        self.assertTrue(inbox.full())
        p.start()
        # Nothing in the child waits for the parent: a failure shows at once.
        self.join_ok(p)
        self.assertEqual([outbox.get(timeout=TIMEOUT) for _ in range(3)], ["ALPHA", "BETA", "GAMMA"])
        self.assertTrue(inbox.empty())
        self.assertTrue(outbox.empty())

    def test_queue_through_pipe(self):
        a, b = Mp.pipe()
        q = Mp.Queue(5)
        q.put(41)
        p = self.start(queue_from_pipe, (b,))
        a.send(q)
        # Nothing in the child waits for the parent after this: a failure
        # shows at once.
        self.join_ok(p)
        self.assertTrue(a.poll(TIMEOUT), "nothing from the child (a bug)")
        # The child took the item that was waiting.
        self.assertEqual(a.recv(), 41)
        self.assertEqual(q.get(timeout=TIMEOUT), "through the pipe")
        self.assertTrue(q.empty())

    def test_8mib(self):
        q = Mp.Queue()
        seed = f"libmp-queue-{self.method.value_nick}"
        p = self.start(send_big, (q, BIG_SIZE, seed))
        # The item outlives the child that put it.
        self.join_ok(p)
        self.assertEqual(q.qsize(), 1)
        got = q.get(timeout=TIMEOUT)
        self.assertIsInstance(got, bytes)
        self.assertEqual(len(got), BIG_SIZE)
        expected = pattern(BIG_SIZE, seed)
        if got != expected:
            self.fail(f"the bytes differ from offset {first_difference(got, expected)}")
        self.assertTrue(q.empty())


class ForkTests(StartMethodTests, QueueTestCase):
    method = Mp.StartMethod.FORK


class SpawnTests(StartMethodTests, QueueTestCase):
    method = Mp.StartMethod.SPAWN


class ForkserverTests(StartMethodTests, QueueTestCase):
    method = Mp.StartMethod.FORKSERVER


if __name__ == "__main__":
    unittest.main(verbosity=2)
