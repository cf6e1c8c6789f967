# Mp.py: the PyGObject override for libmp
#
# - Python exceptions raised in tasks and in Process.do_run become GErrors
#   (MP_ERROR_TASK_FAILED) carrying the traceback text; PyGObject alone
#   would print them and return NULL with no error set.
# - Tasks take Python arguments and return Python values; they are turned
#   into GVariants here.
# - Standard output is flushed before a child exits.
# - Process takes Python's keywords: target, args, name, daemon.
# - Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event, Barrier,
#   Value, Array and SharedMemory behave as multiprocessing's; they, pipe
#   ends and queues (every Mp.Shareable) travel in task and Pool arguments,
#   results, pipes and queues, and come out as the same objects.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import _signal
import _thread
import array
import collections
import importlib
import inspect
import itertools
import numbers
import operator
import os
import queue as _queue
import struct
import sys
import threading
import time
import traceback
import weakref

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


# Arrays of numbers go in and out in one go (a GLib.Variant per element
# costs a microsecond or two): the array module's codes for them, in the
# native layout that GVariant keeps in memory. "ab" comes out as bools;
# "ay" is bytes (see from_variant).
_ARRAY_CODES = {"an": "h", "aq": "H", "ai": "i", "au": "I", "ax": "q", "at": "Q", "ad": "d", "ab": "?"}
_ARRAY_SIZES = {code: struct.calcsize(code) for code in _ARRAY_CODES.values()}
_array_types = {}


def _numbers_variant(type_string, values):
    """An array GLib.Variant of type_string ("ax", "ad"...) holding the
    array.array values, made from its bytes."""
    vtype = _array_types.get(type_string)
    if vtype is None:
        vtype = _array_types[type_string] = GLib.VariantType.new(type_string)
    return GLib.Variant.new_from_bytes(vtype, GLib.Bytes.new(values.tobytes()), True)


def _numbers_variant_of(values):
    """A list (or range) of ints as "ax", of floats as "ad", made in one
    go; None for anything else (other types, ints beyond int64, empty),
    which to_variant() converts element by element: the same type, or the
    same error."""
    if not values:
        return None
    if isinstance(values, range):
        kind = int
    else:
        kinds = set(map(type, values))
        if len(kinds) != 1:
            return None
        kind = kinds.pop()
    try:
        if kind is int:
            return _numbers_variant("ax", array.array("q", values))
        if kind is float:
            return _numbers_variant("ad", array.array("d", values))
    except OverflowError:
        pass
    return None


def to_variant(value):
    """Turns a Python value into a GVariant, guessing the type as Python
    would print it: bool b, int x, float d, str s, bytes ay, tuple (...),
    a list of one type a<type> (else av), a dict with str keys a{sv}; an
    Mp.Shareable (pipe end, queue, lock, value, shared memory...) its
    reference, which from_variant() turns back into the object."""
    if isinstance(value, GLib.Variant):
        return value
    if isinstance(value, Mp.Shareable):
        # Pipe ends, queues, locks, shared values, shared memory...
        return Mp.Shareable.to_variant(value)
    if value is None:
        return GLib.Variant("mv", None)
    # The typed constructors: GLib.Variant(format, value) parses its format
    # in Python, twice as slow.
    if isinstance(value, bool):
        return GLib.Variant.new_boolean(value)
    if isinstance(value, int):
        return GLib.Variant.new_int64(value)
    if isinstance(value, float):
        return GLib.Variant.new_double(value)
    if isinstance(value, str):
        if "\0" in value:
            # A GVariant string would end there.
            raise ValueError("a str holding NUL cannot be sent to another process; send bytes")
        return GLib.Variant.new_string(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return GLib.Variant("ay", bytes(value))
    if isinstance(value, tuple):
        return GLib.Variant.new_tuple(*[to_variant(v) for v in value])
    if isinstance(value, (list, range)):
        numbers = _numbers_variant_of(value)
        if numbers is not None:
            return numbers
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
    except that references to libmp objects (pipe ends, queues, locks,
    semaphores, conditions, events, barriers, shared values and arrays,
    shared memory: anything Mp.Shareable) become those objects."""
    t = value.get_type_string()
    if t.startswith("(s") and Mp.Shareable.is_reference(value):
        # Any libmp object: pipe ends, queues, locks, values, shared memory.
        return Mp.Shareable.new_from_variant(value)
    if t == "ay":
        return value.get_data_as_bytes().get_data() or b""
    code = _ARRAY_CODES.get(t)
    if code is not None:
        data = value.get_data_as_bytes().get_data() or b""
        if len(data) % _ARRAY_SIZES[code]:
            return value.unpack()   # not in normal form: GLib's reading of it
        return memoryview(data).cast(code).tolist()
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


# The last results of tasks in this process whose GVariants name objects
# (their descriptors): the objects must outlive the task's return, until
# the library has sent the result (a pool worker sends it before it takes
# the next call).
_kept_results = collections.deque(maxlen=4)


def _result_variant(result):
    variant = to_variant(result)
    # Only these can hold objects (a GLib.Variant made by the task names
    # its descriptors as the task wanted).
    if isinstance(result, (Mp.Shareable, tuple, list, dict)):
        _kept_results.append(result)
    return variant


def register_task(name, func, raw=False):
    """Registers func under name. By default func receives the task's
    arguments as Python values (a tuple is spread) and returns a Python
    value; with raw=True it receives (args: GLib.Variant, cancellable)
    and returns a GLib.Variant or None."""

    def task(args, cancellable):
        def call():
            result = func(args, cancellable) if raw else _call_task(func, args)
            return None if result is None else _result_variant(result)

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


def _fork(*unused):
    """How libmp forks in this process (Mp.set_fork_func): through
    os.fork(), as multiprocessing's fork does. libmp is called with the
    GIL released, so a fork() of its own could copy the GIL as another
    thread held it (the child then hangs on its first Python call), and
    would skip the os.register_at_fork() handlers (random's reseed,
    threading's cleanup). os.fork() takes the GIL around the fork and
    runs them, in the fork start method's children, the forkserver and
    its workers alike."""
    try:
        pid = os.fork()
    except OSError as e:
        raise GLib.Error(e.strerror or str(e), "g-io-error-quark", int(Gio.io_error_from_errno(e.errno or 0))) from None
    if pid == 0 and _pin_thread_state is not None:
        # The child's one thread state is this thread's. On a thread
        # Python did not start (a pool's), PyGObject made it for this
        # call and deletes it on return, leaving the interpreter none,
        # and CPython 3.11 then aborts making the next ("thread state
        # already initialized"). One more hold keeps it; the child ends
        # with _exit().
        _pin_thread_state()
    return pid


try:
    import ctypes

    _pin_thread_state = ctypes.pythonapi.PyGILState_Ensure
except (ImportError, AttributeError):
    _pin_thread_state = None


# Before anything forks: Mp.init() forks the forkserver.
Mp.set_fork_func(_fork)

# Pools of this process, terminated before the interpreter finalizes.
_live_pools = weakref.WeakSet()


def _end_pools_and_python_forks():
    # A pool still alive at the end is otherwise disposed while Python
    # finalizes, with the GIL held, and its dispose waits for the pool's
    # thread, which may be forking a new worker through _fork (waiting
    # for the GIL): a hang. Terminated here (the GIL released in the
    # call), and whatever forks after this forks plainly.
    for pool in list(_live_pools):
        if pool.__dict__.get("_mp_pid") == os.getpid():
            try:
                Mp.Pool.terminate(pool)
            except Exception:
                pass
    Mp.set_fork_func(None)


import atexit as _atexit  # noqa: E402

_atexit.register(_end_pools_and_python_forks)


def _exit_function():
    """As multiprocessing's at exit, while Python still runs: daemonic
    children are terminated, the others joined. The library does the same
    in a C atexit handler, which runs after the interpreter is gone: its
    last references to Python Process subclasses (and any exited handler)
    would call into a dead interpreter (a crash at the exit of a program
    that left such a process unjoined)."""
    try:
        children = Mp.active_children()
        for p in children:
            if p.get_daemon() and p.is_alive():
                p.terminate()
        for p in children:
            Mp.Process.join(p, -1.0)
    except Exception:
        traceback.print_exc()
    finally:
        _flush()


_exit_registered = False


def init(argv=None):
    global _exit_registered
    # The forkserver is forked in here: nothing buffered may be printed twice.
    _flush()
    Mp.init(list(sys.argv if argv is None else argv))
    if not _exit_registered:
        import atexit
        atexit.register(_exit_function)
        _exit_registered = True


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


# The args of processes not started yet, by process (see Process.__init__).
_unstarted_args = weakref.WeakKeyDictionary()


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
        if target is not None and args:
            # The args' references name this process's descriptors of the
            # objects in them (locks, queues...): those must live until the
            # process has started, as Python's Process keeps its args. Not
            # in the wrapper's __dict__: that makes PyGObject tie the
            # wrapper to the GObject (a toggle reference), and a process
            # never joined, which the runtime joins at exit, then crashed
            # the interpreter's exit.
            _unstarted_args[self] = tuple(args)

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
        started = Mp.Process.start(self)
        # The args went out with the start.
        _unstarted_args.pop(self, None)
        return started

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


# ---- Pool -------------------------------------------------------------------
#
# Python's Pool takes plain functions and pickles a reference to them (module
# and qualified name). Here one task, registered when this override loads (so
# before Mp.init() in every process, spawn and forkserver children included),
# does the same: its arguments name the function, which the worker looks up
# by module and qualified name, and the call's arguments.

_CALL_TASK = "gi.overrides.Mp.call"

# How long a blocking wait runs in C before Python looks at its signals
# again (Ctrl-C must interrupt pool.map(), as in Python).
_WAIT_SLICE = 0.25


def _lookup(module, qualname):
    obj = sys.modules.get(module)
    if obj is None:
        obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


# The functions a worker has looked up, by (module, qualified name).
_found = {}


def _find(name):
    """The function a worker calls by name ("module:qualname")."""
    func = _found.get(name)
    if func is None:
        module, _, qualname = name.partition(":")
        try:
            func = _found[name] = _lookup(module, qualname)
        except (ImportError, AttributeError):
            raise LookupError(
                f"{module}.{qualname} is not defined in the worker (pid {os.getpid()}): spawn and forkserver "
                "workers know only what the program defines before Mp.init()") from None
    return func


def _call_by_name(args, cancellable):
    """The task of every call of a function by name: its arguments are
    "(sv)", the function's "module:qualname" and the call's arguments (a
    tuple), or "(sva{sv})" with keyword arguments."""
    name = args.get_child_value(0).get_string()
    call_args = from_variant(args.get_child_value(1).get_variant())
    kwargs = from_variant(args.get_child_value(2)) if args.n_children() > 2 else {}
    func = _find(name)
    try:
        result = func(*call_args, **kwargs)
    except Exception as e:
        # The traceback from the function down, without this frame.
        raise _error_from_exception(e.with_traceback(e.__traceback__.tb_next)) from None
    return _result_variant(result)


register_task(_CALL_TASK, _call_by_name, raw=True)


# ---- Maps in batches ----------------------------------------------------------
#
# Calling a function by name item by item costs a task call per item in
# the worker (the library calls into Python, the arguments and the result
# each a GLib.Variant, 10 us or more) and a "(sv)" per item here. A map
# instead runs a batch task (mp_register_batch_task): the worker calls
# into Python once per chunk, with the chunk's items as one array, and
# gives back one array of results. Items that are all ints (or all
# floats) travel as "ax" ("ad"), which the pool hands its workers in place
# (through memory it shares with them, see MpPool), and so do such
# results.
#
# A batch's items are the bare arguments, so the task's name says which
# function to call. Two task families do it (a name ending in "/" is the
# task of every name under it, see mp_register_task): a map of a function
# runs "gi.overrides.Mp.map/module:qualname", a starmap
# "gi.overrides.Mp.starmap/module:qualname", and the family's function
# reads that name (Mp.task_get_current_name()) and looks the function up
# as _call_by_name does. Registered here, so before Mp.init() in every
# process.

_MAP_TASK = "gi.overrides.Mp.map/"
_STARMAP_TASK = "gi.overrides.Mp.starmap/"


def _results_variant(results):
    """The results of a batch, as the library would have put the results
    of single calls together: "ax" or "ad" when they are all ints or all
    floats, else an array of their one type, else "av"."""
    numbers = _numbers_variant_of(results)
    if numbers is not None:
        return numbers
    return _result_variant(results)


def _map_task(star):
    prefix = len(_STARMAP_TASK if star else _MAP_TASK)

    def batch(items, cancellable):
        def call():
            func = _find(Mp.task_get_current_name()[prefix:])
            args = from_variant(items)
            try:
                # map and starmap call func with no frame of their own
                # between: the traceback starts at func, as for one call.
                results = list(itertools.starmap(func, args) if star else map(func, args))
            except Exception as e:
                raise _error_from_exception(e.with_traceback(e.__traceback__.tb_next)) from None
            return _results_variant(results)

        return _run_in_child(call)

    return batch


Mp.register_batch_task(_MAP_TASK, _map_task(False))
Mp.register_batch_task(_STARMAP_TASK, _map_task(True))


def _timeout_error(message):
    # Imported here: the override loads in every process, most never wait.
    import multiprocessing
    return multiprocessing.TimeoutError(message)


def _deadline(timeout):
    return None if timeout is None else time.monotonic() + max(float(timeout), 0.0)


def _remaining(deadline):
    """The next slice of a wait: None when the deadline has passed."""
    if deadline is None:
        return _WAIT_SLICE
    left = deadline - time.monotonic()
    return None if left <= 0 else min(left, _WAIT_SLICE)


def _sliced_wait(wait, timeout):
    """wait(seconds) -> bool in slices, so that signals are seen."""
    deadline = _deadline(timeout)
    while True:
        step = _remaining(deadline)
        if wait(0.0 if step is None else step):
            return True
        if step is None or (deadline is not None and time.monotonic() >= deadline):
            return False


def _star_args(item):
    try:
        return tuple(item)
    except TypeError:
        raise TypeError(f"starmap takes an iterable of argument tuples, not of {type(item).__name__}") from None


def _batch_items(iterable, star):
    """The items of a map by a batch task (see "Maps in batches"): the bare
    argument of each call (starmap: its arguments tuple), as one array."""
    return to_variant([_star_args(item) for item in iterable] if star else iterable)


# The targets of functions given to pools, by function (a program calls
# the same few again and again).
_targets = {}


def _target(func):
    """_Target(func), made once for a function called again."""
    try:
        target = _targets.get(func)
    except TypeError:
        return _Target(func)
    if target is not None and target.still(func):
        return target
    target = _Target(func)
    if len(_targets) >= 1024:
        _targets.clear()
    _targets[func] = target
    return target


class _Target:
    """Where the calls of func go: the task that looks it up by name (a
    module-level function, as Python's Pool pickles it), a task
    registered by name (a str, or a function registered with @Mp.task
    that cannot be looked up), and how one call's arguments travel."""

    def __init__(self, func):
        if isinstance(func, str):
            self.task = func
            self.name = None
            return
        if not callable(func):
            raise TypeError(f"{func!r} is not callable")
        module = getattr(func, "__module__", None)
        qualname = getattr(func, "__qualname__", None)
        found = None
        if module is not None and qualname is not None and "<" not in qualname:
            try:
                found = _lookup(module, qualname)
            except Exception:
                found = None
        if found is func:
            self.task = _CALL_TASK
            self.name = (module, qualname)
            full_name = f"{module}:{qualname}"
            self.map_tasks = (_MAP_TASK + full_name, _STARMAP_TASK + full_name)
            # What every call starts with, made once.
            self._name = GLib.Variant.new_string(full_name)
            return
        registered = getattr(func, "__mp_task_name__", None)
        if registered is not None:
            self.task = registered
            self.name = None
            return
        raise TypeError(
            f"{func!r} cannot go to a pool worker: give a function defined at module level (before "
            "Mp.init() for spawn and forkserver workers), as Python's Pool needs a picklable one")

    def still(self, func):
        """Whether func is still what this target was made for (the
        function its module has under its name)."""
        if self.name is None:
            return True
        module, qualname = self.name
        if "." in qualname:
            try:
                return _lookup(module, qualname) is func
            except Exception:
                return False
        return getattr(sys.modules.get(module), qualname, None) is func

    def error(self, error):
        """error, naming the function rather than the task that looks it
        up (a worker that died, a timeout)."""
        if self.name is None:
            return error
        message = error.message
        for task in (*self.map_tasks, _CALL_TASK):
            message = message.replace(task, ".".join(self.name))
        if message == error.message:
            return error
        return GLib.Error(message, error.domain, error.code)

    def call(self, args=(), kwargs=None):
        """One call's arguments, as the task takes them."""
        if not isinstance(args, (tuple, list)):
            raise TypeError(f"args must be a tuple, not {type(args).__name__}")
        packed = to_variant(tuple(args))
        if self.name is None:
            if kwargs:
                raise TypeError(f"the task {self.task!r} is called by name: it takes no keyword arguments")
            return packed
        if kwargs:
            return GLib.Variant.new_tuple(self._name, GLib.Variant.new_variant(packed),
                                          to_variant({str(k): v for k, v in kwargs.items()}))
        return GLib.Variant.new_tuple(self._name, GLib.Variant.new_variant(packed))

    def map(self, iterable, star):
        """The task and the items of a map (starmap: star). A function
        runs in batches, its bare arguments in one array (see "Maps in
        batches"); a task by name gets each call's arguments as they are,
        and an array has one element type."""
        if self.name is not None:
            return self.map_tasks[star], _batch_items(iterable, star)
        calls = [self.call(_star_args(item) if star else (item,)) for item in iterable]
        if not calls:
            return self.task, GLib.Variant.new_array(GLib.VariantType.new("()"), [])
        types = {c.get_type_string() for c in calls}
        if len(types) > 1:
            raise TypeError(f"the calls of the task {self.task!r} must have one GLib.Variant type of "
                            f"arguments, not {', '.join(sorted(types))}")
        return self.task, GLib.Variant.new_array(GLib.VariantType.new(types.pop()), calls)


class _Callbacks:
    """Runs a pool's callbacks, as the result-handler thread of Python's
    Pool does: on a thread of its own, with a GLib main context of its own
    that the pool delivers the results to, in the order they are done. The
    thread exists while callbacks are due and ends when none are."""

    def __init__(self):
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._thread = None
        self._context = None

    def watch(self, result, deliver):
        """deliver() runs on the thread once result (an Mp.PoolResult) is ready."""
        with self._lock:
            self._pending += 1
            if self._thread is None:
                self._context = GLib.MainContext.new()
                self._thread = threading.Thread(target=self._run, args=(self._context,),
                                                name="Mp.Pool callbacks", daemon=True)
                self._thread.start()
            context = self._context
        try:
            source = GLib.idle_source_new()
            source.set_callback(self._start_wait, (result, deliver))
            source.attach(context)
        except BaseException:
            with self._lock:
                self._pending -= 1
            context.wakeup()
            raise

    def _run(self, context):
        context.push_thread_default()
        try:
            while True:
                with self._lock:
                    if self._pending == 0:
                        self._thread = None
                        self._context = None
                        self._idle.notify_all()
                        return
                context.iteration(True)
        finally:
            context.pop_thread_default()

    def _start_wait(self, data):
        # On the thread, its context the thread-default: the result comes here.
        result, deliver = data
        result.get_async(None, self._ready, deliver)
        return GLib.SOURCE_REMOVE

    def _ready(self, result, res, deliver):
        try:
            deliver()
        finally:
            with self._lock:
                self._pending -= 1

    def in_thread(self):
        with self._lock:
            return self._thread is threading.current_thread()

    def wait(self, timeout=None):
        """Until every callback due has run and the thread is gone."""
        if self.in_thread():
            return False
        deadline = _deadline(timeout)
        with self._lock:
            while self._thread is not None:
                step = _remaining(deadline)
                if step is None:
                    return False
                self._idle.wait(step)
            return True


class AsyncResult:
    """What Pool.apply_async(), map_async() and starmap_async() return, as
    Python's AsyncResult: get(timeout), wait(timeout), ready(),
    successful(), and cancel() (beyond Python: see Mp.PoolResult.cancel).

    With a callback or an error_callback, the result is ready once its
    callback has run (on the pool's callback thread), as in Python.

    get() raises what the work failed with as the GLib.Error the library
    reports (see Pool); a timeout of get() itself raises
    multiprocessing.TimeoutError, and the work goes on."""

    def __init__(self, pool, result, target, callback=None, error_callback=None):
        self._pool = pool          # as in Python: the pool lives while its results are awaited
        self._result = result      # the Mp.PoolResult
        self._target = target
        self._callback = callback
        self._error_callback = error_callback
        self._event = None
        if callback is not None or error_callback is not None:
            self._event = threading.Event()
            pool._pool_callbacks().watch(result, self._deliver)

    @property
    def pool_result(self):
        """The Mp.PoolResult underneath (GVariant values, GIO async)."""
        return self._result

    def _outcome(self):
        """(True, value) or (False, error) of a ready result."""
        try:
            return True, from_variant(self._result.get(0))
        except GLib.Error as e:
            return False, self._target.error(e)

    def _deliver(self):
        ok, value = self._outcome()
        try:
            if ok and self._callback is not None:
                self._callback(value)
            elif not ok and self._error_callback is not None:
                self._error_callback(value)
        except Exception:
            # As an exception in a thread: reported, and the pool goes on.
            sys.excepthook(*sys.exc_info())
        finally:
            self._event.set()

    def ready(self):
        if self._event is not None:
            return self._event.is_set()
        return self._result.ready()

    def successful(self):
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._result.successful()

    def wait(self, timeout=None):
        """Waits until the result is ready; returns whether it is (Python
        returns None; a true value here is only more)."""
        if self._event is not None:
            return self._event.wait(timeout)
        return _sliced_wait(self._result.wait, timeout)

    def get(self, timeout=None):
        if not self.wait(timeout):
            raise _timeout_error("The result was not ready before the timeout")
        ok, value = self._outcome()
        if not ok:
            raise value
        return value

    def cancel(self):
        """Cancels the work: waiting calls are dropped, a running one's
        worker is killed and replaced; get() raises G_IO_ERROR_CANCELLED."""
        self._result.cancel()


__all__.append("AsyncResult")


class _NextCall:
    __slots__ = ("done", "ok", "value", "error")

    def __init__(self):
        self.done = False
        self.ok = False
        self.value = None
        self.error = None


class IMapIterator:
    """What Pool.imap() and imap_unordered() return, as Python's: an
    iterator, with next(timeout) raising multiprocessing.TimeoutError when
    nothing came in time (call it again). A call that failed raises its
    GLib.Error where its result would have been, and the iteration goes on,
    as in Python. cancel() (beyond Python) drops what is left.

    Waits go through Mp.PoolIterator.next_async on a main context of the
    iterator's own, so that a wait that times out is never mistaken for a
    task that timed out."""

    def __init__(self, pool, iterator, target):
        self._pool = pool          # the Mp.PoolIterator does not keep it
        self._iterator = iterator
        self._target = target
        self._context = GLib.MainContext.new()
        self._lock = threading.Lock()
        self._call = None

    @property
    def pool_iterator(self):
        """The Mp.PoolIterator underneath."""
        return self._iterator

    def __iter__(self):
        return self

    @staticmethod
    def _done(iterator, res, call):
        try:
            call.ok, call.value = iterator.next_finish(res)
        except GLib.Error as e:
            call.error = e
        call.done = True

    def next(self, timeout=None):
        deadline = _deadline(timeout)
        with self._lock:
            context = self._context
            context.push_thread_default()
            try:
                call = self._call
                if call is None:
                    # A call that timed out stays for the next next().
                    call = self._call = _NextCall()
                    self._iterator.next_async(None, self._done, call)
                while True:
                    while not call.done and context.pending():
                        context.iteration(False)
                    if call.done:
                        break
                    step = _remaining(deadline)
                    if step is None:
                        raise _timeout_error("No result came before the timeout")
                    wake = GLib.timeout_source_new(max(int(step * 1000), 1))
                    wake.set_callback(lambda *unused: GLib.SOURCE_REMOVE)
                    wake.attach(context)
                    try:
                        context.iteration(True)
                    finally:
                        wake.destroy()
            finally:
                context.pop_thread_default()
            self._call = None
        if call.error is not None:
            raise self._target.error(call.error)
        if not call.ok:
            raise StopIteration
        return from_variant(call.value)

    __next__ = next

    def cancel(self):
        self._iterator.cancel()


__all__.append("IMapIterator")


# Pools copied into this fork child, never disposed here (see Pool.__del__).
_forked_pools = []

_pool_apply = Mp.Pool.apply

# Signals and their Python handlers, read through _signal (signal's
# wrappers make enums of them, 20 times slower).
_SIGINT = int(_signal.SIGINT)
_OTHER_SIGNALS = [int(s) for s in sorted(_signal.valid_signals()) if s != _signal.SIGINT]
_NO_HANDLER = {int(_signal.SIG_DFL), int(_signal.SIG_IGN), None}


def _only_ctrl_c():
    """Whether the one Python signal handler is SIGINT's default, which
    raises KeyboardInterrupt. (Only the main thread sets handlers: while
    it is in a C call, they stay as they are.)"""
    return (_signal.getsignal(_SIGINT) is _signal.default_int_handler
            and set(map(_signal.getsignal, _OTHER_SIGNALS)) <= _NO_HANDLER)


class _SignalWatch:
    """Python runs a signal handler in the main thread between bytecodes,
    so never while that thread is in a C call; but it writes the signal's
    number to its wakeup fd at once. This process's watch reads that fd
    on a thread of its own, and cancels the blocking C call the main
    thread is making (see _apply_interruptibly); what it reads goes on to
    the wakeup fd set before, if any."""

    def __init__(self):
        import socket
        self.read, self.write = socket.socketpair()
        self.write.setblocking(False)
        self.lock = _thread.allocate_lock()
        self.cancellable = None   # the call under way
        self.previous = -1
        self.interrupted = False
        threading.Thread(target=self._run, name="Mp signal watch", daemon=True).start()

    def on_sigint(self, signum, frame):
        # SIGINT's handler during a call: the call ends with
        # KeyboardInterrupt. (default_int_handler would raise it while
        # PyGObject turns the call's error into an exception, which fails.)
        self.interrupted = True

    def _run(self):
        while True:
            data = self.read.recv(64)
            with self.lock:
                if self.previous >= 0:
                    try:
                        os.write(self.previous, data)
                    except OSError:
                        pass
                if self.cancellable is not None:
                    self.cancellable.cancel()


_signal_watch = None
_signal_watch_pid = None
_NOT_MADE = object()


def _apply_interruptibly(pool, task, args):
    """The C blocking apply from the main thread, with Ctrl-C: a SIGINT
    cancels it (its worker is killed and replaced, as a cancelled running
    call's is) and raises KeyboardInterrupt. Only while SIGINT's handler is
    the default one and no other signal has a Python handler (see
    _only_ctrl_c): another handler should run during the wait, and may not
    raise, which the killed call could not undo. _NOT_MADE when signals
    cannot be watched here."""
    global _signal_watch, _signal_watch_pid
    if _signal_watch_pid != os.getpid():
        _signal_watch = _SignalWatch()
        _signal_watch_pid = os.getpid()
    watch = _signal_watch
    cancellable = Gio.Cancellable()
    with watch.lock:
        try:
            watch.previous = _signal.set_wakeup_fd(watch.write.fileno())
        except ValueError:
            # Not the main interpreter: no signals here to watch.
            return _NOT_MADE
        watch.cancellable = cancellable
    watch.interrupted = False
    _signal.signal(_SIGINT, watch.on_sigint)
    try:
        return _pool_apply(pool, task, args, cancellable)
    finally:
        _signal.signal(_SIGINT, _signal.default_int_handler)
        with watch.lock:
            _signal.set_wakeup_fd(watch.previous)
            watch.previous = -1
            watch.cancellable = None
        if watch.interrupted:
            # The call's outcome (CANCELLED, if the SIGINT came in time)
            # gives way, as default_int_handler would have raised.
            raise KeyboardInterrupt


_initable_init = Gio.Initable.init
_get_worker_pids = Mp.Pool.get_worker_pids


class Pool(Mp.Pool):
    """multiprocessing.Pool on libmp:

        Mp.Pool(processes=None, initializer=None, initargs=(),
                maxtasksperchild=None, start_method=None, retries=0,
                task_timeout=None)

    with apply, apply_async, map, map_async, starmap, starmap_async, imap,
    imap_unordered, close, terminate and join, and as a context manager
    whose exit terminates, as Python's. Beyond Python: a worker that dies
    fails only the call it ran (retried `retries` times first) and is
    replaced; task_timeout (seconds) kills a call that runs longer;
    results and imap iterators can be cancelled; join takes a timeout.
    The GObject properties (n-workers, n-submitted, n-completed, n-failed,
    task-timeout, ...) and the task-finished signal are the library's,
    through pool.props, notified in the main context of the thread that
    made the pool.

    Functions: func (and initializer) is a function defined at module
    level, as Python's Pool pickles it; it travels by module and qualified
    name and the worker looks it up. Spawn and forkserver workers know
    what the program defines before Mp.init(), so define it there. A str
    names a task registered with Mp.register_task (by name, no keywords).
    Arguments and results are Python values as Mp.to_variant and
    Mp.from_variant convert them (None, bool, int, float, str, bytes,
    tuples, lists, dicts with str keys, pipes, queues); another type is
    refused with TypeError before anything is sent.

    Errors, one rule: what the work fails with is raised as the GLib.Error
    the library reports. A Python exception in the task is
    MP_ERROR_TASK_FAILED whose message is the worker's traceback (its last
    line the exception, e.g. "ZeroDivisionError: division by zero"); a
    worker that died is MP_ERROR_WORKER_DIED, task_timeout is
    G_IO_ERROR_TIMED_OUT, cancel() G_IO_ERROR_CANCELLED, terminate()
    G_IO_ERROR_CLOSED, work given to a closed pool MP_ERROR_INVALID_STATE,
    a broken pool MP_ERROR_POOL_BROKEN. Python exceptions come only from
    this side: TypeError and ValueError for arguments refused before
    anything is sent, and multiprocessing.TimeoutError when the caller's
    own wait (get(timeout), next(timeout)) runs out.

    Callbacks: the library delivers results in a GLib main context. So
    that callback and error_callback run with no main loop in the program,
    the pool has a callback thread, as Python's result-handler thread: a
    Python thread iterating a main context of its own, to which the
    results of calls with callbacks are delivered, in the order they are
    done. It runs while callbacks are due; join() and terminate() return
    once they have all run (unless called from a callback). A callback
    must not wait for another call's callback (as in Python). An exception
    in a callback is reported through sys.excepthook.

    Start methods: spawn or forkserver, so Mp.init() comes first. A pool
    never forks from its own thread (a worker forked while another thread
    holds the GIL hangs on its first task): after Mp.init(), fork, asked
    for or the default, means forkserver.

    Speed: a map (starmap, imap) of a function runs a batch task in the
    workers, one call into Python per chunk, and ints or floats travel as
    "ax"/"ad" arrays, in place when they are many (see "Maps in batches"
    in this file). The blocking apply() is the library's, which an idle
    pool runs straight on a worker (see MpPool).

    Pool() returns once its workers are started (as Python's). Blocking
    waits run in C in slices of a quarter of a second, so that Ctrl-C
    interrupts them; see apply() for its own."""

    def __init__(self, processes=None, initializer=None, initargs=(), maxtasksperchild=None,
                 start_method=None, retries=0, task_timeout=None, **props):
        if processes is not None:
            if not isinstance(processes, int) or processes < 1:
                raise ValueError("Number of processes must be at least 1")
            props["n_workers"] = processes
        if maxtasksperchild is not None:
            if not isinstance(maxtasksperchild, int) or maxtasksperchild <= 0:
                raise ValueError("maxtasksperchild must be a positive int or None")
            props["max_tasks_per_worker"] = maxtasksperchild
        if initializer is not None:
            if not callable(initializer) and not isinstance(initializer, str):
                raise TypeError("initializer must be a callable")
            target = _Target(initializer)
            props["initializer"] = target.task
            props["initargs"] = target.call(initargs)
        if start_method is not None:
            props["start_method"] = _start_method(start_method)
        if retries:
            props["retries"] = retries
        if task_timeout is not None:
            props["task_timeout"] = float(task_timeout)
        super().__init__(**props)
        self._mp_pid = os.getpid()
        _live_pools.add(self)
        # What the parent printed comes before what the workers print.
        _flush()
        # Pool() returns with its workers started, as Python's: the second
        # call goes through the pool's thread, which starts them first.
        _initable_init(self, None)
        _get_worker_pids(self)

    def __del__(self):
        # Python's Pool terminates when it is collected, and so does
        # MpPool's dispose, but that runs inside PyGObject's dealloc with
        # the GIL held, and joins the pool's thread, which may be
        # finalizing a result or iterator that Python wrapped (its
        # PyGObject data needs the GIL): a deadlock. So the pool is
        # terminated here, with the GIL released, and the pool's thread
        # is done with every call before the dispose.
        #
        # In a fork child (a pool worker, a forked Process) a copy of a
        # pool has no thread: its dispose would wait for it for ever. The
        # copy is kept instead, until the child exits.
        if self.__dict__.get("_mp_pid", os.getpid()) != os.getpid():
            _forked_pools.append(self)
            return
        try:
            Mp.Pool.terminate(self)
            self.get_worker_pids()
        except Exception:
            pass

    def _pool_keep(self, result, objects):
        """Keeps a call's arguments until its result is ready: their
        GVariants name this process's descriptors of the objects in them
        (locks, values, queues...), which the pool's thread sends later."""
        kept = self.__dict__.get("_mp_kept")
        if kept is None:
            kept = self.__dict__.setdefault("_mp_kept", collections.deque())
        while kept and kept[0][0].ready():
            kept.popleft()
        kept.append((result, objects))

    def _pool_callbacks(self):
        callbacks = self.__dict__.get("_mp_callbacks")
        if callbacks is None:
            callbacks = self.__dict__.setdefault("_mp_callbacks", _Callbacks())
        return callbacks

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.terminate()

    # apply

    def apply_async(self, func, args=(), kwds=None, callback=None, error_callback=None, *, timeout=None):
        """As Python's; timeout (beyond Python) is this call's task_timeout."""
        target = _target(func)
        result = self.submit(target.task, target.call(args, kwds), -1.0 if timeout is None else float(timeout))
        self._pool_keep(result, (args, kwds))
        return AsyncResult(self, result, target, callback, error_callback)

    def apply(self, func, args=(), kwds=None, *, timeout=None):
        """As Python's; timeout (beyond Python) is this call's task_timeout.

        Without timeout, the library's blocking apply, which an idle pool
        runs straight on a worker (see MpPool). In the main thread Ctrl-C
        interrupts it with KeyboardInterrupt, as in Python, by cancelling
        the call: its worker is killed and replaced. (Python's call would
        go on in its worker; a Ctrl-C in a terminal interrupts the workers
        too, in both.) While any other Python signal handler is set, the
        call is submitted and waited for in slices, so that the handler
        runs during the wait, as with every other wait here."""
        if timeout is None:
            in_main = threading.current_thread() is threading.main_thread()
            if not in_main or _only_ctrl_c():
                target = _target(func)
                call = target.call(args, kwds)
                try:
                    if in_main:
                        value = _apply_interruptibly(self, target.task, call)
                    else:
                        # No signal handler runs in this thread.
                        value = _pool_apply(self, target.task, call, None)
                except GLib.Error as e:
                    raise target.error(e) from None
                except KeyboardInterrupt as e:
                    raise e from None
                if value is not _NOT_MADE:
                    return from_variant(value)
        return self.apply_async(func, args, kwds, timeout=timeout).get()

    # map and starmap

    def _map_async(self, func, iterable, chunksize, callback, error_callback, star):
        if chunksize is not None and (not isinstance(chunksize, int) or chunksize < 1):
            raise ValueError(f"Chunksize must be 1+, not {chunksize!r}")
        target = _target(func)
        iterable = list(iterable)
        task, items = target.map(iterable, star)
        result = self.submit_map(task, items, chunksize or 0)
        self._pool_keep(result, iterable)
        return AsyncResult(self, result, target, callback, error_callback)

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        return self._map_async(func, iterable, chunksize, callback, error_callback, False)

    def map(self, func, iterable, chunksize=None):
        return self.map_async(func, iterable, chunksize).get()

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        return self._map_async(func, iterable, chunksize, callback, error_callback, True)

    def starmap(self, func, iterable, chunksize=None):
        return self.starmap_async(func, iterable, chunksize).get()

    # imap

    def _imap(self, func, iterable, chunksize, ordered):
        if not isinstance(chunksize, int) or chunksize < 1:
            raise ValueError(f"Chunksize must be 1+, not {chunksize!r}")
        target = _target(func)
        iterable = list(iterable)
        task, items = target.map(iterable, False)
        if ordered:
            iterator = Mp.Pool.imap(self, task, items, chunksize)
        else:
            iterator = Mp.Pool.imap_unordered(self, task, items, chunksize)
        result = IMapIterator(self, iterator, target)
        # The items' objects (locks, values...) live while the iterator does.
        result._items = iterable
        return result

    def imap(self, func, iterable, chunksize=1):
        """As Python's, with the iterable read at once (the library takes
        an array); the calls go to the workers a few chunks ahead of the
        results taken."""
        return self._imap(func, iterable, chunksize, True)

    def imap_unordered(self, func, iterable, chunksize=1):
        return self._imap(func, iterable, chunksize, False)

    # the end

    def close(self):
        Mp.Pool.close(self)

    def terminate(self):
        """Fails waiting work with G_IO_ERROR_CLOSED, kills the workers and
        returns once they are gone and the callbacks due have run."""
        Mp.Pool.terminate(self)
        self._pool_callbacks().wait()

    def join(self, timeout=None):
        """Waits for the workers to leave after close() or terminate(),
        and for the callbacks due; returns whether they did before timeout
        (None: no limit)."""

        def wait(step):
            try:
                return Mp.Pool.join(self, step, None)
            except GLib.Error as e:
                if e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT):
                    return False
                raise

        deadline = _deadline(timeout)
        if not _sliced_wait(wait, timeout):
            return False
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        return self._pool_callbacks().wait(left) or self._pool_callbacks().in_thread()


Pool = override(Pool)
__all__.append("Pool")


# ---- Synchronization and shared memory ----------------------------------------
#
# multiprocessing's Lock, RLock, Semaphore, BoundedSemaphore, Condition,
# Event, Barrier, Value, Array and shared_memory.SharedMemory, over the
# library's classes. They all are Mp.Shareable: pass them in Process or Pool
# arguments, process properties, pipes and queues, and the same object comes
# out on the other side (to_variant / from_variant), in every start method.
#
# Blocking acquires and Event.wait() run in C in slices of _WAIT_SLICE, so
# that Ctrl-C interrupts them, as in Python. Condition.wait() and
# Barrier.wait() are one C wait each (a slice that ran out would end a
# barrier wait for every party): a signal is seen when they return.

_IO_DOMAIN = "g-io-error-quark"
_MP_DOMAIN = "mp-error-quark"


def _matches(error, domain, code):
    return isinstance(error, GLib.Error) and error.domain == domain and error.code == int(code)


def _timed_out(error):
    return (_matches(error, _IO_DOMAIN, Gio.IOErrorEnum.TIMED_OUT)
            or _matches(error, _IO_DOMAIN, Gio.IOErrorEnum.WOULD_BLOCK))


class OwnerDiedError(RuntimeError):
    """The process that held the lock died holding it (MP_ERROR_OWNER_DIED).
    When acquire() raises it, the caller holds the lock: check the data it
    protects, then release it as usual. `with lock:` warns instead
    (RuntimeWarning) and enters the block. Beyond Python, whose lock would
    stay held for ever."""

    def __init__(self, message, error=None):
        super().__init__(message)
        self.error = error


__all__.append("OwnerDiedError")


def _owner_died(error):
    return OwnerDiedError(error.message, error)


def _try_wait(call, block=True, timeout=None):
    """call(seconds) is a C wait that raises G_IO_ERROR_TIMED_OUT when it
    runs out. Runs it in slices (block=False: one try) and returns whether
    it succeeded before timeout (None: no limit; negative: 0, as Python)."""
    if not block:
        timeout = 0.0
    deadline = None if timeout is None else time.monotonic() + max(float(timeout), 0.0)
    while True:
        if deadline is None:
            step = _WAIT_SLICE
        else:
            step = max(0.0, min(deadline - time.monotonic(), _WAIT_SLICE))
        try:
            call(step)
            return True
        except GLib.Error as e:
            if not _timed_out(e):
                raise
        if deadline is not None and time.monotonic() >= deadline:
            return False


def _acquire(raw, obj, block, timeout, cancellable):
    """raw(obj, seconds, cancellable) is a lock's C acquire: one try
    first (a free lock's fast path), then a sliced wait."""
    try:
        try:
            if raw(obj, 0.0, cancellable):
                return True
        except GLib.Error as e:
            if not _timed_out(e):
                raise
        if not block or (timeout is not None and timeout <= 0):
            return False
        return _try_wait(lambda t: raw(obj, t, cancellable), True, timeout)
    except GLib.Error as e:
        if _matches(e, _MP_DOMAIN, Mp.Error.OWNER_DIED):
            raise _owner_died(e) from None
        raise


def _enter(lock):
    """`with lock:` — an owner that died is a warning there: the block
    runs with the lock held."""
    try:
        return lock.acquire()
    except OwnerDiedError as e:
        import warnings
        warnings.warn(f"{e} (the lock is held now)", RuntimeWarning, stacklevel=3)
        return True


# The C methods, looked up once (the classes below override their names).
_lock_acquire = Mp.Lock.acquire
_lock_release = Mp.Lock.release
_rlock_acquire = Mp.RLock.acquire
_rlock_release = Mp.RLock.release
_semaphore_acquire = Mp.Semaphore.acquire
_semaphore_release = Mp.Semaphore.release
_condition_acquire = Mp.Condition.acquire
_value_get = Mp.Value.get
_value_set = Mp.Value.set


_TOO_MANY_RELEASES = "semaphore or lock released too many times"


class Lock(Mp.Lock):
    """multiprocessing.Lock on libmp: Mp.Lock(). acquire(block=True,
    timeout=None) -> bool, release(), locked(), and a context manager. Any
    process (or thread) may release it; releasing a free lock raises
    ValueError, as in Python. A holder that dies hands it on: see
    OwnerDiedError."""

    def __new__(cls):
        return Mp.Lock.new()

    def __init__(self):
        pass

    def acquire(self, block=True, timeout=None, cancellable=None):
        return _acquire(_lock_acquire, self, block, timeout, cancellable)

    def release(self):
        try:
            _lock_release(self)
        except GLib.Error as e:
            if _matches(e, _MP_DOMAIN, Mp.Error.INVALID_STATE):
                raise ValueError(_TOO_MANY_RELEASES) from None
            raise

    def locked(self):
        return self.is_locked()

    def __enter__(self):
        return _enter(self)

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        return f"<Mp.Lock({'locked' if self.is_locked() else 'unlocked'})>"


Lock = override(Lock)
__all__.append("Lock")


class RLock(Mp.RLock):
    """multiprocessing.RLock on libmp: Mp.RLock(). The thread that holds it
    may acquire it again; only that thread may release it (RuntimeError
    otherwise, as in Python). is_owned() and get_count() tell about the
    calling thread. A holder that dies hands it on: see OwnerDiedError."""

    def __new__(cls):
        return Mp.RLock.new()

    def __init__(self):
        pass

    def acquire(self, block=True, timeout=None, cancellable=None):
        return _acquire(_rlock_acquire, self, block, timeout, cancellable)

    def release(self):
        try:
            _rlock_release(self)
        except GLib.Error as e:
            if _matches(e, _MP_DOMAIN, Mp.Error.INVALID_STATE):
                raise RuntimeError("cannot release un-acquired lock") from None
            raise

    def __enter__(self):
        return _enter(self)

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        return f"<Mp.RLock(owned by this thread {self.get_count()} times)>"


RLock = override(RLock)
__all__.append("RLock")


class Semaphore(Mp.Semaphore):
    """multiprocessing.Semaphore on libmp: Mp.Semaphore(value=1).
    acquire(block=True, timeout=None) -> bool, release(), get_value(), and
    a context manager. Mp.BoundedSemaphore(value) makes one whose release
    above the initial value raises ValueError."""

    def __new__(cls, value=1):
        return _new_semaphore(value, False)

    def __init__(self, value=1):
        pass

    def acquire(self, block=True, timeout=None, cancellable=None):
        return _acquire(_semaphore_acquire, self, block, timeout, cancellable)

    def release(self):
        try:
            _semaphore_release(self)
        except GLib.Error as e:
            if _matches(e, _MP_DOMAIN, Mp.Error.INVALID_STATE):
                raise ValueError(_TOO_MANY_RELEASES) from None
            raise

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        kind = "BoundedSemaphore" if self.is_bounded() else "Semaphore"
        return f"<Mp.{kind}(value={self.get_value()})>"


def _new_semaphore(value, bounded):
    value = operator.index(value)
    if value < 0:
        raise ValueError("semaphore initial value must be >= 0")
    if value > 0x7FFFFFFF:
        raise OverflowError(f"semaphore initial value {value} is too large")
    return Mp.Semaphore.new(value, bounded)


Semaphore = override(Semaphore)
__all__.append("Semaphore")


def BoundedSemaphore(value=1):
    """multiprocessing.BoundedSemaphore: an Mp.Semaphore whose release()
    above value raises ValueError (is_bounded() is True)."""
    return _new_semaphore(value, True)


__all__.append("BoundedSemaphore")


class Condition(Mp.Condition):
    """multiprocessing.Condition on libmp: Mp.Condition(lock=None), lock an
    Mp.Lock or Mp.RLock (None: a new RLock). acquire/release/`with`,
    wait(timeout=None) -> bool (False when it ran out; the lock is held
    again either way), wait_for(predicate, timeout=None), notify(n=1)
    (wakes exactly n waiters, fewer if fewer wait) and notify_all(). Waiting
    or notifying without the lock raises RuntimeError, as in Python."""

    def __new__(cls, lock=None):
        if lock is not None and not isinstance(lock, (Mp.Lock, Mp.RLock)):
            raise TypeError(f"a Condition's lock must be an Mp.Lock or Mp.RLock, not {type(lock).__name__}")
        return Mp.Condition.new(lock)

    def __init__(self, lock=None):
        pass

    @property
    def lock(self):
        return self.get_lock()

    def acquire(self, block=True, timeout=None, cancellable=None):
        return _acquire(_condition_acquire, self, block, timeout, cancellable)

    def release(self):
        self.get_lock().release()

    def __enter__(self):
        return _enter(self)

    def __exit__(self, *exc):
        self.release()

    def wait(self, timeout=None, cancellable=None):
        try:
            return Mp.Condition.wait(self, -1.0 if timeout is None else max(float(timeout), 0.0), cancellable)
        except GLib.Error as e:
            if _timed_out(e):
                return False
            if _matches(e, _MP_DOMAIN, Mp.Error.INVALID_STATE):
                raise RuntimeError("cannot wait on un-acquired lock") from None
            if _matches(e, _MP_DOMAIN, Mp.Error.OWNER_DIED):
                raise _owner_died(e) from None
            raise

    def wait_for(self, predicate, timeout=None):
        """As Python's: waits until predicate() is true (tested first, then
        after each wakeup) and returns its last result."""
        endtime = None
        waittime = timeout
        result = predicate()
        while not result:
            if waittime is not None:
                if endtime is None:
                    endtime = time.monotonic() + waittime
                else:
                    waittime = endtime - time.monotonic()
                    if waittime <= 0:
                        break
            self.wait(waittime)
            result = predicate()
        return result

    def notify(self, n=1):
        if n < 0:
            raise ValueError("n must be >= 0")
        try:
            return Mp.Condition.notify(self, min(n, 0xFFFFFFFF))
        except GLib.Error as e:
            if _matches(e, _MP_DOMAIN, Mp.Error.INVALID_STATE):
                raise RuntimeError("cannot notify on un-acquired lock") from None
            raise

    def notify_all(self):
        try:
            return Mp.Condition.notify_all(self)
        except GLib.Error as e:
            if _matches(e, _MP_DOMAIN, Mp.Error.INVALID_STATE):
                raise RuntimeError("cannot notify on un-acquired lock") from None
            raise


Condition = override(Condition)
__all__.append("Condition")


class Event(Mp.Event):
    """multiprocessing.Event on libmp: Mp.Event(). set(), clear(), is_set(),
    wait(timeout=None) -> bool (False when it ran out, as in Python)."""

    def __new__(cls):
        return Mp.Event.new()

    def __init__(self):
        pass

    def wait(self, timeout=None, cancellable=None):
        return _try_wait(lambda t: Mp.Event.wait(self, t, cancellable), True, timeout)

    def __repr__(self):
        return f"<Mp.Event({'set' if self.is_set() else 'unset'})>"


Event = override(Event)
__all__.append("Event")


class Barrier(Mp.Barrier):
    """multiprocessing.Barrier on libmp: Mp.Barrier(parties, action=None,
    timeout=None). wait(timeout=None) -> the arrival index (exactly one
    party gets 0); it raises threading.BrokenBarrierError when the barrier
    is or gets broken (abort(), reset() while waiting, another party's
    timeout) and when this wait times out (which breaks it for all, as in
    Python). reset(), abort(); properties parties, n_waiting, broken.

    action runs in the process of the last party to arrive, before the
    others go on: a function defined at module level (it travels by module
    and qualified name, as Pool functions do: spawn and forkserver children
    know what the program defined before Mp.init()), or a str naming a
    registered task. If it raises, that party gets the error (MP_ERROR_
    TASK_FAILED with the traceback) and the barrier breaks for the others."""

    def __new__(cls, parties, action=None, timeout=None):
        parties = operator.index(parties)
        if parties < 1:
            raise ValueError("parties must be > 0")
        barrier = Mp.Barrier.new(parties)
        if action is not None:
            target = _Target(action)
            barrier.set_action(target.task, target.call(()))
        if timeout is not None:
            barrier.set_timeout(max(float(timeout), 0.0))
        return barrier

    def __init__(self, parties, action=None, timeout=None):
        pass

    def wait(self, timeout=None, cancellable=None):
        try:
            return Mp.Barrier.wait(self, -1.0 if timeout is None else max(float(timeout), 0.0), cancellable)
        except GLib.Error as e:
            if _matches(e, _MP_DOMAIN, Mp.Error.BROKEN_BARRIER) or _timed_out(e) or \
                    _matches(e, _IO_DOMAIN, Gio.IOErrorEnum.CANCELLED):
                raise threading.BrokenBarrierError(e.message) from None
            raise

    @property
    def parties(self):
        return self.get_parties()

    @property
    def n_waiting(self):
        return self.get_n_waiting()

    @property
    def broken(self):
        return self.get_broken()

    def __repr__(self):
        return f"<Mp.Barrier(parties={self.parties}, waiting={self.n_waiting}, broken={self.broken})>"


Barrier = override(Barrier)
__all__.append("Barrier")


# Python's typecodes (array module, ctypes' _type_) and the GVariant types
# that hold them. GVariant has no 8-bit signed type: 'b' lives in an "n".
_TYPECODES = {
    "c": "y", "b": "n", "B": "y", "h": "n", "H": "q", "i": "i", "I": "u",
    "l": "x", "q": "x", "L": "t", "Q": "t", "f": "d", "d": "d", "?": "b",
}
# What a value made elsewhere (C, GJS, another Python typecode) shows as.
_FROM_GVARIANT = {"y": "B", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q", "d": "d", "b": "?"}
_RANGES = {
    "b": (-2 ** 7, 2 ** 7 - 1), "B": (0, 2 ** 8 - 1), "h": (-2 ** 15, 2 ** 15 - 1), "H": (0, 2 ** 16 - 1),
    "i": (-2 ** 31, 2 ** 31 - 1), "I": (0, 2 ** 32 - 1), "l": (-2 ** 63, 2 ** 63 - 1),
    "q": (-2 ** 63, 2 ** 63 - 1), "L": (0, 2 ** 64 - 1), "Q": (0, 2 ** 64 - 1),
}


# Typed constructors and getters: GLib.Variant(format, value) and unpack()
# parse in Python, several times slower.
_VARIANT_NEW = {
    "y": GLib.Variant.new_byte, "n": GLib.Variant.new_int16, "q": GLib.Variant.new_uint16,
    "i": GLib.Variant.new_int32, "u": GLib.Variant.new_uint32, "x": GLib.Variant.new_int64,
    "t": GLib.Variant.new_uint64, "d": GLib.Variant.new_double, "b": GLib.Variant.new_boolean,
}
_VARIANT_GET = {
    "y": GLib.Variant.get_byte, "n": GLib.Variant.get_int16, "q": GLib.Variant.get_uint16,
    "i": GLib.Variant.get_int32, "u": GLib.Variant.get_uint32, "x": GLib.Variant.get_int64,
    "t": GLib.Variant.get_uint64, "d": GLib.Variant.get_double, "b": GLib.Variant.get_boolean,
}


def _typecode(typecode_or_type):
    """The Python typecode of a typecode or ctypes type."""
    code = typecode_or_type
    if isinstance(code, type):
        code = getattr(code, "_type_", None)
    if isinstance(code, str) and code in _TYPECODES:
        return code
    raise TypeError(f"unsupported typecode or type {typecode_or_type!r}: one of "
                    f"{' '.join(repr(c) for c in _TYPECODES)} or the matching ctypes type")


def _pack(typecode, value):
    """value as a GVariant of typecode's type; TypeError for another kind,
    OverflowError out of the typecode's range (ctypes would wrap it)."""
    if typecode == "c":
        if isinstance(value, (bytes, bytearray)) and len(value) == 1:
            return GLib.Variant.new_byte(value[0])
        raise TypeError(f"one character bytes or bytearray expected, not {type(value).__name__}"
                        + (f" of length {len(value)}" if isinstance(value, (bytes, bytearray)) else ""))
    if typecode == "?":
        return GLib.Variant.new_boolean(bool(value))
    if typecode in "fd":
        if not isinstance(value, numbers.Real):
            raise TypeError(f"must be real number, not {type(value).__name__}")
        return GLib.Variant.new_double(float(value))
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"int expected instead of {type(value).__name__}") from None
    low, high = _RANGES[typecode]
    if not low <= number <= high:
        raise OverflowError(f"{number} does not fit typecode {typecode!r} ({low} to {high})")
    return _VARIANT_NEW[_TYPECODES[typecode]](number)


# The array module's codes for the elements of a GVariant array ("b" is a
# byte), native layout as GVariant keeps them.
_ARRAY_FORMAT = {"y": "B", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q", "d": "d", "b": "B"}


def _array_variant(typecode, values):
    """values (a sequence) as a GVariant array of typecode's type, each
    checked as _pack() checks one, made in one go from their bytes."""
    import array
    if typecode == "c":
        if isinstance(values, (bytes, bytearray)):
            numbers_ = bytes(values)
        else:
            numbers_ = bytes(_pack("c", v).get_byte() for v in values)
    elif typecode == "?":
        numbers_ = [1 if v else 0 for v in values]
    elif typecode in "fd":
        numbers_ = list(values)
        for v in numbers_:
            if not isinstance(v, numbers.Real):
                raise TypeError(f"must be real number, not {type(v).__name__}")
        numbers_ = [float(v) for v in numbers_]
    else:
        values = list(values)
        try:
            numbers_ = [operator.index(v) for v in values]
        except TypeError:
            bad = next(v for v in values if not hasattr(type(v), "__index__"))
            raise TypeError(f"int expected instead of {type(bad).__name__}") from None
        low, high = _RANGES[typecode]
        for n in numbers_:
            if not low <= n <= high:
                raise OverflowError(f"{n} does not fit typecode {typecode!r} ({low} to {high})")
    gtype = _TYPECODES[typecode]
    data = numbers_ if typecode == "c" else array.array(_ARRAY_FORMAT[gtype], numbers_).tobytes()
    return GLib.Variant.new_from_bytes(GLib.VariantType.new("a" + gtype), GLib.Bytes.new(data), True)


def _array_values(typecode, variant):
    """The elements of a GVariant array of typecode's type: bytes for 'c',
    else a list."""
    data = variant.get_data_as_bytes().get_data() or b""
    if typecode == "c":
        return data
    items = memoryview(data).cast(_ARRAY_FORMAT[_TYPECODES[typecode]]).tolist()
    if typecode == "?":
        return [bool(v) for v in items]
    return items


def _unpack(typecode, variant):
    value = _VARIANT_GET[_TYPECODES[typecode]](variant)
    if typecode == "c":
        return bytes((value,))
    return value


class Value(Mp.Value):
    """multiprocessing.Value on libmp: Mp.Value(typecode_or_type, *args,
    lock=True), typecode_or_type a typecode of the array module or a
    ctypes type (see _TYPECODES: 'c' is bytes of length 1, 'f' is stored
    as a double, '?' a bool), args the initial value (default zero). .value
    reads and writes it whole; get_lock() is its Mp.RLock (for
    `with v.get_lock(): v.value += 1`), get_obj() the value itself, and
    add(delta) adds atomically without the lock (beyond Python).

    lock is True or False: the lock lives with the value in shared memory
    and travels with it, so an existing lock object cannot be given
    (TypeError). A value out of the typecode's range raises OverflowError
    (ctypes would wrap it).

    In another process the value comes out with the typecode of its
    GVariant type: 'c' and 'B' as 'B' (an int), 'b' and 'h' as 'h', 'l'
    as 'q', 'L' as 'Q', 'f' as 'd'."""

    def __new__(cls, typecode_or_type, *args, lock=True):
        typecode = _typecode(typecode_or_type)
        if not isinstance(lock, bool):
            raise TypeError("lock must be True or False: an Mp.Value carries its own lock")
        if len(args) > 1:
            raise TypeError(f"Value takes one initial value, not {len(args)}")
        initial = _pack(typecode, args[0]) if args else None
        value = Mp.Value.new(_TYPECODES[typecode], initial, lock)
        value.__dict__["_mp_typecode"] = typecode
        return value

    def __init__(self, typecode_or_type, *args, lock=True):
        pass

    @property
    def typecode(self):
        code = self.__dict__.get("_mp_typecode")
        if code is None:
            code = self.__dict__["_mp_typecode"] = _FROM_GVARIANT[self.get_type_string()]
        return code

    @property
    def value(self):
        return _unpack(self.typecode, _value_get(self))

    @value.setter
    def value(self, value):
        _value_set(self, _pack(self.typecode, value))

    def add(self, delta):
        """Adds delta (a number, or a GLib.Variant) in one atomic step and
        returns the new value."""
        if not isinstance(delta, GLib.Variant):
            if isinstance(delta, bool) or not isinstance(delta, numbers.Real):
                raise TypeError(f"a number to add expected, not {type(delta).__name__}")
            if self.typecode in "fd":
                delta = GLib.Variant.new_double(float(delta))
            elif isinstance(delta, int):
                delta = GLib.Variant.new_int64(delta)
            else:
                raise TypeError(f"int expected instead of {type(delta).__name__}")
        return _unpack(self.typecode, Mp.Value.add(self, delta))

    def get_lock(self):
        lock = Mp.Value.get_lock(self)
        if lock is None:
            raise AttributeError("this Value was made with lock=False: it has no lock")
        return lock

    def get_obj(self):
        return self

    def __repr__(self):
        return f"<Mp.Value({self.typecode!r}, {self.value!r})>"


Value = override(Value)
__all__.append("Value")


class Array(Mp.Array):
    """multiprocessing.Array on libmp: Mp.Array(typecode_or_type,
    size_or_initializer, lock=True), typecodes as Value's. len(a), a[i]
    (negative too), a[i:j] (a list; bytes for 'c'), a[i] = v, a[i:j] = seq
    of the same length, iteration, get_lock(), get_obj(); errors as
    Python's: IndexError("invalid index"), TypeError for another kind of
    element, ValueError for a slice assignment of another length."""

    def __new__(cls, typecode_or_type, size_or_initializer, lock=True):
        typecode = _typecode(typecode_or_type)
        if not isinstance(lock, bool):
            raise TypeError("lock must be True or False: an Mp.Array carries its own lock")
        gtype = _TYPECODES[typecode]
        if isinstance(size_or_initializer, int) and not isinstance(size_or_initializer, bool):
            size = operator.index(size_or_initializer)
            if size < 0:
                raise ValueError("Array length must be >= 0")
            array = Mp.Array.new(gtype, size, lock)
        else:
            if size_or_initializer is None or isinstance(size_or_initializer, (str, float)):
                raise TypeError(f"an Array takes a size or a sequence of initial values, not "
                                f"{type(size_or_initializer).__name__}")
            array = Mp.Array.new_with_values(_array_variant(typecode, size_or_initializer), lock)
        array.__dict__["_mp_typecode"] = typecode
        return array

    def __init__(self, typecode_or_type, size_or_initializer, lock=True):
        pass

    @property
    def typecode(self):
        code = self.__dict__.get("_mp_typecode")
        if code is None:
            code = self.__dict__["_mp_typecode"] = _FROM_GVARIANT[self.get_element_type()]
        return code

    def __len__(self):
        return self.get_length()

    def _index(self, index):
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"indices must be integers or slices, not {type(index).__name__}") from None
        n = self.get_length()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("invalid index")
        return i

    def __getitem__(self, index):
        if isinstance(index, slice):
            positions = range(*index.indices(self.get_length()))
            if not positions:
                return b"" if self.typecode == "c" else []
            low = min(positions[0], positions[-1])
            high = max(positions[0], positions[-1]) + 1
            # One copy of the elements the slice spans, in one go.
            items = _array_values(self.typecode, Mp.Array.get_slice(self, low, high))
            if positions.step != 1:
                items = items[positions[0] - low::positions.step]
            return items
        return _unpack(self.typecode, Mp.Array.get(self, self._index(index)))

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            start, stop, step = index.indices(self.get_length())
            positions = range(start, stop, step)
            if self.typecode == "c" and isinstance(value, (bytes, bytearray)):
                values = bytes(value)
            else:
                values = list(value)
            if len(values) != len(positions):
                raise ValueError("Can only assign sequence of same size")
            if not values:
                return
            if step == 1:
                Mp.Array.set_slice(self, start, _array_variant(self.typecode, values))
            else:
                if self.typecode == "c":
                    values = [bytes((b,)) for b in values]
                packed = [_pack(self.typecode, v) for v in values]
                for i, v in zip(positions, packed):
                    Mp.Array.set(self, i, v)
            return
        i = self._index(index)
        Mp.Array.set(self, i, _pack(self.typecode, value))

    def __delitem__(self, index):
        raise TypeError("Array does not support item deletion")

    def __iter__(self):
        return iter(self[:])

    def get_lock(self):
        lock = Mp.Array.get_lock(self)
        if lock is None:
            raise AttributeError("this Array was made with lock=False: it has no lock")
        return lock

    def get_obj(self):
        return self

    def __repr__(self):
        return f"<Mp.Array({self.typecode!r}, {self[:]!r})>"


Array = override(Array)
__all__.append("Array")


class SharedMemory(Mp.SharedMemory):
    """multiprocessing.shared_memory.SharedMemory on libmp:
    Mp.SharedMemory(name=None, create=False, size=0). .buf is a writable
    memoryview over the mapping itself (what other processes write shows
    there), .name, .size, close(), unlink().

    create=True makes a zero-filled block: with a name, a POSIX shared
    memory object others can open by that name (FileExistsError when the
    name is taken); without one, an anonymous block (its .name is None,
    unlike Python's made-up name) that reaches other processes only as an
    object passed to them. create=False opens a named block: a name that
    does not exist (never made, or unlinked) raises FileNotFoundError, as
    Python does; the GLib.Error is its __cause__. Nothing unlinks a named
    block at exit: call unlink().

    close() drops .buf; views taken from it keep the memory mapped until
    they go."""

    def __new__(cls, name=None, create=False, size=0):
        import errno
        size = operator.index(size)
        if size < 0:
            raise ValueError("'size' must be a positive integer")
        if create:
            if size == 0:
                raise ValueError("'size' must be a positive number different from zero")
            try:
                return Mp.SharedMemory.new(name, size)
            except GLib.Error as e:
                if _matches(e, _IO_DOMAIN, Gio.IOErrorEnum.EXISTS):
                    raise FileExistsError(errno.EEXIST, e.message, name) from e
                raise
        if name is None:
            raise ValueError("'name' can only be None if create=True")
        try:
            return Mp.SharedMemory.open(name)
        except GLib.Error as e:
            if _matches(e, _IO_DOMAIN, Gio.IOErrorEnum.NOT_FOUND):
                raise FileNotFoundError(errno.ENOENT, e.message, name) from e
            raise

    def __init__(self, name=None, create=False, size=0):
        pass

    @property
    def name(self):
        return self.get_name()

    @property
    def size(self):
        return self.get_size()

    @property
    def buf(self):
        """A writable memoryview of the block (None once closed)."""
        view = self.__dict__.get("_mp_buf")
        if view is None:
            import ctypes
            address = self.get_address()
            if address == 0:
                return None
            memory = (ctypes.c_ubyte * self.get_size()).from_address(address)
            # The view keeps the mapping: close() drops this object's, not
            # the memory under views taken from buf.
            memory._mp_keep = self.get_bytes()
            view = self.__dict__["_mp_buf"] = memoryview(memory).cast("B")
        return view

    def close(self):
        view = self.__dict__.pop("_mp_buf", None)
        if view is not None:
            view.release()
        Mp.SharedMemory.close(self)

    def unlink(self):
        import errno
        try:
            return Mp.SharedMemory.unlink(self)
        except GLib.Error as e:
            if _matches(e, _IO_DOMAIN, Gio.IOErrorEnum.NOT_FOUND):
                raise FileNotFoundError(errno.ENOENT, e.message, self.get_name()) from e
            raise

    def __repr__(self):
        return f"SharedMemory({self.name!r}, size={self.size})"


SharedMemory = override(SharedMemory)
__all__.append("SharedMemory")
