# test_pipe.py: MpPipe from Python, in one process and in each start method
#
# Mirrors tests/c/test-pipe.c through the Python override (Mp.pipe(),
# Mp.Pipe with Python values). Everything a child needs (tasks, the Process
# subclass) is defined before Mp.init(), which sits at module level: a spawn
# child runs this very script again and Mp.init() turns it into the worker;
# a forkserver child is a copy of the program as it was inside Mp.init().
# No test waits with sleep: a receive that could block forever on a bug is
# preceded by poll(TIMEOUT), and a main loop runs under a TIMEOUT guard;
# only a bug reaches either bound.
#
# A child reports what it found wrong by raising: the override turns the
# exception into an error with its traceback, which join_ok() raises in the
# parent through check_error().
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gc
import os
import random
import signal
import sys
import time
import unittest

import gi

gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")
gi.require_version("Gio", "2.0")
gi.require_version("Mp", "1")
from gi.repository import Gio, GLib, GObject, Mp  # noqa: E402

# Seconds a join, a poll or a main loop may take before the test fails:
# generous, only a bug reaches it.
TIMEOUT = 60

# The size of the large message: 16 MiB and a few bytes, so that the
# payload does not end on a page boundary.
BIG_SIZE = 16 * 1024 * 1024 + 7

# Exit code of a child that survived its own SIGKILL (cannot happen).
NOT_KILLED = 17

IO_ERROR = Gio.io_error_quark()


def pattern(size, seed):
    """Deterministic bytes, made the same way on both sides, so that the
    parent checks what the child sent without sharing a copy."""
    return random.Random(seed).randbytes(size)


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def expect(condition, message):
    """In a child: fail the task (its traceback goes back to the parent)."""
    if not condition:
        raise AssertionError(message)


def expect_io_error(code, func, *args):
    """In a child: func(*args) raises a GLib.Error G_IO_ERROR code."""
    try:
        func(*args)
    except GLib.Error as e:
        expect(e.matches(IO_ERROR, code), f"expected G_IO_ERROR {code.value_nick}, got {e.domain} {e.code}: {e.message}")
        return
    raise AssertionError(f"expected G_IO_ERROR {code.value_nick}, nothing raised")


# ---- tasks (registered before Mp.init) --------------------------------------


@Mp.task
def son(pipe):
    """The son of seed 001: says hello, then echoes the father's answer."""
    expect(isinstance(pipe, Mp.Pipe), f"the pipe end arrived as {type(pipe).__name__}")
    pipe.send("Hello Father")
    expect(pipe.poll(TIMEOUT), "no answer from the father")
    pipe.send("From Father:" + pipe.recv(expected_type="s"))


@Mp.task
def seed_duplex(p_a):
    """Seed 003's duplex child: receives the parent's list, sends its own."""
    expect(p_a.poll(TIMEOUT), "nothing from the parent")
    received = p_a.recv()
    expect(received == [1, 2, 3, 4, 5], f"received {received!r}")
    p_a.send(["a", "b", "c", "d"])


@Mp.task
def half_duplex_reader(p_a):
    """Seed 003's half-duplex child: p_a only receives."""
    expect(isinstance(p_a, Mp.Pipe), f"the pipe end arrived as {type(p_a).__name__}")
    expect(p_a.readable and not p_a.writable, f"readable {p_a.readable}, writable {p_a.writable}")
    expect_io_error(Gio.IOErrorEnum.NOT_SUPPORTED, p_a.send, "the wrong way")
    expect_io_error(Gio.IOErrorEnum.NOT_SUPPORTED, p_a.send_bytes, b"the wrong way")
    expect(p_a.poll(TIMEOUT), "nothing from the parent")
    received = p_a.recv()
    expect(received == [1, 2, 3, 4, 5], f"received {received!r}")


@Mp.task
def relay(conn):
    """Receives a pipe end through conn, and answers on it."""
    inner = conn.recv()
    expect(isinstance(inner, Mp.Pipe), f"the pipe end arrived as {type(inner).__name__}: {inner!r}")
    expect(inner.writable and not inner.readable, "the sending end arrived with another direction")
    inner.send("through the pipe")


@Mp.task
def send_big(conn, size, seed):
    conn.send_bytes(pattern(size, seed))


@Mp.task
def send_then_die(conn):
    """Sends three values, then dies before a fourth."""
    for i in range(3):
        conn.send(i)
    os.kill(os.getpid(), signal.SIGKILL)
    sys.exit(NOT_KILLED)


# ---- a subclass holding a pipe end ---------------------------------------------


class PipeWorker(Mp.Process):
    """Its pipe end travels as a GObject property; run() says hello on it
    and echoes what the parent answers."""

    __gtype_name__ = "TestPyPipeWorker"

    conn = GObject.Property(type=Mp.Pipe)

    def do_run(self):
        expect(self.conn is not None, "the pipe did not travel")
        expect(isinstance(self.conn, Mp.Pipe), f"the property holds a {type(self.conn).__name__}")
        self.conn.send("from the property")
        expect(self.conn.poll(TIMEOUT), "no answer from the parent")
        self.conn.send("echo:" + self.conn.recv(expected_type="s"))


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


class PipeTestCase(unittest.TestCase):
    def assertIOError(self, code, func, *args, **kwargs):
        """func(*args, **kwargs) raises a GLib.Error G_IO_ERROR code."""
        with self.assertRaises(GLib.Error) as cm:
            func(*args, **kwargs)
        error = cm.exception
        self.assertTrue(error.matches(IO_ERROR, code), f"{error.domain} {error.code}: {error.message}")
        return error

    def recv_within(self, conn, **kwargs):
        """conn.recv(), failing instead of blocking forever on a bug."""
        self.assertTrue(conn.poll(TIMEOUT), "nothing arrived (a bug)")
        return conn.recv(**kwargs)

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

    def recv_async(self, pipe, expected_type=None):
        """The raw GI recv_async/recv_finish on a main loop: returns the
        GLib.Variant received, or the GLib.Error raised by recv_finish."""
        loop = GLib.MainLoop()
        results = []

        def on_received(source, result, *user_data):
            try:
                results.append((source.recv_finish(result), user_data))
            except GLib.Error as e:
                results.append((e, user_data))
            loop.quit()

        if isinstance(expected_type, str):
            expected_type = GLib.VariantType.new(expected_type)
        Mp.Pipe.recv_async(pipe, expected_type, None, on_received, "user data")
        self.run_loop(loop)
        self.assertEqual(len(results), 1)
        value, user_data = results[0]
        self.assertEqual(user_data, ("user data",))
        return value


# ---- in one process ----------------------------------------------------------------


class PipeTests(PipeTestCase):
    def test_pair_forms(self):
        for duplex, (a, b) in [
            (True, Mp.pipe()),
            (True, Mp.pipe(duplex=True)),
            (True, Mp.Pipe.new_pair(True)),
            (False, Mp.pipe(duplex=False)),
            (False, Mp.Pipe.new_pair(False)),
        ]:
            with self.subTest(duplex=duplex):
                self.assertIsInstance(a, Mp.Pipe)
                self.assertIsInstance(b, Mp.Pipe)
                # The first end always receives, the second always sends.
                self.assertEqual((a.readable, a.writable), (True, duplex))
                self.assertEqual((b.readable, b.writable), (duplex, True))
                # The GObject properties say the same.
                self.assertEqual((a.props.readable, a.props.writable), (True, duplex))
                self.assertFalse(a.closed)
                self.assertFalse(b.props.closed)

    def test_values_and_bytes(self):
        a, b = Mp.pipe()
        values = [
            "text",
            42,
            -1.5,
            True,
            [1, 2, 3],
            ["x", "y"],
            (1, "two", False),
            {"name": "value", "n": 3, "nested": [0.5, 1.5]},
        ]
        for value in values:
            a.send(value)
        a.send_bytes(b"raw\0bytes")
        a.send_bytes(bytearray(b"from a bytearray"))
        b.send("back")
        for value in values:
            self.assertEqual(b.recv(), value)
        self.assertEqual(b.recv_bytes(), b"raw\0bytes")
        self.assertEqual(b.recv_bytes(), b"from a bytearray")
        self.assertEqual(a.recv(expected_type="s"), "back")
        # Nothing more is waiting, either way.
        self.assertFalse(a.poll())
        self.assertFalse(b.poll())

    def test_variants_keep_their_type(self):
        a, b = Mp.pipe()
        # A GLib.Variant goes as it is; recv_variant keeps it.
        a.send(GLib.Variant("ai", [1, 2, 3]))
        a.send([1, 2, 3])
        a.send(GLib.Variant("(ub)", (7, True)))
        v = b.recv_variant()
        self.assertIsInstance(v, GLib.Variant)
        self.assertEqual(v.get_type_string(), "ai")
        self.assertEqual(v.unpack(), [1, 2, 3])
        # The override's guess for a list of ints.
        self.assertEqual(b.recv_variant("ax").unpack(), [1, 2, 3])
        self.assertEqual(b.recv(expected_type=GLib.VariantType.new("(ub)")), (7, True))

    def test_typed_receive_keeps_message(self):
        a, b = Mp.pipe()
        a.send("text")
        a.send("second")
        error = self.assertIOError(Gio.IOErrorEnum.INVALID_DATA, b.recv, expected_type="i")
        self.assertIn("stays for the next receive", error.message)
        # Refused again, with a GLib.VariantType this time.
        self.assertIOError(Gio.IOErrorEnum.INVALID_DATA, b.recv, expected_type=GLib.VariantType.new("x"))
        self.assertIOError(Gio.IOErrorEnum.INVALID_DATA, b.recv_variant, "i")
        # The refused message is waiting, and comes first.
        self.assertTrue(b.poll())
        self.assertEqual(b.recv(expected_type="s"), "text")
        self.assertEqual(b.recv(), "second")
        self.assertFalse(b.poll())

    def test_recv_bytes_keeps_value(self):
        a, b = Mp.pipe()
        a.send(42)
        a.send_bytes(b"payload")
        error = self.assertIOError(Gio.IOErrorEnum.INVALID_DATA, b.recv_bytes)
        self.assertIn("stays for the next receive", error.message)
        self.assertTrue(b.poll())
        self.assertEqual(b.recv(), 42)
        # A bytes message refused by a typed receive stays for recv_bytes.
        self.assertIOError(Gio.IOErrorEnum.INVALID_DATA, b.recv, expected_type="s")
        self.assertEqual(b.recv_bytes(), b"payload")
        self.assertFalse(b.poll())

    def test_poll(self):
        a, b = Mp.pipe()
        # Nothing there: the default (0) and a short timeout both say no.
        self.assertFalse(b.poll())
        start = time.monotonic()
        self.assertFalse(b.poll(0.05))
        self.assertGreaterEqual(time.monotonic() - start, 0.04)
        a.send("there")
        self.assertTrue(b.poll(TIMEOUT))
        # poll does not take the message.
        self.assertTrue(b.poll(TIMEOUT))
        self.assertEqual(b.recv(), "there")
        self.assertFalse(b.poll(0.01))
        # None waits without a bound, as in Python.
        a.send("more")
        self.assertTrue(b.poll(None))
        self.assertEqual(b.recv(), "more")

    # Python's conn.poll() has a timeout of 0: it must look at the socket.
    def test_poll_zero_sees_waiting_message(self):
        a, b = Mp.pipe()
        a.send("waiting")
        self.assertTrue(b.poll(TIMEOUT))
        self.assertTrue(b.poll(0))
        self.assertTrue(b.poll())

    def test_half_duplex(self):
        r, w = Mp.pipe(duplex=False)
        self.assertTrue(r.readable)
        self.assertFalse(r.writable)
        self.assertFalse(w.readable)
        self.assertTrue(w.writable)

        self.assertIOError(Gio.IOErrorEnum.NOT_SUPPORTED, r.send, 1)
        self.assertIOError(Gio.IOErrorEnum.NOT_SUPPORTED, r.send_bytes, b"no")
        self.assertIOError(Gio.IOErrorEnum.NOT_SUPPORTED, w.recv)
        self.assertIOError(Gio.IOErrorEnum.NOT_SUPPORTED, w.recv_bytes)
        self.assertIOError(Gio.IOErrorEnum.NOT_SUPPORTED, w.poll, 0)

        w.send(5)
        self.assertEqual(r.recv(expected_type="x"), 5)

    def test_close_and_eof(self):
        a, b = Mp.pipe()
        notified = []
        a.connect("notify::closed", lambda pipe, pspec: notified.append(pipe.closed))

        a.send("last words")
        a.close()
        self.assertTrue(a.closed)
        self.assertEqual(notified, [True])
        # A second close does nothing.
        a.close()
        self.assertEqual(notified, [True])
        self.assertIOError(Gio.IOErrorEnum.CLOSED, a.send, 1)
        self.assertIOError(Gio.IOErrorEnum.CLOSED, a.recv)
        self.assertIOError(Gio.IOErrorEnum.CLOSED, a.poll, 0)

        # What was sent before the close still arrives, then EOF.
        self.assertFalse(b.closed)
        self.assertTrue(b.poll(TIMEOUT))
        self.assertEqual(b.recv(), "last words")
        self.assertTrue(b.poll(TIMEOUT))
        self.assertIOError(Gio.IOErrorEnum.CLOSED, b.recv)
        self.assertIOError(Gio.IOErrorEnum.CLOSED, b.recv_bytes)
        # Still EOF, not a hang, on a second try; and sending fails too.
        self.assertIOError(Gio.IOErrorEnum.CLOSED, b.recv)
        self.assertIOError(Gio.IOErrorEnum.CLOSED, b.send, 1)

    def test_with_statement_closes(self):
        a, b = Mp.pipe()
        with a as conn:
            self.assertIs(conn, a)
            conn.send("inside")
        self.assertTrue(a.closed)
        self.assertEqual(b.recv(), "inside")
        self.assertIOError(Gio.IOErrorEnum.CLOSED, b.recv)

    def test_recv_async(self):
        a, b = Mp.pipe()
        loop = GLib.MainLoop()
        results = []

        def on_received(source, result, *user_data):
            results.append((source, source.recv_finish(result), user_data))
            loop.quit()

        # Started before anything is there: the main loop gets it.
        Mp.Pipe.recv_async(b, None, None, on_received)
        a.send("on the main loop")
        self.run_loop(loop)
        self.assertEqual(len(results), 1)
        source, value, user_data = results[0]
        self.assertIs(source, b)
        self.assertIsInstance(value, GLib.Variant)
        self.assertEqual(value.get_type_string(), "s")
        self.assertEqual(value.get_string(), "on the main loop")
        self.assertEqual(user_data, ())

        # With a type and user data.
        a.send(GLib.Variant("i", 9))
        value = self.recv_async(b, "i")
        self.assertEqual(value.get_int32(), 9)

    def test_recv_async_refused_and_pending(self):
        a, b = Mp.pipe()
        a.send("text")
        # A refused type fails the async receive and keeps the message...
        error = self.recv_async(b, "i")
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(IO_ERROR, Gio.IOErrorEnum.INVALID_DATA), error.message)
        # ... which the next async receive gets at once.
        self.assertEqual(self.recv_async(b, "s").get_string(), "text")
        # A refused typed recv keeps it for recv_async too.
        a.send(3)
        self.assertIOError(Gio.IOErrorEnum.INVALID_DATA, b.recv, expected_type="s")
        self.assertEqual(self.recv_async(b).get_int64(), 3)
        # And after the peer closed: CLOSED.
        a.close()
        error = self.recv_async(b)
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(IO_ERROR, Gio.IOErrorEnum.CLOSED), error.message)

    def test_pipe_end_through_pipe(self):
        a, b = Mp.pipe()
        r, w = Mp.pipe(duplex=False)
        a.send(w)
        w2 = b.recv()
        self.assertIsInstance(w2, Mp.Pipe)
        self.assertIsNot(w2, w)
        self.assertEqual((w2.readable, w2.writable), (False, True))
        # The copy is its own end: closing the original leaves it working.
        w.close()
        w2.send("by the copy")
        self.assertEqual(r.recv(), "by the copy")
        w2.close()
        self.assertIOError(Gio.IOErrorEnum.CLOSED, r.recv)

        # Inside a structure too.
        a.send({"ends": [r]})
        got = b.recv()
        self.assertIsInstance(got["ends"][0], Mp.Pipe)
        self.assertEqual((got["ends"][0].readable, got["ends"][0].writable), (True, False))

    def test_bad_reference(self):
        # fd 0 is no SOCK_SEQPACKET socket; a string is no reference at all.
        for value in (GLib.Variant("(sh)", ("mp:pipe:rw", 0)), GLib.Variant("s", "nope")):
            with self.subTest(value=value.print_(True)):
                self.assertIOError(Gio.IOErrorEnum.INVALID_ARGUMENT, Mp.Pipe.new_from_variant, value)

    def test_no_descriptor_left(self):
        def use_pairs(n):
            for i in range(n):
                a, b = Mp.pipe(duplex=(i % 2 == 0))
                a_to_b = a.writable
                sender, receiver = (a, b) if a_to_b else (b, a)
                sender.send(i)
                self.assertEqual(receiver.recv(), i)
                # Over 64 KiB: travels in a sealed memfd.
                big = bytes([i]) * (100 * 1024)
                sender.send_bytes(big)
                self.assertEqual(receiver.recv_bytes(), big)
                # A pipe end through the pipe: its descriptor is dup'd.
                r, w = Mp.pipe(duplex=False)
                sender.send(w)
                w2 = receiver.recv()
                w2.send(i)
                self.assertEqual(r.recv(), i)
                if i % 3 == 0:
                    for end in (a, b, r, w, w2):
                        end.close()
                del a, b, sender, receiver, r, w, w2
            gc.collect()

        # Warm up anything allocated once.
        use_pairs(1)
        before = count_fds()
        use_pairs(50)
        after = count_fds()
        if after != before:
            print(list_fds(), file=sys.stderr)
        self.assertEqual(after, before, "open descriptors")


# ---- across processes, in each start method ---------------------------------------


class StartMethodTests:
    """Mixed into one TestCase per start method."""

    method = None

    def start(self, target, args=()):
        p = Mp.Process(target=target, args=args, start_method=self.method)
        p.start()
        return p

    def join_ok(self, p):
        self.assertTrue(p.join(TIMEOUT), "the child did not end (a bug)")
        # Raises the child's error, with its traceback, if it had one.
        self.assertTrue(p.check_error())
        self.assertEqual(p.exitcode, 0)

    def test_father_son(self):
        father, son_end = Mp.pipe()
        p = self.start(son, (son_end,))
        self.assertEqual(self.recv_within(father, expected_type="s"), "Hello Father")
        father.send("Hi my son!")
        self.assertEqual(self.recv_within(father), "From Father:Hi my son!")
        self.join_ok(p)

    def test_seed_duplex(self):
        # Seed 003: the parent sends, joins, and only then receives.
        p_a, p_b = Mp.pipe()
        p = self.start(seed_duplex, (p_a,))
        p_b.send([1, 2, 3, 4, 5])
        self.join_ok(p)
        self.assertEqual(self.recv_within(p_b), ["a", "b", "c", "d"])

    def test_half_duplex(self):
        # Seed 003: p_a only receives (in the child), p_b only sends.
        p_a, p_b = Mp.pipe(duplex=False)
        p = self.start(half_duplex_reader, (p_a,))
        self.assertIOError(Gio.IOErrorEnum.NOT_SUPPORTED, p_b.recv)
        p_b.send([1, 2, 3, 4, 5])
        self.join_ok(p)

    def test_subclass_property(self):
        a, b = Mp.pipe()
        p = PipeWorker(conn=b, start_method=self.method)
        self.assertIs(p.conn, b)
        p.start()
        self.assertEqual(self.recv_within(a, expected_type="s"), "from the property")
        a.send("ping")
        self.assertEqual(self.recv_within(a), "echo:ping")
        self.join_ok(p)

    def test_pipe_through_pipe(self):
        a, b = Mp.pipe()
        inner_r, inner_w = Mp.pipe(duplex=False)
        p = self.start(relay, (b,))
        a.send(inner_w)
        # Our copy can go: the child has its own now.
        inner_w.close()
        self.assertEqual(self.recv_within(inner_r, expected_type="s"), "through the pipe")
        self.join_ok(p)
        # The child's copy went with it: nothing holds the sending end now.
        self.assertTrue(inner_r.poll(TIMEOUT))
        self.assertIOError(Gio.IOErrorEnum.CLOSED, inner_r.recv)

    def test_16mib(self):
        r, w = Mp.pipe(duplex=False)
        seed = f"libmp-{self.method.value_nick}"
        p = self.start(send_big, (w, BIG_SIZE, seed))
        self.assertTrue(r.poll(TIMEOUT), "nothing arrived (a bug)")
        got = r.recv_bytes()
        self.assertEqual(len(got), BIG_SIZE)
        expected = pattern(BIG_SIZE, seed)
        if got != expected:
            self.fail(f"the bytes differ from offset {first_difference(got, expected)}")
        self.join_ok(p)

    def test_peer_dies(self):
        # A peer that dies: whole messages arrive, then EOF; never a torn one.
        r, w = Mp.pipe(duplex=False)
        p = self.start(send_then_die, (w,))
        # Our copy of the sending end would keep the pipe open.
        w.close()
        for i in range(3):
            self.assertEqual(self.recv_within(r), i)
        self.assertTrue(r.poll(TIMEOUT), "no EOF (a bug)")
        self.assertIOError(Gio.IOErrorEnum.CLOSED, r.recv)
        self.assertTrue(p.join(TIMEOUT))
        self.assertEqual(p.exitcode, -signal.SIGKILL)


class ForkTests(StartMethodTests, PipeTestCase):
    method = Mp.StartMethod.FORK


class SpawnTests(StartMethodTests, PipeTestCase):
    method = Mp.StartMethod.SPAWN


class ForkserverTests(StartMethodTests, PipeTestCase):
    method = Mp.StartMethod.FORKSERVER


if __name__ == "__main__":
    unittest.main(verbosity=2)
