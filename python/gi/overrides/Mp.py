# Mp.py: the PyGObject override for libmp
#
# - Python exceptions raised in tasks and in Process.do_run become GErrors
#   (MP_ERROR_TASK_FAILED) carrying the traceback text; PyGObject alone
#   would print them and return NULL with no error set.
# - Tasks take Python arguments and return Python values; they are turned
#   into GVariants here.
# - Standard output is flushed before a child exits.
# - Process takes Python's keywords: target, args, name, daemon.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import inspect
import queue as _queue
import sys
import traceback

from gi.repository import Gio, GLib, GObject

from ..module import get_introspection_module
from ..overrides import override

Mp = get_introspection_module("Mp")

__all__ = []


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _error_from_exception(exc):
    if isinstance(exc, GLib.Error):
        return exc
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    return GLib.Error(text, "mp-error-quark", int(Mp.Error.TASK_FAILED))


def _run_in_child(func, *args):
    """Runs code on the child's behalf: sys.exit(n) becomes exit code n,
    any other exception a GLib.Error with its traceback, and standard
    output is flushed whatever happens (the child ends with _exit)."""
    try:
        return func(*args)
    except SystemExit as e:
        _flush()
        Mp.exit(e.code if isinstance(e.code, int) else (0 if e.code is None else 1))
    except BaseException as e:
        raise _error_from_exception(e)
    finally:
        _flush()


def to_variant(value):
    """Turns a Python value into a GVariant, guessing the type as Python
    would print it: bool b, int x, float d, str s, bytes ay, tuple (...),
    a list of one type a<type> (else av), a dict with str keys a{sv}."""
    if isinstance(value, GLib.Variant):
        return value
    if isinstance(value, (Mp.Pipe, Mp.Queue)):
        return value.to_variant()
    if value is None:
        return GLib.Variant("mv", None)
    if isinstance(value, bool):
        return GLib.Variant("b", value)
    if isinstance(value, int):
        return GLib.Variant("x", value)
    if isinstance(value, float):
        return GLib.Variant("d", value)
    if isinstance(value, str):
        return GLib.Variant("s", value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return GLib.Variant("ay", bytes(value))
    if isinstance(value, tuple):
        return GLib.Variant.new_tuple(*[to_variant(v) for v in value])
    if isinstance(value, (list, range)):
        items = [to_variant(v) for v in value]
        types = {v.get_type_string() for v in items}
        if len(types) == 1:
            return GLib.Variant.new_array(GLib.VariantType.new(types.pop()), items)
        if not items:
            return GLib.Variant("av", [])
        return GLib.Variant.new_array(GLib.VariantType.new("v"), [GLib.Variant.new_variant(v) for v in items])
    if isinstance(value, dict):
        return GLib.Variant("a{sv}", {str(k): to_variant(v) for k, v in value.items()})
    raise TypeError(f"cannot send a {type(value).__name__} to another process; use a GLib.Variant")


__all__.append("to_variant")


def from_variant(value):
    """Turns a GVariant into Python values, as GLib.Variant.unpack() does,
    except that pipe ends (and other libmp references) become objects."""
    t = value.get_type_string()
    if t == "(sh)" and value.get_child_value(0).get_string().startswith("mp:pipe"):
        return Mp.Pipe.new_from_variant(value)
    if t.startswith("(sh") and value.get_child_value(0).get_string() == "mp:queue":
        return Mp.Queue.new_from_variant(value)
    if t == "ay":
        return value.get_data_as_bytes().get_data() or b""
    if "h" not in t and "v" not in t:
        if "ay" not in t:
            return value.unpack()
    if t == "v":
        return from_variant(value.get_variant())
    if t.startswith("("):
        return tuple(from_variant(value.get_child_value(i)) for i in range(value.n_children()))
    if t.startswith("a{"):
        result = {}
        for i in range(value.n_children()):
            entry = value.get_child_value(i)
            result[from_variant(entry.get_child_value(0))] = from_variant(entry.get_child_value(1))
        return result
    if t.startswith("a"):
        return [from_variant(value.get_child_value(i)) for i in range(value.n_children())]
    if t.startswith("m"):
        inner = value.get_maybe()
        return None if inner is None else from_variant(inner)
    return value.unpack()


__all__.append("from_variant")


def _call_task(func, args):
    unpacked = from_variant(args)
    if args.get_type_string().startswith("("):
        return func(*unpacked)
    return func(unpacked)


def register_task(name, func, raw=False):
    """Registers func under name. By default func receives the task's
    arguments as Python values (a tuple is spread) and returns a Python
    value; with raw=True it receives (args: GLib.Variant, cancellable)
    and returns a GLib.Variant or None."""

    def task(args, cancellable):
        def call():
            result = func(args, cancellable) if raw else _call_task(func, args)
            return None if result is None else to_variant(result)

        return _run_in_child(call)

    Mp.register_task(name, task)
    try:
        func.__mp_task_name__ = name
    except AttributeError:
        pass
    return func


__all__.append("register_task")


def task(func=None, *, name=None):
    """Decorator: registers a function as a task under its qualified name."""

    def wrap(f):
        return register_task(name or f"{f.__module__}.{f.__qualname__}", f)

    return wrap(func) if func is not None else wrap


__all__.append("task")


def init(argv=None):
    # The forkserver is forked in here: nothing buffered may be printed twice.
    _flush()
    Mp.init(list(sys.argv if argv is None else argv))


__all__.append("init")


def _start_method(method):
    if isinstance(method, str):
        try:
            return getattr(Mp.StartMethod, method.upper())
        except AttributeError:
            raise ValueError(f"unknown start method {method!r}") from None
    return method


def set_start_method(method):
    """As multiprocessing.set_start_method: "fork", "spawn", "forkserver"
    (or an Mp.StartMethod)."""
    return Mp.set_start_method(_start_method(method))


__all__.append("set_start_method")


def exit(status=0):
    _flush()
    Mp.exit(status)


__all__.append("exit")


def _wrap_run(run):
    try:
        takes_cancellable = len(inspect.signature(run).parameters) >= 2
    except (TypeError, ValueError):
        takes_cancellable = True

    def do_run(self, cancellable):
        if takes_cancellable:
            _run_in_child(run, self, cancellable)
        else:
            _run_in_child(run, self)

    do_run.__name__ = "do_run"
    return do_run


class Process(Mp.Process):
    """multiprocessing.Process on libmp: Process(target=task, args=(...),
    name=..., daemon=..., start_method=...). target is a task name or a
    function registered with Mp.register_task / @Mp.task. Subclasses
    override do_run(self); their GObject properties travel to spawn and
    forkserver children. There GObject makes the object: __init__ runs
    with no arguments and the travelled properties are set afterwards, so
    give every __init__ parameter a default."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        run = cls.__dict__.get("do_run")
        if run is not None:
            cls.do_run = _wrap_run(run)

    def __init__(self, target=None, args=(), name=None, daemon=None, start_method=None, **kwargs):
        if callable(target):
            task_name = getattr(target, "__mp_task_name__", None)
            if task_name is None:
                raise TypeError(f"{target!r} is not a registered task: use Mp.register_task or @Mp.task")
            target = task_name
        props = dict(kwargs)
        if target is not None:
            props["task_name"] = target
            props["args"] = to_variant(tuple(args))
        if name is not None:
            props["name"] = name
        if daemon is not None:
            props["daemon"] = daemon
        if start_method is not None:
            props["start_method"] = _start_method(start_method)
        super().__init__(**props)

    @classmethod
    def new_for_func(cls, func, *user_data):
        """A fork-only process running func(process, *user_data); an
        exception fails the child with its traceback, returning None or
        a true value succeeds."""

        def run(process, *data):
            result = _run_in_child(func, process, *data)
            return True if result is None else bool(result)

        return Mp.Process.new_for_func(run, *user_data)

    def start(self):
        # What the parent printed comes first, and a fork child must not
        # print it again.
        _flush()
        return Mp.Process.start(self)

    @property
    def state(self):
        return self.get_state()

    @property
    def exitcode(self):
        """None while running, as in Python."""
        if self.get_state() in (Mp.ProcessState.EXITED, Mp.ProcessState.CLOSED):
            return self.get_exitcode()
        return None

    @property
    def pid(self):
        return self.get_pid() or None

    @property
    def name(self):
        return self.get_name()

    @name.setter
    def name(self, value):
        self.set_name(value)

    @property
    def daemon(self):
        return self.get_daemon()

    @daemon.setter
    def daemon(self, value):
        self.set_daemon(value)

    def join(self, timeout=None):
        return Mp.Process.join(self, -1.0 if timeout is None else float(timeout))

    def join_async(self, cancellable=None, callback=None, *user_data):
        return Mp.Process.join_async(self, cancellable, callback, *user_data)


Process = override(Process)
__all__.append("Process")


def current_process():
    return Mp.current_process()


__all__.append("current_process")


class Pipe(Mp.Pipe):
    """multiprocessing.connection.Connection on libmp. Make a pair with
    Mp.Pipe.new_pair(duplex=True) (or Mp.pipe()). send() takes Python
    values (see to_variant) and recv() returns them; pipe ends inside
    travel too. recv_variant() keeps the GLib.Variant."""

    @classmethod
    def new_pair(cls, duplex=True):
        return Mp.Pipe.new_pair(duplex)

    def send(self, obj, cancellable=None):
        return Mp.Pipe.send(self, to_variant(obj), cancellable)

    def recv(self, expected_type=None, cancellable=None):
        if isinstance(expected_type, str):
            expected_type = GLib.VariantType.new(expected_type)
        return from_variant(Mp.Pipe.recv(self, expected_type, cancellable))

    def recv_variant(self, expected_type=None, cancellable=None):
        if isinstance(expected_type, str):
            expected_type = GLib.VariantType.new(expected_type)
        return Mp.Pipe.recv(self, expected_type, cancellable)

    def send_bytes(self, data, cancellable=None):
        if not isinstance(data, GLib.Bytes):
            data = GLib.Bytes.new(bytes(data))
        return Mp.Pipe.send_bytes(self, data, cancellable)

    def recv_bytes(self, cancellable=None):
        return Mp.Pipe.recv_bytes(self, cancellable).get_data()

    def poll(self, timeout=0.0):
        return Mp.Pipe.poll(self, -1.0 if timeout is None else float(timeout))

    @property
    def closed(self):
        return self.get_closed()

    @property
    def readable(self):
        return self.get_readable()

    @property
    def writable(self):
        return self.get_writable()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


Pipe = override(Pipe)
__all__.append("Pipe")


def pipe(duplex=True):
    """As multiprocessing.Pipe(duplex): two connected ends."""
    return Pipe.new_pair(duplex)


__all__.append("pipe")


def _queue_error(e, full):
    if isinstance(e, GLib.Error) and e.domain == "g-io-error-quark" and \
            e.code in (int(Gio.IOErrorEnum.WOULD_BLOCK), int(Gio.IOErrorEnum.TIMED_OUT)):
        return (_queue.Full if full else _queue.Empty)(e.message)
    return e


class Queue(Mp.Queue):
    """multiprocessing.Queue / JoinableQueue on libmp: Mp.Queue(maxsize=0).
    put() takes Python values and get() returns them; a full or empty
    queue raises queue.Full / queue.Empty, as in Python."""

    def __new__(cls, maxsize=0):
        return Mp.Queue.new(maxsize)

    def __init__(self, maxsize=0):
        pass

    def put(self, obj, block=True, timeout=None, cancellable=None):
        try:
            return Mp.Queue.put(self, to_variant(obj), block,
                                -1.0 if timeout is None else float(timeout), cancellable)
        except GLib.Error as e:
            raise _queue_error(e, True) from None

    def put_nowait(self, obj):
        return self.put(obj, False)

    def get(self, block=True, timeout=None, cancellable=None):
        try:
            return from_variant(Mp.Queue.get(self, block,
                                             -1.0 if timeout is None else float(timeout), cancellable))
        except GLib.Error as e:
            raise _queue_error(e, False) from None

    def get_nowait(self):
        return self.get(False)

    def join(self, timeout=None, cancellable=None):
        return Mp.Queue.join(self, -1.0 if timeout is None else float(timeout), cancellable)

    def join_thread(self):
        """Waits until what this process put has gone out (close() does)."""
        Mp.Queue.close(self)

    def cancel_join_thread(self):
        pass

    @property
    def maxsize(self):
        return self.get_maxsize()


Queue = override(Queue)
__all__.append("Queue")
JoinableQueue = Queue
SimpleQueue = Queue
__all__ += ["JoinableQueue", "SimpleQueue"]
