// test-sync.js: the synchronization classes and shared memory from GJS
//
// MpLock, MpRLock, MpSemaphore, MpEvent, MpCondition, MpBarrier, MpValue,
// MpArray and MpSharedMemory, in one process and across processes in each
// start method. GJS has helper threads when Mp.init() runs, so libmp forks
// no forkserver from it: asking for forkserver starts a fresh copy of this
// script as the server; fork works, but a forked GJS child must do little
// JS work (see startFork()).
//
// Everything a child needs (the tasks) is defined before Mp.init(ARGV): a
// spawn child runs this very script again and Mp.init() turns it into the
// worker. An object reaches a task inside its arguments as a '(v...)'
// holding obj.to_variant() (MpShareable); the child gets it back with
// Mp.Shareable.new_from_variant(), which gives the right class. A child
// reports what it found wrong by throwing: the parent's check_error()
// throws it again with its message.
//
// No test waits with a sleep: every wait that could last forever on a bug
// has a TIMEOUT (an error then fails the test), and a main loop runs under
// a TIMEOUT guard; only a bug reaches either bound. The only deliberate
// waits are the timed acquires and waits whose TIMED_OUT is under test;
// the one state no event announces (a barrier's n_waiting) is polled
// (pollUntil()) under the same bound.
//
// The async calls are used as promises (Gio._promisify), tracked from the
// start (track()) and awaited with outcome(), which runs the default main
// context until they settle.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.GLib = '2.0';
imports.gi.versions.GObject = '2.0';
imports.gi.versions.Gio = '2.0';
imports.gi.versions.Mp = '1';
const {GLib, GObject, Gio, Mp} = imports.gi;
const System = imports.system;

imports.searchPath.unshift(GLib.path_get_dirname(System.programPath));
const H = imports.harness;
const {test, assert, assertEqual, assertThrows, assertGError, drainMainContext} = H;

const TIMEOUT = H.TIMEOUT_SECONDS;

// The seeds' counter: 10 processes add 1 50 times each under the value's
// lock.
const N_COUNTERS = 10;
const N_ADDS = 50;

// Barrier passes: the CPython behaviour to match. A pass allocates
// nothing in JS, so a forked child makes them all too (see startFork()).
const N_PASSES = 1000;
const N_PARTIES = 3;
const PASS_TIMEOUT = 20;

// Condition: notify rounds over K waiting children; the counts add up to K.
const N_WAITERS = 5;
const NOTIFY_ROUNDS = [2, 1, 2];

const SHM_SIZE = 64 * 1024 + 13;

const IO_ERROR = Gio.io_error_quark();
const MP_ERROR = Mp.error_quark();

// The same bytes on both sides.
function pattern(size, seed = 0) {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++)
        data[i] = (Math.imul(i + seed, 2654435761) >>> 13) & 0xff;
    return data;
}

// The offset of the first byte of data that is not pattern(), or -1.
function checkPattern(data, seed = 0) {
    for (let i = 0; i < data.length; i++) {
        if (data[i] !== ((Math.imul(i + seed, 2654435761) >>> 13) & 0xff))
            return i;
    }
    return -1;
}

// In a child: throw, so that the parent's check_error() reports it.
function expect(condition, message) {
    if (!condition)
        throw new Error(message);
}

// In a child: fn must throw a GLib.Error (domain, code).
function expectGError(fn, domain, code, what) {
    try {
        fn();
    } catch (e) {
        expect(e instanceof GLib.Error && e.domain === domain && e.code === code,
            `${what}: expected (${GLib.quark_to_string(domain)}, ${code}), got ${e}`);
        return e;
    }
    throw new Error(`${what}: expected (${GLib.quark_to_string(domain)}, ${code}), nothing was thrown`);
}

// The shared object in the '(v)' at index i of a task's arguments.
const objArg = (args, i) => Mp.Shareable.new_from_variant(args.get_child_value(i).get_variant());
const intArg = (args, i) => args.get_child_value(i).get_int32();
const strArg = (args, i) => args.get_child_value(i).get_string()[0];

const int = i => new GLib.Variant('i', i);

function getpid() {
    return new Gio.Credentials().get_unix_pid();
}

// The async calls, as promises.
Gio._promisify(Mp.Lock.prototype, 'acquire_async', 'acquire_finish');
Gio._promisify(Mp.RLock.prototype, 'acquire_async', 'acquire_finish');
Gio._promisify(Mp.Semaphore.prototype, 'acquire_async', 'acquire_finish');
Gio._promisify(Mp.Event.prototype, 'wait_async', 'wait_finish');
Gio._promisify(Mp.Condition.prototype, 'wait_async', 'wait_finish');
Gio._promisify(Mp.Barrier.prototype, 'wait_async', 'wait_finish');

// ---- tasks (registered before Mp.init) --------------------------------------

// Takes the lock (an MpLock or an MpRLock), says so through held, and
// either releases it once release is set or, when hang, holds it until it
// is killed. Arguments: '(vvvb)'.
Mp.register_task('hold', (args, _cancellable) => {
    const lock = objArg(args, 0);
    const held = objArg(args, 1);
    const release = objArg(args, 2);
    const hang = args.get_child_value(3).get_boolean();
    expect(lock instanceof Mp.Lock || lock instanceof Mp.RLock, `the lock arrived as ${lock}`);
    expect(held instanceof Mp.Event && release instanceof Mp.Event, 'the events did not arrive');
    expect(lock.acquire(TIMEOUT, null), 'acquire returned false');
    held.set();
    if (hang) {
        release.wait(-1, null);
        throw new Error('the holder that should be killed was let go');
    }
    release.wait(TIMEOUT, null);
    lock.release();
    return null;
});

// While the parent holds the lock: trying it fails with TIMED_OUT; a
// release is allowed for an MpLock (any process may release it) and is
// INVALID_STATE for an MpRLock (only its owner may). Arguments: '(v)'.
Mp.register_task('foreign', (args, _cancellable) => {
    const lock = objArg(args, 0);
    if (lock instanceof Mp.Lock)
        expect(lock.is_locked(), 'the lock looks free');
    expectGError(() => lock.acquire(0, null), IO_ERROR, Gio.IOErrorEnum.TIMED_OUT, 'acquire(0)');
    expectGError(() => lock.acquire(0.05, null), IO_ERROR, Gio.IOErrorEnum.TIMED_OUT, 'acquire(0.05)');
    if (lock instanceof Mp.RLock) {
        expect(!lock.is_owned() && lock.get_count() === 0, 'the child owns the parent\'s rlock');
        expectGError(() => lock.release(), MP_ERROR, Mp.Error.INVALID_STATE, 'release by a non-owner');
    } else {
        expect(lock.release(), 'release returned false');
        expect(!lock.is_locked(), 'still locked after the child released it');
    }
    return null;
});

// Waits for ping, then sets pong. Arguments: '(vv)'.
Mp.register_task('ping-pong', (args, _cancellable) => {
    const ping = objArg(args, 0);
    const pong = objArg(args, 1);
    expect(ping.wait(TIMEOUT, null), 'ping.wait returned false');
    pong.set();
    return null;
});

// Releases the semaphore n times. Arguments: '(vi)'.
Mp.register_task('sem-release', (args, _cancellable) => {
    const sem = objArg(args, 0);
    const n = intArg(args, 1);
    for (let i = 0; i < n; i++)
        expect(sem.release(), 'release returned false');
    return null;
});

// Waits on the condition and reports (id, the round it saw) once notified.
// Says it is ready while it holds the lock, so that once the parent holds
// the lock in turn, this child is a waiter. Arguments: '(vvvvi)':
// condition, round (a Value), ready and reports (queues), id.
Mp.register_task('cond-wait', (args, _cancellable) => {
    const cond = objArg(args, 0);
    const round = objArg(args, 1);
    const ready = objArg(args, 2);
    const reports = objArg(args, 3);
    const id = intArg(args, 4);
    expect(cond instanceof Mp.Condition, `the condition arrived as ${cond}`);
    expect(cond.acquire(TIMEOUT, null), 'acquire returned false');
    ready.put(int(id), true, -1, null);
    expect(cond.wait(TIMEOUT, null), 'wait returned false');
    const lock = cond.get_lock();
    expect(lock.is_owned(), 'the lock is not held again after wait');
    reports.put(new GLib.Variant('(ii)', [id, round.get().get_int32()]), true, -1, null);
    cond.release();
    return null;
});

// Passes the barrier n times and writes the index it got each time into
// the byte array at id * n. Arguments: '(vvii)'.
Mp.register_task('barrier-passes', (args, _cancellable) => {
    const barrier = objArg(args, 0);
    const array = objArg(args, 1);
    const id = intArg(args, 2);
    const n = intArg(args, 3);
    expect(barrier instanceof Mp.Barrier && barrier.parties === N_PARTIES, `the barrier arrived as ${barrier}`);
    const indices = new Uint8Array(n);
    // A pass takes far less than PASS_TIMEOUT (the first waits for the
    // others to start); a party that times out breaks the barrier for all,
    // so a lost wake-up fails every child at once, with TIMED_OUT or
    // BROKEN_BARRIER and the pass it was at.
    for (let i = 0; i < n; i++) {
        try {
            indices[i] = barrier.wait(PASS_TIMEOUT, null);
        } catch (e) {
            throw new Error(`party ${id}, pass ${i} of ${n}: ${e.message}`);
        }
    }
    array.set_slice(id * n, new GLib.Variant('ay', indices));
    return null;
});

// Says it is about to wait, then waits at the barrier and expects
// BROKEN_BARRIER (the parent aborts). A blocking wait: a forked GJS child
// must not run a main loop (see startFork()). Arguments: '(vv)'.
Mp.register_task('barrier-broken', (args, _cancellable) => {
    const barrier = objArg(args, 0);
    const ready = objArg(args, 1);
    ready.put(int(getpid()), true, -1, null);
    expectGError(() => barrier.wait(TIMEOUT, null), MP_ERROR, Mp.Error.BROKEN_BARRIER, 'the wait at the abort');
    expectGError(() => barrier.wait(TIMEOUT, null), MP_ERROR, Mp.Error.BROKEN_BARRIER, 'a wait after the abort');
    return null;
});

// The seeds' counter: adds 1 n times under the value's lock. Arguments:
// '(vi)'.
Mp.register_task('count', (args, _cancellable) => {
    const value = objArg(args, 0);
    const n = intArg(args, 1);
    const lock = value.get_lock();
    expect(lock instanceof Mp.RLock, `the value's lock is ${lock}`);
    for (let i = 0; i < n; i++) {
        expect(lock.acquire(TIMEOUT, null), 'acquire returned false');
        value.set(int(value.get().get_int32() + 1));
        lock.release();
    }
    return null;
});

// Reads 0..9 in the int array, then writes the squares and -1 last.
// Arguments: '(v)'.
Mp.register_task('array-squares', (args, _cancellable) => {
    const array = objArg(args, 0);
    expect(array instanceof Mp.Array && array.get_element_type() === 'i' && array.get_length() === 10,
        `the array arrived as ${array}`);
    const got = array.get_slice(0, 10).deepUnpack();
    expect(got.every((x, i) => x === i), `the child read ${got}`);
    array.set_slice(0, new GLib.Variant('ai', got.map(x => x * x)));
    array.set(9, int(-1));
    return null;
});

// Checks the pattern in shared memory (anonymous, passed in '(v)', or
// opened by the name in '(s)') and writes pattern(size, 1) over it.
function checkAndRewrite(shm, size) {
    expect(shm instanceof Mp.SharedMemory, `the shared memory arrived as ${shm}`);
    expect(shm.get_size() === size, `size ${shm.get_size()}`);
    const first = checkPattern(shm.read(0, size).toArray());
    expect(first === -1, `the child read a wrong byte at ${first}`);
    shm.write(0, new GLib.Bytes(pattern(size, 1)));
    shm.close();
}

Mp.register_task('shm-anonymous', (args, _cancellable) => {
    const shm = objArg(args, 0);
    expect(shm.get_name() === null, `anonymous memory has the name ${shm.get_name()}`);
    checkAndRewrite(shm, intArg(args, 1));
    return null;
});

Mp.register_task('shm-named', (args, _cancellable) => {
    const name = strArg(args, 0);
    const shm = Mp.SharedMemory.open(name);
    expect(shm.get_name() === name, `opened as ${shm.get_name()}`);
    checkAndRewrite(shm, intArg(args, 1));
    return null;
});

// Takes the lock while another process may have died holding it, and
// reports how: 'ok', or 'died' (OWNER_DIED, the lock held all the same);
// then releases it. Arguments: '(vv)'.
Mp.register_task('acquire-report', (args, _cancellable) => {
    const lock = objArg(args, 0);
    const reports = objArg(args, 1);
    let how = 'ok';
    try {
        expect(lock.acquire(TIMEOUT, null), 'acquire returned false');
    } catch (e) {
        if (!(e instanceof GLib.Error && e.domain === MP_ERROR && e.code === Mp.Error.OWNER_DIED))
            throw e;
        how = 'died';
    }
    expect(lock.is_locked(), `${how}: the lock is not held`);
    reports.put(new GLib.Variant('s', how), true, -1, null);
    lock.release();
    return null;
});

// The barrier's action: adds 1 to the value in '(v)'; refuses when the
// value is negative.
Mp.register_task('barrier-action', (args, _cancellable) => {
    const value = objArg(args, 0);
    if (value.get().get_int32() < 0)
        throw new Error('the action refuses a negative count');
    value.add(int(1));
    return null;
});

// Passes the barrier n times (its action counts). Arguments: '(vi)'.
Mp.register_task('barrier-n', (args, _cancellable) => {
    const barrier = objArg(args, 0);
    const n = intArg(args, 1);
    expect(barrier.action === 'barrier-action', `the action arrived as ${barrier.action}`);
    for (let i = 0; i < n; i++)
        barrier.wait(PASS_TIMEOUT, null);
    return null;
});

// Adds 1 n times without the lock: add() is atomic. Arguments: '(vi)'.
Mp.register_task('add', (args, _cancellable) => {
    const value = objArg(args, 0);
    const n = intArg(args, 1);
    const one = int(1);
    for (let i = 0; i < n; i++)
        value.add(one);
    return null;
});

// n times: takes the semaphore, counts itself in inside, checks that at
// most limit are inside, counts itself out, releases. Arguments: '(vvii)'.
Mp.register_task('limited', (args, _cancellable) => {
    const sem = objArg(args, 0);
    const inside = objArg(args, 1);
    const limit = intArg(args, 2);
    const n = intArg(args, 3);
    const one = int(1), minusOne = int(-1);
    for (let i = 0; i < n; i++) {
        expect(sem.acquire(TIMEOUT, null), 'acquire returned false');
        const count = inside.add(one).get_int32();
        expect(count <= limit, `${count} inside a semaphore of ${limit}`);
        inside.add(minusOne);
        sem.release();
    }
    return null;
});

// Sets the value in steps under the condition's lock, notifying each
// time. Arguments: '(vvi)'.
Mp.register_task('count-and-notify', (args, _cancellable) => {
    const cond = objArg(args, 0);
    const value = objArg(args, 1);
    const n = intArg(args, 2);
    for (let i = 1; i <= n; i++) {
        expect(cond.acquire(TIMEOUT, null), 'acquire returned false');
        value.set(int(i));
        cond.notify_all();
        cond.release();
    }
    return null;
});

// Gets an event and a lock from the queue (references as items), takes
// the lock (free) and sets the event. Arguments: '(v)'.
Mp.register_task('from-queue', (args, _cancellable) => {
    const q = objArg(args, 0);
    const ev = Mp.Shareable.new_from_variant(q.get(true, TIMEOUT, null));
    const lock = Mp.Shareable.new_from_variant(q.get(true, TIMEOUT, null));
    expect(ev instanceof Mp.Event && lock instanceof Mp.Lock, `got ${ev} and ${lock}`);
    expect(lock.acquire(0, null), 'the lock is not free');
    ev.set();
    return null;
});

// Takes the condition's lock, notifies one waiter, says so through held,
// and keeps the lock until it is killed. Arguments: '(vvv)'.
Mp.register_task('notify-and-hang', (args, _cancellable) => {
    const cond = objArg(args, 0);
    const held = objArg(args, 1);
    const never = objArg(args, 2);
    expect(cond.acquire(TIMEOUT, null), 'acquire returned false');
    cond.notify(1);
    held.set();
    never.wait(-1, null);
    throw new Error('the holder that should be killed was let go');
});

// Waits on the condition forever, after saying so while it holds the
// lock (see cond-wait). Arguments: '(vv)'.
Mp.register_task('cond-wait-forever', (args, _cancellable) => {
    const cond = objArg(args, 0);
    const ready = objArg(args, 1);
    expect(cond.acquire(TIMEOUT, null), 'acquire returned false');
    ready.put(int(getpid()), true, -1, null);
    cond.wait(-1, null);
    throw new Error('the waiter that should be killed was woken');
});

// ---- a subclass holding shared objects ----------------------------------------

// Its lock, event and value travel as GObject properties: run() takes the
// lock (which nobody holds), adds 1 to the value, sets the event and
// releases the lock.
const SyncWorker = GObject.registerClass({
    GTypeName: 'TestJsSyncWorker',
    Properties: {
        'lock': GObject.ParamSpec.object('lock', 'Lock', 'A lock that travels',
            GObject.ParamFlags.READWRITE, Mp.Lock),
        'event': GObject.ParamSpec.object('event', 'Event', 'An event that travels',
            GObject.ParamFlags.READWRITE, Mp.Event),
        'value': GObject.ParamSpec.object('value', 'Value', 'A value that travels',
            GObject.ParamFlags.READWRITE, Mp.Value),
    },
}, class SyncWorker extends Mp.Process {
    vfunc_run(_cancellable) {
        expect(this.lock instanceof Mp.Lock && this.event instanceof Mp.Event && this.value instanceof Mp.Value,
            `the properties hold ${this.lock}, ${this.event}, ${this.value}`);
        expect(this.lock.acquire(0, null), 'the lock is not free');
        this.value.add(int(1));
        this.event.set();
        this.lock.release();
    }
});

Mp.init(ARGV);

// ---- helpers ----------------------------------------------------------------

const METHODS = [['fork', Mp.StartMethod.FORK], ['spawn', Mp.StartMethod.SPAWN], ['forkserver', Mp.StartMethod.FORKSERVER]];

function assertIOError(fn, code, message = '') {
    return assertGError(fn, IO_ERROR, code, message);
}

function assertMpError(fn, code, message = '') {
    return assertGError(fn, MP_ERROR, code, message);
}

// An error a promise was rejected with, thrown again for assertGError.
function rethrow(e) {
    return () => {
        throw e;
    };
}

// A promise of an async call, with handlers attached at once: several
// may settle during one main loop run, and GJS reports (fatally here) a
// rejection that had no handler when it happened.
function track(promise) {
    const tracked = {done: false, rejected: false, value: undefined};
    promise.then(value => {
        Object.assign(tracked, {done: true, value});
    }, error => {
        Object.assign(tracked, {done: true, rejected: true, value: error});
    });
    return tracked;
}

// Runs the default main context until the tracked promise settles (fails
// after TIMEOUT); returns what it resolved to, or throws its error.
function outcome(tracked) {
    H.runUntil(() => tracked.done);
    if (tracked.rejected)
        throw tracked.value;
    return tracked.value;
}

// The same for a promise that must reject: returns its error.
function rejection(tracked, message = 'expected a rejection') {
    H.runUntil(() => tracked.done);
    if (!tracked.rejected)
        H.fail(`${message}: it resolved to ${tracked.value}`);
    return tracked.value;
}

// Whether the tracked promise has settled, after the main context ran
// what it had pending.
function settled(tracked) {
    drainMainContext();
    return tracked.done;
}

// Runs the main context until condition() holds, looking every 5 ms: for
// a state that no event announces (a barrier's n_waiting). Fails after
// TIMEOUT.
function pollUntil(condition) {
    const tick = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 5, () => GLib.SOURCE_CONTINUE);
    try {
        H.runUntil(condition);
    } finally {
        GLib.source_remove(tick);
    }
}

// Seconds that fn took.
function timed(fn) {
    const start = GLib.get_monotonic_time();
    fn();
    return (GLib.get_monotonic_time() - start) / 1e6;
}

// A wait of timeout seconds that must end with TIMED_OUT, after about
// timeout: not before, and not much later (generous for a loaded machine).
function assertTimesOut(fn, timeout, what) {
    const elapsed = timed(() => assertIOError(fn, Gio.IOErrorEnum.TIMED_OUT, what));
    assert(elapsed >= timeout - 0.002, `${what}: TIMED_OUT after ${elapsed} s, before ${timeout} s`);
    assert(elapsed < timeout + 1.5, `${what}: TIMED_OUT after ${elapsed} s, long after ${timeout} s`);
}

// A forked GJS child has none of SpiderMonkey's helper threads, and the
// first time it hands them work (a garbage collection in the background,
// after enough allocations) it can deadlock: what runs in a forked child
// here allocates little, and the parent collects its garbage right before
// the fork, which leaves the child the most room before a collection.
function startFork(task, args) {
    System.gc();
    const p = Mp.Process.new(task, args);
    p.start_method = Mp.StartMethod.FORK;
    p.start();
    return p;
}

// Starts a task; after the test, kills it if it still runs (after a
// failure it may wait forever, and the runtime would join it at exit).
function start(t, method, task, args) {
    let p;
    if (method === Mp.StartMethod.FORK) {
        p = startFork(task, args);
    } else {
        p = Mp.Process.new(task, args);
        p.start_method = method;
        p.start();
    }
    t.defer(() => {
        if (p.state === Mp.ProcessState.STARTED) {
            p.kill();
            p.join(TIMEOUT);
        }
    });
    return p;
}

function joinOk(p) {
    assertEqual(p.join(TIMEOUT), true, 'the child did not end (a bug)');
    // Throws the child's error, with its message, if it had one.
    assertEqual(p.check_error(), true);
    assertEqual(p.exitcode, 0);
}

function newEvent() {
    const ev = Mp.Event.new();
    assert(ev instanceof Mp.Event, `Mp.Event.new returned ${ev}`);
    return ev;
}

const newLock = kind => kind === 'Lock' ? Mp.Lock.new() : Mp.RLock.new();
const isHeld = lock => lock instanceof Mp.Lock ? lock.is_locked() : lock.is_owned();

// ---- Lock and RLock, in one process ------------------------------------------------

test('Lock: acquire, try, timed acquire, release, releasing an unlocked lock', () => {
    const lock = Mp.Lock.new();
    assert(lock instanceof Mp.Lock && lock instanceof Mp.Shareable, `Mp.Lock.new returned ${lock}`);
    assertEqual(lock.is_locked(), false);
    assertEqual(lock.acquire(0, null), true);
    assertEqual(lock.is_locked(), true);
    // Not recursive: this thread waits for itself.
    assertIOError(() => lock.acquire(0, null), Gio.IOErrorEnum.TIMED_OUT, 'try while held');
    assertTimesOut(() => lock.acquire(0.2, null), 0.2, 'acquire(0.2) while held');
    assertEqual(lock.is_locked(), true);
    assertEqual(lock.release(), true);
    assertEqual(lock.is_locked(), false);
    // Python: ValueError; here INVALID_STATE, and nothing changed.
    const e = assertMpError(() => lock.release(), Mp.Error.INVALID_STATE, 'release of an unlocked lock');
    assert(e.message.length > 0, 'the error says nothing');
    assertEqual(lock.is_locked(), false);
    // A negative timeout waits for as long as it takes: the lock is free.
    assertEqual(lock.acquire(-1, null), true);
    assertEqual(lock.release(), true);
});

test('RLock: recursion, counts, release by the owner only', () => {
    const lock = Mp.RLock.new();
    assert(lock instanceof Mp.RLock, `Mp.RLock.new returned ${lock}`);
    assertEqual([lock.is_owned(), lock.get_count()], [false, 0]);
    assertMpError(() => lock.release(), Mp.Error.INVALID_STATE, 'release of an unheld rlock');
    for (let i = 1; i <= 3; i++) {
        assertEqual(lock.acquire(0, null), true);
        assertEqual(lock.get_count(), i);
    }
    assertEqual(lock.is_owned(), true);
    // A copy from the reference is the same lock, owned by this thread.
    const copy = Mp.Shareable.new_from_variant(lock.to_variant());
    assert(copy instanceof Mp.RLock, `the copy is ${copy}`);
    assertEqual([copy.is_owned(), copy.get_count()], [true, 3]);
    for (let i = 2; i >= 0; i--) {
        assertEqual(lock.release(), true);
        assertEqual(lock.get_count(), i);
    }
    assertEqual([lock.is_owned(), copy.is_owned()], [false, false]);
    assertMpError(() => lock.release(), Mp.Error.INVALID_STATE, 'one release too many');
    assertEqual(lock.get_count(), 0);
});

test('acquire_async: at once when free, after a release when held', () => {
    for (const kind of ['Lock', 'RLock']) {
        const lock = newLock(kind);
        assertEqual(outcome(track(lock.acquire_async(-1, null))), true, `${kind}: acquire_async when free`);
        assertEqual(isHeld(lock), true, kind);
        if (kind === 'RLock') {
            // Recursion through the async path too.
            assertEqual(outcome(track(lock.acquire_async(0, null))), true);
            assertEqual(lock.get_count(), 2);
            lock.release();
            lock.release();
            continue;
        }
        // Held by this very thread: the wait ends when somebody releases.
        const promise = track(lock.acquire_async(TIMEOUT, null));
        assertEqual(settled(promise), false, 'acquire_async returned while the lock is held');
        lock.release();
        assertEqual(outcome(promise), true);
        assertEqual(lock.is_locked(), true);
        // And a timed one times out.
        const start = GLib.get_monotonic_time();
        const e = rejection(track(lock.acquire_async(0.2, null)));
        const elapsed = (GLib.get_monotonic_time() - start) / 1e6;
        assertIOError(rethrow(e), Gio.IOErrorEnum.TIMED_OUT, 'acquire_async(0.2) while held');
        assert(elapsed >= 0.198 && elapsed < 1.7, `acquire_async(0.2) timed out after ${elapsed} s`);
        lock.release();
    }
});

// An RLock can only be made busy by another thread or process: the
// cancellations while a child holds one are in the tests across processes.
test('Lock: cancelled acquire_async and acquire: CANCELLED, the lock stays with its holder', () => {
    const lock = Mp.Lock.new();
    lock.acquire(0, null);
    const cancellable = new Gio.Cancellable();
    const promise = track(lock.acquire_async(-1, cancellable));
    assertEqual(settled(promise), false, 'acquire_async returned while the lock is held');
    cancellable.cancel();
    assertIOError(rethrow(rejection(promise)), Gio.IOErrorEnum.CANCELLED, 'cancelled acquire_async');
    // Still held once, by the first acquire.
    assertEqual(lock.is_locked(), true);
    // A blocking acquire with a cancelled cancellable does not wait (a
    // bound, not -1: a bug is then TIMED_OUT rather than a hang).
    assertIOError(() => lock.acquire(TIMEOUT, cancellable), Gio.IOErrorEnum.CANCELLED, 'cancelled acquire');
    assertEqual(lock.release(), true);
    assertMpError(() => lock.release(), Mp.Error.INVALID_STATE, 'the cancelled wait took the lock');
    assertEqual(lock.is_locked(), false);
    assertEqual(lock.acquire(0, null), true);
    lock.release();
});

// An async acquire of a free lock (or semaphore) succeeds inside the
// call; its result reaches the callback on the next main loop iteration.
// A cancellable cancelled in between must not turn that success into
// CANCELLED: the caller would never release what it holds. Either outcome
// is right if it tells the truth: CANCELLED with nothing taken, or
// success with the lock held.
test('an acquire_async cancelled right after the call: CANCELLED only if nothing was taken', () => {
    const cases = [
        ['Lock', () => Mp.Lock.new(), lock => lock.is_locked() ? 1 : 0],
        ['RLock', () => Mp.RLock.new(), lock => lock.get_count()],
        ['Semaphore', () => Mp.Semaphore.new(1, false), sem => 1 - sem.get_value()],
    ];
    const problems = [];
    for (const [name, make, taken] of cases) {
        const obj = make();
        const cancellable = new Gio.Cancellable();
        const promise = track(obj.acquire_async(-1, cancellable));
        cancellable.cancel();
        let ok;
        try {
            ok = outcome(promise);
        } catch (e) {
            assertIOError(rethrow(e), Gio.IOErrorEnum.CANCELLED, name);
            ok = false;
        }
        const n = taken(obj);
        if (ok !== (n === 1))
            problems.push(`${name}: ${ok ? 'succeeded' : 'CANCELLED'} with ${n} taken`);
    }
    assertEqual(problems, []);
});

test('references: every class comes back from its variant, junk is refused', () => {
    const objects = [
        Mp.Lock.new(), Mp.RLock.new(), Mp.Semaphore.new(1, false), Mp.Event.new(), Mp.Condition.new(null),
        Mp.Barrier.new(2), Mp.Value.new('x', null, true), Mp.Array.new('d', 4, false),
    ];
    // MpSharedMemory comes back from its reference in a child only (the
    // SharedMemory tests across processes): a GLib critical there, fatal
    // under G_DEBUG=fatal-criticals, fails that child, not this process.
    assertEqual(Mp.Shareable.is_reference(Mp.SharedMemory.new(null, 16).to_variant()), true, 'SharedMemory: is_reference');
    for (const obj of objects) {
        const ref = obj.to_variant();
        assertEqual(Mp.Shareable.is_reference(ref), true, `${obj.constructor.name}: is_reference`);
        const copy = Mp.Shareable.new_from_variant(ref);
        assertEqual(copy.constructor, obj.constructor, 'the class of the copy');
    }
    for (const junk of [int(3), new GLib.Variant('(ss)', ['mp:nothing', 'x']), new GLib.Variant('(s)', ['mp:lock'])]) {
        assertEqual(Mp.Shareable.is_reference(junk), false, junk.print(true));
        assertIOError(() => Mp.Shareable.new_from_variant(junk), Gio.IOErrorEnum.INVALID_ARGUMENT, junk.print(true));
    }
    // Boxed, as task arguments often carry them ('(v)'): still a reference
    // for new_from_variant.
    const boxed = new GLib.Variant('v', new GLib.Variant('v', Mp.Event.new().to_variant()));
    assert(Mp.Shareable.new_from_variant(boxed) instanceof Mp.Event, 'a boxed reference');
    // The barrier's timeout travels too.
    const barrier = Mp.Barrier.new(2);
    barrier.timeout = 2.5;
    assertEqual(Mp.Barrier.new_from_variant(barrier.to_variant()).timeout, 2.5);
    // A lock's reference is not an event's.
    assertIOError(() => Mp.Event.new_from_variant(Mp.Lock.new().to_variant()), Gio.IOErrorEnum.INVALID_ARGUMENT,
        'an event from a lock\'s reference');
});

test('bare constructors (new Mp.Lock() and the like) make working objects', () => {
    const lock = new Mp.Lock();
    assertEqual(lock.acquire(0, null), true);
    assertIOError(() => lock.acquire(0, null), Gio.IOErrorEnum.TIMED_OUT, 'new Mp.Lock(): held');
    lock.release();
    const rlock = new Mp.RLock();
    assertEqual([rlock.acquire(0, null), rlock.acquire(0, null), rlock.get_count()], [true, true, 2]);
    rlock.release();
    rlock.release();
    const ev = new Mp.Event();
    assertIOError(() => ev.wait(0, null), Gio.IOErrorEnum.TIMED_OUT, 'new Mp.Event(): not set');
    ev.set();
    assertEqual(ev.wait(0, null), true);
    // Python's Semaphore() counts 1.
    const sem = new Mp.Semaphore();
    assertEqual(sem.get_value(), 1);
    const cond = new Mp.Condition();
    assert(cond.get_lock() instanceof Mp.RLock, `new Mp.Condition() waits with ${cond.get_lock()}`);
    cond.acquire(0, null);
    assertIOError(() => cond.wait(0.01, null), Gio.IOErrorEnum.TIMED_OUT, 'new Mp.Condition(): wait');
    cond.release();
    // Their references work.
    for (const obj of [lock, rlock, ev, sem, cond])
        assertEqual(Mp.Shareable.new_from_variant(obj.to_variant()).constructor, obj.constructor);
    assertEqual(Mp.Event.new_from_variant(ev.to_variant()).is_set(), true);
});

// ---- Semaphore --------------------------------------------------------------------

test('Semaphore: counts, timed acquire, bounded over-release', () => {
    const sem = Mp.Semaphore.new(2, false);
    assertEqual([sem.get_value(), sem.is_bounded()], [2, false]);
    assertEqual(sem.acquire(0, null), true);
    assertEqual(sem.acquire(-1, null), true);
    assertEqual(sem.get_value(), 0);
    assertIOError(() => sem.acquire(0, null), Gio.IOErrorEnum.TIMED_OUT, 'try at 0');
    assertTimesOut(() => sem.acquire(0.2, null), 0.2, 'acquire(0.2) at 0');
    assertEqual(sem.get_value(), 0);
    // Unbounded: may go above its initial value.
    for (let i = 0; i < 3; i++)
        assertEqual(sem.release(), true);
    assertEqual(sem.get_value(), 3);

    const bounded = Mp.Semaphore.new(2, true);
    assertEqual([bounded.get_value(), bounded.is_bounded()], [2, true]);
    assertMpError(() => bounded.release(), Mp.Error.INVALID_STATE, 'release at the bound');
    assertEqual(bounded.get_value(), 2);
    assertEqual(bounded.acquire(0, null), true);
    assertEqual(bounded.release(), true);
    assertMpError(() => bounded.release(), Mp.Error.INVALID_STATE, 'release above the bound');
    assertEqual(bounded.get_value(), 2);
    // The bound travels with the reference.
    const copy = Mp.Semaphore.new_from_variant(bounded.to_variant());
    assertEqual(copy.is_bounded(), true);
    assertMpError(() => copy.release(), Mp.Error.INVALID_STATE, 'release of the copy above the bound');

    // A bounded semaphore of 0 could never be released.
    assertIOError(() => Mp.Semaphore.new(0, true), Gio.IOErrorEnum.INVALID_ARGUMENT, 'bounded at 0');
    assertEqual(Mp.Semaphore.new(0, false).get_value(), 0);
});

test('Semaphore: acquire_async waits for a release; a cancelled one takes nothing', () => {
    const sem = Mp.Semaphore.new(0, false);
    const cancellable = new Gio.Cancellable();
    const cancelled = track(sem.acquire_async(-1, cancellable));
    const waiting = track(sem.acquire_async(TIMEOUT, null));
    assertEqual(settled(cancelled) || settled(waiting), false, 'acquire_async returned at 0');
    cancellable.cancel();
    assertIOError(rethrow(rejection(cancelled)), Gio.IOErrorEnum.CANCELLED, 'cancelled acquire_async');
    sem.release();
    assertEqual(outcome(waiting), true);
    assertEqual(sem.get_value(), 0);
    sem.release();
    assertEqual(sem.get_value(), 1, 'the cancelled wait took a unit');
});

// ---- Event ------------------------------------------------------------------------

test('Event: wait(0) is TIMED_OUT until set, then true until cleared', () => {
    const ev = Mp.Event.new();
    assertEqual(ev.is_set(), false);
    assertIOError(() => ev.wait(0, null), Gio.IOErrorEnum.TIMED_OUT, 'wait(0) before set');
    assertTimesOut(() => ev.wait(0.2, null), 0.2, 'wait(0.2) before set');
    ev.set();
    assertEqual(ev.is_set(), true);
    assertEqual(ev.wait(0, null), true);
    assertEqual(ev.wait(-1, null), true);
    assertEqual(outcome(track(ev.wait_async(0, null))), true);
    // Setting twice is setting.
    ev.set();
    ev.clear();
    assertEqual(ev.is_set(), false);
    assertIOError(() => ev.wait(0, null), Gio.IOErrorEnum.TIMED_OUT, 'wait(0) after clear');
    assertIOError(rethrow(rejection(track(ev.wait_async(0.05, null)))), Gio.IOErrorEnum.TIMED_OUT, 'wait_async(0.05)');
});

test('Event: wait_async wakes every waiter on set; a cancelled one is CANCELLED', () => {
    const ev = Mp.Event.new();
    const cancellable = new Gio.Cancellable();
    const cancelled = track(ev.wait_async(-1, cancellable));
    const waiters = [track(ev.wait_async(TIMEOUT, null)), track(ev.wait_async(-1, null)), track(ev.wait_async(TIMEOUT, null))];
    assertEqual(waiters.some(settled) || settled(cancelled), false, 'wait_async returned before set');
    cancellable.cancel();
    assertIOError(rethrow(rejection(cancelled)), Gio.IOErrorEnum.CANCELLED, 'cancelled wait_async');
    assertEqual(ev.is_set(), false);
    ev.set();
    for (const w of waiters)
        assertEqual(outcome(w), true);
    // A blocking wait with a cancelled cancellable does not block.
    ev.clear();
    assertIOError(() => ev.wait(TIMEOUT, cancellable), Gio.IOErrorEnum.CANCELLED, 'cancelled wait');
});

// ---- Condition --------------------------------------------------------------------

test('Condition: the caller must hold the lock; wait times out with the lock held again', () => {
    for (const kind of ['RLock', 'Lock']) {
        const given = kind === 'Lock' ? Mp.Lock.new() : null;
        const cond = Mp.Condition.new(given);
        const lock = cond.get_lock();
        if (given)
            assert(lock === given, 'get_lock is not the lock given');
        else
            assert(lock instanceof Mp.RLock, `the default lock is ${lock}`);

        assertMpError(() => cond.wait(0, null), Mp.Error.INVALID_STATE, `${kind}: wait without the lock`);
        assertMpError(() => cond.notify(1), Mp.Error.INVALID_STATE, `${kind}: notify without the lock`);
        assertMpError(() => cond.notify_all(), Mp.Error.INVALID_STATE, `${kind}: notify_all without the lock`);
        assertMpError(rethrow(rejection(track(cond.wait_async(0, null)))), Mp.Error.INVALID_STATE,
            `${kind}: wait_async without the lock`);

        assertEqual(cond.acquire(0, null), true);
        if (kind === 'RLock')
            assertEqual(cond.acquire(0, null), true);
        assertTimesOut(() => cond.wait(0.2, null), 0.2, `${kind}: wait(0.2)`);
        // Held again, at the same depth.
        assertEqual(isHeld(lock), true, `${kind}: held after the timed-out wait`);
        if (kind === 'RLock')
            assertEqual(lock.get_count(), 2);
        // A notify with nobody waiting is not kept for a later waiter.
        assertEqual(cond.notify(3), true);
        assertEqual(cond.notify_all(), true);
        assertIOError(() => cond.wait(0.05, null), Gio.IOErrorEnum.TIMED_OUT, `${kind}: wait after a lost notify`);

        // The async wait: timed out and cancelled, the lock held again.
        assertIOError(rethrow(rejection(track(cond.wait_async(0.05, null)))), Gio.IOErrorEnum.TIMED_OUT,
            `${kind}: wait_async(0.05)`);
        assertEqual(isHeld(lock), true, `${kind}: held after the timed-out wait_async`);
        const cancellable = new Gio.Cancellable();
        const promise = track(cond.wait_async(-1, cancellable));
        assertEqual(settled(promise), false, `${kind}: wait_async returned without a notify`);
        // The waiter let the lock go.
        if (kind === 'Lock')
            assertEqual(lock.is_locked(), false, 'the lock is held during the wait');
        else
            assertEqual(lock.is_owned(), false, 'the rlock is held during the wait');
        cancellable.cancel();
        assertIOError(rethrow(rejection(promise)), Gio.IOErrorEnum.CANCELLED, `${kind}: cancelled wait_async`);
        assertEqual(isHeld(lock), true, `${kind}: held after the cancelled wait_async`);
        if (kind === 'RLock')
            assertEqual(lock.get_count(), 2);

        cond.release();
        if (kind === 'RLock')
            cond.release();
        assertMpError(() => cond.release(), Mp.Error.INVALID_STATE, `${kind}: one release too many`);
    }
    assertIOError(() => Mp.Condition.new(Mp.Event.new()), Gio.IOErrorEnum.INVALID_ARGUMENT, 'a condition on an event');
});

// A wait that ends at once because its cancellable was already cancelled
// must leave no waiter behind: a notify afterwards, with nobody waiting,
// is lost (as in Python) and a later wait times out.
test('Condition: a wait with a cancelled cancellable leaves no waiter behind', () => {
    const cancellable = new Gio.Cancellable();
    cancellable.cancel();
    for (const how of ['wait', 'wait_async']) {
        const cond = Mp.Condition.new(null);
        cond.acquire(0, null);
        if (how === 'wait')
            assertIOError(() => cond.wait(TIMEOUT, cancellable), Gio.IOErrorEnum.CANCELLED, 'the cancelled wait');
        else
            assertIOError(rethrow(rejection(track(cond.wait_async(TIMEOUT, cancellable)))), Gio.IOErrorEnum.CANCELLED,
                'the cancelled wait_async');
        assertEqual(cond.get_lock().get_count(), 1, `${how}: the lock is held again`);
        assertEqual(cond.notify(1), true);
        assertIOError(() => cond.wait(0.05, null), Gio.IOErrorEnum.TIMED_OUT,
            `${how}: a wait after a notify that nobody waited for`);
        cond.release();
    }
});

// The same for a condition: a waiter whose cancellable fires once it was
// notified either reports the notification (success) or leaves it for
// another waiter; it must not report CANCELLED and take it along. The
// other waiter's bound (CANCEL_BOUND) makes a lost notification show as
// its TIMED_OUT.
const CANCEL_BOUND = 10;
test('Condition: a wait_async cancelled after its notify loses no notification', () => {
    const cond = Mp.Condition.new(null);
    const cancellable = new Gio.Cancellable();
    cond.acquire(0, null);
    const first = track(cond.wait_async(-1, cancellable));
    cond.acquire(0, null);
    const second = track(cond.wait_async(CANCEL_BOUND, null));
    cond.acquire(0, null);
    cond.notify(1);
    cond.release();
    cancellable.cancel();
    let firstWoken;
    try {
        firstWoken = outcome(first);
    } catch (e) {
        assertIOError(rethrow(e), Gio.IOErrorEnum.CANCELLED, 'the cancelled wait');
        firstWoken = false;
    }
    cond.release();
    if (firstWoken) {
        // The second still waits for a notification of its own.
        assertEqual(settled(second), false, 'one notify woke two waiters');
        cond.acquire(0, null);
        cond.notify(1);
        cond.release();
    }
    let secondOutcome;
    try {
        secondOutcome = outcome(second);
    } catch (e) {
        secondOutcome = e;
    }
    assertEqual(secondOutcome, true, `the first waiter ${firstWoken ? 'was woken' : 'was CANCELLED'}; the other`);
    cond.release();
});

test('Condition: wait_async is woken by notify, notify(1) wakes one of two', () => {
    const cond = Mp.Condition.new(null);
    cond.acquire(0, null);
    const first = track(cond.wait_async(TIMEOUT, null));
    // The lock was let go by the first wait: take it again for the second.
    cond.acquire(0, null);
    const second = track(cond.wait_async(TIMEOUT, null));
    cond.acquire(0, null);
    assertEqual(settled(first) || settled(second), false, 'a wait_async returned without a notify');
    cond.notify(1);
    // The woken one needs the lock back.
    cond.release();
    let woken = 0;
    H.runUntil(() => {
        woken = [first, second].filter(p => settled(p)).length;
        return woken > 0;
    });
    assertEqual(woken, 1, 'notify(1) woke both');
    // Whichever woke holds the lock now (this thread): let it go, then
    // wake the other.
    cond.release();
    cond.acquire(0, null);
    cond.notify(1);
    cond.release();
    assertEqual(outcome(first), true);
    assertEqual(outcome(second), true);
    cond.release();
    assertEqual(cond.get_lock().is_owned(), false);
});

// ---- Barrier ----------------------------------------------------------------------

test('Barrier: properties, one-party pass, abort and reset, timeout breaks it', () => {
    assertIOError(() => Mp.Barrier.new(0), Gio.IOErrorEnum.INVALID_ARGUMENT, 'no parties');
    const one = Mp.Barrier.new(1);
    for (let i = 0; i < 5; i++)
        assertEqual(one.wait(0, null), 0);

    const barrier = Mp.Barrier.new(3);
    assertEqual([barrier.parties, barrier.n_waiting, barrier.broken, barrier.timeout, barrier.action],
        [3, 0, false, -1, null]);
    barrier.timeout = 0.5;
    assertEqual(barrier.get_timeout(), 0.5);

    // Two arrive (async: this one thread cannot block twice).
    const a = track(barrier.wait_async(TIMEOUT, null));
    const b = track(barrier.wait_async(TIMEOUT, null));
    assertEqual(barrier.n_waiting, 2);
    assertEqual(settled(a) || settled(b), false, 'a wait returned before the third party');
    // The third releases them: indices 0, 1 and 2 once each.
    const c = barrier.wait(TIMEOUT, null);
    const indices = [outcome(a), outcome(b), c].sort();
    assertEqual(indices, [0, 1, 2]);
    assertEqual(barrier.n_waiting, 0);

    // abort: waiting parties and later ones get BROKEN_BARRIER.
    const d = track(barrier.wait_async(TIMEOUT, null));
    assertEqual(barrier.n_waiting, 1);
    barrier.abort();
    assertEqual(barrier.broken, true);
    assertMpError(rethrow(rejection(d)), Mp.Error.BROKEN_BARRIER, 'a waiter at abort');
    assertMpError(() => barrier.wait(TIMEOUT, null), Mp.Error.BROKEN_BARRIER, 'a wait after abort');
    barrier.reset();
    assertEqual([barrier.broken, barrier.n_waiting], [false, 0]);

    // reset with a waiter: it gets BROKEN_BARRIER, the barrier works again.
    const e = track(barrier.wait_async(TIMEOUT, null));
    assertEqual(barrier.n_waiting, 1);
    barrier.reset();
    assertMpError(rethrow(rejection(e)), Mp.Error.BROKEN_BARRIER, 'a waiter at reset');
    assertEqual(barrier.broken, false);

    // A timeout (the property's, with a negative argument) breaks the
    // barrier for everybody: the one that timed out is TIMED_OUT, the
    // others BROKEN_BARRIER.
    const f = track(barrier.wait_async(TIMEOUT, null));
    assertTimesOut(() => barrier.wait(-1, null), 0.5, 'wait with the barrier\'s timeout');
    assertEqual(barrier.broken, true);
    assertMpError(rethrow(rejection(f)), Mp.Error.BROKEN_BARRIER, 'a waiter when another timed out');
    barrier.reset();
    assertEqual([barrier.broken, barrier.n_waiting], [false, 0]);
});

// Cancelling a party that has arrived breaks the barrier, as a timeout
// does: the others must not wait for a party that left. Two moments: the
// cancellable fires while the wait sleeps (after the main loop ran), or
// right after wait_async returned (the party arrived at once, inside the
// call). The other waiter has a bound of BARRIER_CANCEL_BOUND seconds, so
// that a bug shows as its TIMED_OUT rather than as the test's TIMEOUT.
const BARRIER_CANCEL_BOUND = 10;
for (const when of ['while it sleeps', 'right after wait_async']) {
    test(`Barrier: a wait_async cancelled ${when} breaks the barrier for the others`, () => {
        const barrier = Mp.Barrier.new(3);
        const cancellable = new Gio.Cancellable();
        const g = track(barrier.wait_async(TIMEOUT, cancellable));
        const h = track(barrier.wait_async(BARRIER_CANCEL_BOUND, null));
        assertEqual(barrier.n_waiting, 2);
        if (when === 'while it sleeps')
            assertEqual(settled(g) || settled(h), false, 'a wait returned before the third party');
        cancellable.cancel();
        assertIOError(rethrow(rejection(g)), Gio.IOErrorEnum.CANCELLED, 'the cancelled wait_async');
        assertMpError(rethrow(rejection(h)), Mp.Error.BROKEN_BARRIER, 'a waiter when another was cancelled');
        assertEqual(barrier.broken, true);
    });
}

test('Condition: wait_for tests the predicate first and after each notify', () => {
    const cond = Mp.Condition.new(null);
    cond.acquire(0, null);
    let calls = 0;
    // True at once: no wait.
    assertEqual(cond.wait_for(() => ++calls > 0, 0, null), true);
    assertEqual(calls, 1);
    // Never true: TIMED_OUT after about the timeout, the lock held again.
    calls = 0;
    assertTimesOut(() => cond.wait_for(() => {
        calls++;
        return false;
    }, 0.2, null), 0.2, 'wait_for(false, 0.2)');
    assert(calls >= 2, `the predicate was tested ${calls} times`);
    assertEqual(cond.get_lock().get_count(), 1);
    cond.release();
    assertMpError(() => cond.wait_for(() => false, 0, null), Mp.Error.INVALID_STATE, 'wait_for without the lock');
});

test('Barrier: the action runs once per pass, in the last party; a failing one breaks the barrier', () => {
    const count = Mp.Value.new('i', null, false);
    const barrier = Mp.Barrier.new(2);
    barrier.set_action('barrier-action', new GLib.Variant('(v)', [count.to_variant()]));
    assertEqual(barrier.action, 'barrier-action');
    for (let pass = 1; pass <= 3; pass++) {
        const a = track(barrier.wait_async(TIMEOUT, null));
        // The action has not run before the last party came.
        assertEqual(count.get().get_int32(), pass - 1);
        const b = barrier.wait(TIMEOUT, null);
        assertEqual(count.get().get_int32(), pass);
        assertEqual([outcome(a), b].sort(), [0, 1]);
    }
    // The action travels with the reference.
    assertEqual(Mp.Barrier.new_from_variant(barrier.to_variant()).action, 'barrier-action');

    // A failing action: the last party gets its error, the others
    // BROKEN_BARRIER.
    count.set(int(-1));
    const a = track(barrier.wait_async(TIMEOUT, null));
    const e = assertThrows(() => barrier.wait(TIMEOUT, null), 'the last party of a failing action');
    assert(e.message.includes('the action refuses a negative count'), `the last party got ${e}`);
    assertMpError(rethrow(rejection(a)), Mp.Error.BROKEN_BARRIER, 'a party when the action failed');
    assertEqual(barrier.broken, true);
});

// ---- Value and Array --------------------------------------------------------------

test('Value: every type, set, add (wrapping), refused types and values', () => {
    const cases = [
        ['b', true], ['y', 200], ['n', -300], ['q', 60000], ['i', -70000], ['u', 4000000000],
        ['x', -(2 ** 40)], ['t', 2 ** 50], ['d', 2.5],
    ];
    for (const [type, x] of cases) {
        const zero = Mp.Value.new(type, null, false);
        assertEqual(zero.get_type_string(), type);
        assertEqual(zero.get().get_type_string(), type);
        assertEqual(zero.get().unpack(), type === 'b' ? false : 0, `${type}: zero`);
        assertEqual(zero.get_lock(), null, `${type}: lock=false has no lock`);
        const v = Mp.Value.new(type, new GLib.Variant(type, x), true);
        assertEqual(v.get().unpack(), x, `${type}: initial`);
        assert(v.get_lock() instanceof Mp.RLock, `${type}: lock=true has ${v.get_lock()}`);
        zero.set(new GLib.Variant(type, x));
        assertEqual(zero.get().unpack(), x, `${type}: set`);
        // Another type is refused, the value stays.
        const other = type === 'i' ? new GLib.Variant('u', 1) : int(1);
        assertIOError(() => zero.set(other), Gio.IOErrorEnum.INVALID_ARGUMENT, `${type}: set ${other.print(true)}`);
        assertEqual(zero.get().unpack(), x, `${type}: after a refused set`);
        // The copy from the reference shares it.
        const copy = Mp.Value.new_from_variant(v.to_variant());
        copy.set(new GLib.Variant(type, type === 'b' ? false : 1));
        assertEqual(v.get().unpack(), type === 'b' ? false : 1, `${type}: set through a copy`);
    }
    // add: atomic, returns the new value, wraps as C does.
    const y = Mp.Value.new('y', new GLib.Variant('y', 250), false);
    assertEqual(y.add(int(10)).unpack(), 4);
    assertEqual(y.get().unpack(), 4);
    const i = Mp.Value.new('i', null, false);
    assertEqual(i.add(int(-5)).unpack(), -5);
    assertEqual(i.add(new GLib.Variant('x', 7)).unpack(), 2);
    const d = Mp.Value.new('d', new GLib.Variant('d', 0.5), false);
    assertEqual(d.add(new GLib.Variant('d', 1.25)).unpack(), 1.75);
    assertEqual(d.add(int(1)).unpack(), 2.75);
    assertIOError(() => i.add(new GLib.Variant('s', '1')), Gio.IOErrorEnum.INVALID_ARGUMENT, 'add a string');
    assertIOError(() => Mp.Value.new('b', null, false).add(int(1)), Gio.IOErrorEnum.INVALID_ARGUMENT, 'add to a boolean');
    // Only fixed-size numbers and booleans.
    for (const bad of ['s', 'ai', 'ii', '', 'v'])
        assertIOError(() => Mp.Value.new(bad, null, false), Gio.IOErrorEnum.INVALID_ARGUMENT, `type "${bad}"`);
    assertIOError(() => Mp.Value.new('i', new GLib.Variant('s', 'x'), false), Gio.IOErrorEnum.INVALID_ARGUMENT,
        'an initial value of another type');
});

test('Array: get, set, slices, get_bytes is a view, out of range is refused', () => {
    const a = Mp.Array.new_with_values(new GLib.Variant('ai', [10, 20, 30, 40, 50]), true);
    assertEqual([a.get_length(), a.get_element_type()], [5, 'i']);
    assert(a.get_lock() instanceof Mp.RLock, `the lock is ${a.get_lock()}`);
    assertEqual(a.get(0).unpack(), 10);
    assertEqual(a.get(4).unpack(), 50);
    a.set(1, int(-2));
    assertEqual(a.get_slice(0, 5).deepUnpack(), [10, -2, 30, 40, 50]);
    assertEqual(a.get_slice(1, 3).get_type_string(), 'ai');
    assertEqual(a.get_slice(1, 3).deepUnpack(), [-2, 30]);
    assertEqual(a.get_slice(2, 2).deepUnpack(), []);
    a.set_slice(3, new GLib.Variant('ai', [7, 8]));
    assertEqual(a.get_slice(0, 5).deepUnpack(), [10, -2, 30, 7, 8]);

    // The bytes are the memory itself, in native layout: a later set shows.
    const bytes = a.get_bytes();
    const before = bytes.toArray();
    assertEqual(before.length, 5 * 4);
    a.set(0, int(0x01020304));
    const after = bytes.toArray();
    const ints = new Int32Array(after.buffer.slice(after.byteOffset, after.byteOffset + after.length));
    assertEqual(Array.from(ints), [0x01020304, -2, 30, 7, 8]);

    // Out of range, wrong types: refused, nothing changes.
    assertIOError(() => a.get(5), Gio.IOErrorEnum.INVALID_ARGUMENT, 'get(5)');
    assertIOError(() => a.set(5, int(1)), Gio.IOErrorEnum.INVALID_ARGUMENT, 'set(5)');
    assertIOError(() => a.get_slice(3, 6), Gio.IOErrorEnum.INVALID_ARGUMENT, 'get_slice(3, 6)');
    assertIOError(() => a.get_slice(3, 2), Gio.IOErrorEnum.INVALID_ARGUMENT, 'get_slice(3, 2)');
    assertIOError(() => a.set_slice(4, new GLib.Variant('ai', [1, 2])), Gio.IOErrorEnum.INVALID_ARGUMENT,
        'set_slice past the end');
    assertIOError(() => a.set_slice(0, new GLib.Variant('ax', [1])), Gio.IOErrorEnum.INVALID_ARGUMENT,
        'set_slice of another type');
    assertIOError(() => a.set(0, new GLib.Variant('d', 1)), Gio.IOErrorEnum.INVALID_ARGUMENT, 'set a double');
    assertEqual(a.get_slice(0, 5).deepUnpack(), [0x01020304, -2, 30, 7, 8]);

    // Zeros when made with a length; booleans and doubles too.
    const z = Mp.Array.new('d', 3, false);
    assertEqual(z.get_lock(), null);
    assertEqual(z.get_slice(0, 3).deepUnpack(), [0, 0, 0]);
    z.set_slice(0, new GLib.Variant('ad', [0.5, -1.5, 1e300]));
    assertEqual(z.get_slice(0, 3).deepUnpack(), [0.5, -1.5, 1e300]);
    const bools = Mp.Array.new_with_values(new GLib.Variant('ab', [true, false, true]), false);
    assertEqual(bools.get_slice(0, 3).deepUnpack(), [true, false, true]);
    assertEqual(Array.from(bools.get_bytes().toArray()), [1, 0, 1]);
    // A copy from the reference is the same memory.
    const copy = Mp.Array.new_from_variant(a.to_variant());
    assertEqual(copy.get_length(), 5);
    copy.set(4, int(99));
    assertEqual(a.get(4).unpack(), 99);

    assertIOError(() => Mp.Array.new('s', 3, false), Gio.IOErrorEnum.INVALID_ARGUMENT, 'an array of strings');
    assertIOError(() => Mp.Array.new_with_values(int(1), false), Gio.IOErrorEnum.INVALID_ARGUMENT, 'not an array');
});

// ---- SharedMemory -----------------------------------------------------------------

test('SharedMemory: anonymous and named, read, write, close, unlink, errors', t => {
    const anon = Mp.SharedMemory.new(null, 1000);
    assertEqual([anon.get_name(), anon.get_size()], [null, 1000]);
    assert(anon.get_address() > 0, 'no address');
    // A new mapping reads as zeros.
    assertEqual(checkZeros(anon.read(0, 1000).toArray()), -1, 'first non-zero byte');
    anon.write(10, new GLib.Bytes(pattern(100)));
    assertEqual(checkPattern(anon.read(10, 100).toArray()), -1);
    // get_bytes is the mapping: a later write shows.
    const view = anon.get_bytes();
    anon.write(0, new GLib.Bytes(new Uint8Array([7, 8, 9])));
    assertEqual(Array.from(view.toArray().slice(0, 3)), [7, 8, 9]);
    assertIOError(() => anon.read(990, 11), Gio.IOErrorEnum.INVALID_ARGUMENT, 'read past the end');
    assertIOError(() => anon.write(999, new GLib.Bytes(new Uint8Array(2))), Gio.IOErrorEnum.INVALID_ARGUMENT,
        'write past the end');
    assertEqual(anon.unlink(), true, 'unlink of anonymous memory');
    anon.close();
    assertEqual(anon.get_address(), 0);
    assertIOError(() => anon.read(0, 1), Gio.IOErrorEnum.CLOSED, 'read after close');
    assertIOError(() => anon.get_bytes(), Gio.IOErrorEnum.CLOSED, 'get_bytes after close');
    // The view outlives the close.
    assertEqual(Array.from(view.toArray().slice(0, 3)), [7, 8, 9]);

    assertIOError(() => Mp.SharedMemory.new(null, 0), Gio.IOErrorEnum.INVALID_ARGUMENT, 'size 0');
    assertIOError(() => Mp.SharedMemory.new('a/b', 10), Gio.IOErrorEnum.INVALID_ARGUMENT, 'a name with a slash');

    const name = `mp-test-js-sync-${getpid()}`;
    const named = Mp.SharedMemory.new(name, 4096);
    t.defer(() => {
        try {
            named.unlink();
        } catch (e) {}
    });
    assertEqual(named.get_name(), name);
    assertIOError(() => Mp.SharedMemory.new(name, 4096), Gio.IOErrorEnum.EXISTS, 'a name that is taken');
    named.write(0, new GLib.Bytes(pattern(4096)));
    const opened = Mp.SharedMemory.open(name);
    assertEqual([opened.get_name(), opened.get_size()], [name, 4096]);
    assertEqual(checkPattern(opened.read(0, 4096).toArray()), -1);
    assertEqual(named.unlink(), true);
    assertIOError(() => Mp.SharedMemory.open(name), Gio.IOErrorEnum.NOT_FOUND, 'open after unlink');
    // Still mapped by both.
    opened.write(0, new GLib.Bytes(new Uint8Array([1])));
    assertEqual(named.read(0, 1).toArray()[0], 1);
    opened.close();
    named.close();
});

function checkZeros(data) {
    return data.findIndex(x => x !== 0);
}

// ---- across processes, in each start method -----------------------------------------

for (const [m, method] of METHODS) {
    for (const kind of ['Lock', 'RLock']) {
        test(`${m}: ${kind}: timed acquire while a child holds it, acquire_async as it releases`, t => {
            const lock = newLock(kind);
            const held = newEvent();
            const release = newEvent();
            const p = start(t, method, 'hold', new GLib.Variant('(vvvb)',
                [lock.to_variant(), held.to_variant(), release.to_variant(), false]));
            assertEqual(held.wait(TIMEOUT, null), true);
            assertEqual(isHeld(lock), kind === 'Lock', 'held by this process');
            if (kind === 'RLock')
                assertEqual(lock.get_count(), 0);
            assertIOError(() => lock.acquire(0, null), Gio.IOErrorEnum.TIMED_OUT, 'try while the child holds it');
            assertTimesOut(() => lock.acquire(0.2, null), 0.2, 'acquire(0.2) while the child holds it');
            // An RLock is only the owner's to release; a Lock is anybody's,
            // which is not tried here.
            if (kind === 'RLock')
                assertMpError(() => lock.release(), Mp.Error.INVALID_STATE, 'release of the child\'s rlock');

            // A cancelled async wait, then one that the release ends.
            const cancellable = new Gio.Cancellable();
            const cancelled = track(lock.acquire_async(-1, cancellable));
            const promise = track(lock.acquire_async(TIMEOUT, null));
            assertEqual(settled(promise) || settled(cancelled), false, 'acquire_async returned while the child holds it');
            cancellable.cancel();
            assertIOError(rethrow(rejection(cancelled)), Gio.IOErrorEnum.CANCELLED, 'cancelled acquire_async');
            // A blocking acquire with the cancelled cancellable does not wait.
            assertIOError(() => lock.acquire(TIMEOUT, cancellable), Gio.IOErrorEnum.CANCELLED, 'cancelled acquire');
            assertEqual(isHeld(lock), kind === 'Lock', 'a cancelled acquire changed the lock');
            release.set();
            assertEqual(outcome(promise), true);
            assertEqual(isHeld(lock), true);
            joinOk(p);
            lock.release();
            assertEqual(isHeld(lock), false);
            assertEqual(lock.acquire(0, null), true);
            lock.release();
        });

        test(`${m}: ${kind}: a child tries the lock this process holds, and releases it if it may`, t => {
            const lock = newLock(kind);
            assertEqual(lock.acquire(0, null), true);
            const p = start(t, method, 'foreign', new GLib.Variant('(v)', [lock.to_variant()]));
            joinOk(p);
            if (kind === 'Lock') {
                // The child released it.
                assertEqual(lock.is_locked(), false);
                assertMpError(() => lock.release(), Mp.Error.INVALID_STATE, 'release after the child did');
            } else {
                assertEqual(lock.get_count(), 1);
                assertEqual(lock.release(), true);
            }
        });

        test(`${m}: ${kind}: a holder killed with SIGKILL: the next acquire gets OWNER_DIED and the lock`, t => {
            const lock = newLock(kind);
            const held = newEvent();
            const never = newEvent();
            const args = new GLib.Variant('(vvvb)', [lock.to_variant(), held.to_variant(), never.to_variant(), true]);

            // This process is already waiting (async) when the holder dies.
            let p = start(t, method, 'hold', args);
            assertEqual(held.wait(TIMEOUT, null), true);
            const promise = track(lock.acquire_async(TIMEOUT, null));
            assertEqual(settled(promise), false, 'acquire_async returned while the child holds the lock');
            assertEqual(p.kill(), true);
            let e = rejection(promise, 'acquire_async after the holder died');
            e = assertMpError(rethrow(e), Mp.Error.OWNER_DIED, 'acquire_async after the holder died');
            assert(e.message.includes(`${p.pid}`), `the message does not name the holder: ${e.message}`);
            assertEqual(isHeld(lock), true, 'the lock is not held after OWNER_DIED');
            if (kind === 'RLock')
                assertEqual(lock.get_count(), 1);
            assertEqual(p.join(TIMEOUT), true);
            assertEqual(p.exitcode, -9);
            assertEqual(lock.release(), true);
            assertEqual(isHeld(lock), false);

            // The holder is dead (and reaped) before anybody waits: a
            // blocking acquire.
            held.clear();
            p = start(t, method, 'hold', args);
            assertEqual(held.wait(TIMEOUT, null), true);
            assertEqual(p.kill(), true);
            assertEqual(p.join(TIMEOUT), true);
            assertEqual(p.exitcode, -9);
            assertMpError(() => lock.acquire(TIMEOUT, null), Mp.Error.OWNER_DIED, 'acquire after the holder died');
            assertEqual(isHeld(lock), true, 'the lock is not held after OWNER_DIED');
            if (kind === 'Lock')
                assertIOError(() => lock.acquire(0, null), Gio.IOErrorEnum.TIMED_OUT, 'held: a try fails');
            // Reported once: released and taken again, it is an ordinary lock.
            assertEqual(lock.release(), true);
            assertEqual(lock.acquire(0, null), true);
            assertEqual(lock.release(), true);
            assertEqual(isHeld(lock), false);
        });
    }

    test(`${m}: Lock: a holder killed while two processes wait: exactly one gets OWNER_DIED`, t => {
        const lock = Mp.Lock.new();
        const held = newEvent();
        const never = newEvent();
        const reports = Mp.Queue.new(0);
        const holder = start(t, method, 'hold', new GLib.Variant('(vvvb)',
            [lock.to_variant(), held.to_variant(), never.to_variant(), true]));
        assertEqual(held.wait(TIMEOUT, null), true);
        const mine = track(lock.acquire_async(TIMEOUT, null));
        const waiter = start(t, method, 'acquire-report', new GLib.Variant('(vv)',
            [lock.to_variant(), reports.to_variant()]));
        assertEqual(settled(mine), false, 'acquire_async returned while the child holds the lock');
        assertEqual(holder.kill(), true);
        // This process takes the lock first or after the other waiter;
        // either way the death is reported once.
        let how;
        try {
            assertEqual(outcome(mine), true);
            how = 'ok';
        } catch (e) {
            assertMpError(rethrow(e), Mp.Error.OWNER_DIED, 'acquire_async after the holder died');
            how = 'died';
        }
        assertEqual(lock.is_locked(), true);
        lock.release();
        const other = reports.get(true, TIMEOUT, null).get_string()[0];
        assertEqual([how, other].sort(), ['died', 'ok'], 'how this process and the other waiter got the lock');
        joinOk(waiter);
        assertEqual(holder.join(TIMEOUT), true);
        assertEqual(holder.exitcode, -9);
        assertEqual(lock.is_locked(), false);
    });

    test(`${m}: Semaphore(2): at most 2 of 4 children inside at once`, t => {
        const sem = Mp.Semaphore.new(2, true);
        const inside = Mp.Value.new('i', null, false);
        const children = [];
        for (let i = 0; i < 4; i++) {
            children.push(start(t, method, 'limited', new GLib.Variant('(vvii)',
                [sem.to_variant(), inside.to_variant(), 2, 200])));
        }
        for (const p of children)
            joinOk(p);
        assertEqual([sem.get_value(), inside.get().get_int32()], [2, 0]);
    });

    test(`${m}: Condition: wait_for a value that a child sets step by step`, t => {
        const cond = Mp.Condition.new(Mp.Lock.new());
        const value = Mp.Value.new('i', null, false);
        assertEqual(cond.acquire(TIMEOUT, null), true);
        const p = start(t, method, 'count-and-notify', new GLib.Variant('(vvi)',
            [cond.to_variant(), value.to_variant(), 5]));
        let calls = 0;
        assertEqual(cond.wait_for(() => {
            calls++;
            return value.get().get_int32() >= 5;
        }, TIMEOUT, null), true);
        assertEqual(cond.get_lock().is_locked(), true);
        assertEqual(value.get().get_int32(), 5);
        assert(calls >= 2 && calls <= 6, `the predicate was tested ${calls} times`);
        cond.release();
        joinOk(p);
    });

    test(`${m}: Barrier: the action runs in the last party, once per pass`, t => {
        const passes = 50;
        const count = Mp.Value.new('i', null, false);
        const barrier = Mp.Barrier.new(N_PARTIES);
        barrier.set_action('barrier-action', new GLib.Variant('(v)', [count.to_variant()]));
        const children = [];
        for (let i = 0; i < N_PARTIES; i++)
            children.push(start(t, method, 'barrier-n', new GLib.Variant('(vi)', [barrier.to_variant(), passes])));
        for (const p of children)
            joinOk(p);
        assertEqual(count.get().get_int32(), passes);
        assertEqual(barrier.broken, false);
    });

    test(`${m}: Value: add() is atomic, 4 children add 1 250 times without the lock`, t => {
        const value = Mp.Value.new('x', null, false);
        const children = [];
        for (let i = 0; i < 4; i++)
            children.push(start(t, method, 'add', new GLib.Variant('(vi)', [value.to_variant(), 250])));
        for (const p of children)
            joinOk(p);
        assertEqual(value.get().unpack(), 1000);
    });

    test(`${m}: references through a queue and in subclass properties`, t => {
        const q = Mp.Queue.new(0);
        const ev = newEvent();
        const lock = Mp.Lock.new();
        q.put(ev.to_variant(), true, -1, null);
        q.put(lock.to_variant(), true, -1, null);
        const p = start(t, method, 'from-queue', new GLib.Variant('(v)', [q.to_variant()]));
        assertEqual(ev.wait(TIMEOUT, null), true);
        joinOk(p);
        // The child took the lock and ended holding it: a Lock has no
        // owner to die with, and stays taken.
        assertEqual(lock.is_locked(), true);
        lock.release();

        const value = Mp.Value.new('i', int(41), false);
        const ev2 = newEvent();
        const worker = new SyncWorker({lock, event: ev2, value, start_method: method});
        t.defer(() => {
            if (worker.state === Mp.ProcessState.STARTED) {
                worker.kill();
                worker.join(TIMEOUT);
            }
        });
        if (method === Mp.StartMethod.FORK)
            System.gc();  // see startFork()
        worker.start();
        joinOk(worker);
        assertEqual([ev2.is_set(), value.get().get_int32(), lock.is_locked()], [true, 42, false]);
    });

    test(`${m}: Condition: the lock's holder killed while a woken wait_async relocks: OWNER_DIED, lock held`, t => {
        const cond = Mp.Condition.new(null);
        const held = newEvent();
        const never = newEvent();
        assertEqual(cond.acquire(0, null), true);
        const waiting = track(cond.wait_async(TIMEOUT, null));
        const p = start(t, method, 'notify-and-hang', new GLib.Variant('(vvv)',
            [cond.to_variant(), held.to_variant(), never.to_variant()]));
        assertEqual(held.wait(TIMEOUT, null), true);
        // Notified, it waits for the lock the child keeps.
        assertEqual(settled(waiting), false, 'wait_async returned while the child holds the lock');
        assertEqual(p.kill(), true);
        assertMpError(rethrow(rejection(waiting)), Mp.Error.OWNER_DIED, 'the wait when the lock\'s holder died');
        const lock = cond.get_lock();
        assertEqual([lock.is_owned(), lock.get_count()], [true, 1]);
        cond.release();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(p.exitcode, -9);
    });

    test(`${m}: Condition: a waiter killed inside wait leaves no waiter behind for a later notify`, t => {
        const cond = Mp.Condition.new(null);
        const ready = Mp.Queue.new(0);
        const p = start(t, method, 'cond-wait-forever', new GLib.Variant('(vv)', [cond.to_variant(), ready.to_variant()]));
        ready.get(true, TIMEOUT, null);
        // Once this process holds the lock, the child is inside wait.
        assertEqual(cond.acquire(TIMEOUT, null), true);
        assertEqual(p.kill(), true);
        assertEqual(p.join(TIMEOUT), true);
        // Nobody alive waits: the notify is lost, as in Python, and a wait
        // that begins afterwards times out.
        cond.notify(1);
        assertIOError(() => cond.wait(0.05, null), Gio.IOErrorEnum.TIMED_OUT, 'a wait after a notify that only a dead waiter could take');
        cond.release();
    });

    test(`${m}: Semaphore: acquire_async waits for a child's releases`, t => {
        const sem = Mp.Semaphore.new(0, false);
        const promise = track(sem.acquire_async(TIMEOUT, null));
        assertEqual(settled(promise), false, 'acquire_async returned at 0');
        const p = start(t, method, 'sem-release', new GLib.Variant('(vi)', [sem.to_variant(), 3]));
        assertEqual(outcome(promise), true);
        joinOk(p);
        assertEqual(sem.get_value(), 2);

        // A bounded one: the child's over-release is refused.
        const bounded = Mp.Semaphore.new(2, true);
        bounded.acquire(0, null);
        const q = start(t, method, 'sem-release', new GLib.Variant('(vi)', [bounded.to_variant(), 2]));
        assertEqual(q.join(TIMEOUT), true);
        assertMpError(() => q.check_error(), Mp.Error.INVALID_STATE, 'the child\'s second release');
        assertEqual(bounded.get_value(), 2);
    });

    test(`${m}: Event: wait(0) is TIMED_OUT until a child sets it; wait_async resolves then`, t => {
        const ping = newEvent();
        const pong = newEvent();
        const p = start(t, method, 'ping-pong', new GLib.Variant('(vv)', [ping.to_variant(), pong.to_variant()]));
        assertIOError(() => pong.wait(0, null), Gio.IOErrorEnum.TIMED_OUT, 'wait(0) before the child set it');
        const promise = track(pong.wait_async(TIMEOUT, null));
        // The child waits for ping, so it cannot have set pong yet.
        assertEqual(settled(promise), false, 'wait_async returned before the child set the event');
        assertEqual(pong.is_set(), false);
        ping.set();
        assertEqual(outcome(promise), true);
        assertEqual(pong.is_set(), true);
        assertEqual(pong.wait(0, null), true);
        joinOk(p);
        pong.clear();
        assertIOError(() => pong.wait(0, null), Gio.IOErrorEnum.TIMED_OUT, 'wait(0) after clear');
    });

    test(`${m}: Condition: notify(n) wakes exactly n of ${N_WAITERS} children`, t => {
        const cond = Mp.Condition.new(null);
        const round = Mp.Value.new('i', null, false);
        const ready = Mp.Queue.new(0);
        const reports = Mp.Queue.new(0);
        const children = [];
        for (let id = 0; id < N_WAITERS; id++) {
            children.push(start(t, method, 'cond-wait', new GLib.Variant('(vvvvi)',
                [cond.to_variant(), round.to_variant(), ready.to_variant(), reports.to_variant(), id])));
        }
        // Each says ready while it holds the lock, and lets it go only in
        // wait: once this process holds the lock, all are waiters.
        const readyIds = [];
        for (let i = 0; i < N_WAITERS; i++)
            readyIds.push(ready.get(true, TIMEOUT, null).get_int32());
        assertEqual(readyIds.sort(), [0, 1, 2, 3, 4]);
        assertEqual(cond.acquire(TIMEOUT, null), true);
        cond.release();

        // Round r notifies NOTIFY_ROUNDS[r] and waits for that many
        // reports; the next round starts after them. A child woken by a
        // round it was not counted in reports an earlier round during a
        // later one, or leaves a later round a child short (which then
        // waits until the TIMEOUT).
        const woken = new Set();
        NOTIFY_ROUNDS.forEach((n, r) => {
            assertEqual(cond.acquire(TIMEOUT, null), true);
            round.set(int(r));
            assertEqual(cond.notify(n), true);
            cond.release();
            for (let i = 0; i < n; i++) {
                const [id, seen] = reports.get(true, TIMEOUT, null).deepUnpack();
                assertEqual(seen, r, `child ${id} reported round ${seen} during round ${r}`);
                assert(!woken.has(id), `child ${id} woken twice`);
                woken.add(id);
            }
        });
        assertEqual(woken.size, N_WAITERS);
        for (const p of children)
            joinOk(p);
        assertEqual(reports.empty(), true, 'more reports than notifications');
    });

    test(`${m}: Barrier: ${N_PARTIES} children pass it ${N_PASSES} times, one index 0 per pass`, t => {
        const passes = N_PASSES;
        const barrier = Mp.Barrier.new(N_PARTIES);
        const array = Mp.Array.new('y', N_PARTIES * passes, false);
        const children = [];
        for (let id = 0; id < N_PARTIES; id++) {
            children.push(start(t, method, 'barrier-passes', new GLib.Variant('(vvii)',
                [barrier.to_variant(), array.to_variant(), id, passes])));
        }
        // A lost wake-up shows as a party timing out (PASS_TIMEOUT), which
        // breaks the barrier and fails every child with the pass it was at.
        for (const p of children)
            joinOk(p);
        assertEqual([barrier.broken, barrier.n_waiting], [false, 0]);
        const got = array.get_bytes().toArray();
        for (let pass = 0; pass < passes; pass++) {
            const indices = [];
            for (let id = 0; id < N_PARTIES; id++)
                indices.push(got[id * passes + pass]);
            if (!equalArrays(indices.sort(), [0, 1, 2]))
                H.fail(`pass ${pass}: indices ${indices}`);
        }
    });

    test(`${m}: Barrier: abort breaks it for waiting children (BROKEN_BARRIER)`, t => {
        const barrier = Mp.Barrier.new(N_PARTIES);
        const ready = Mp.Queue.new(0);
        const children = [];
        for (let i = 0; i < N_PARTIES - 1; i++) {
            children.push(start(t, method, 'barrier-broken', new GLib.Variant('(vv)',
                [barrier.to_variant(), ready.to_variant()])));
        }
        for (let i = 0; i < N_PARTIES - 1; i++)
            ready.get(true, TIMEOUT, null);
        // They said so right before they wait: the barrier counts them
        // once they have arrived.
        pollUntil(() => barrier.n_waiting === N_PARTIES - 1);
        barrier.abort();
        for (const p of children)
            joinOk(p);
        assertEqual(barrier.broken, true);
        assertMpError(() => barrier.wait(0, null), Mp.Error.BROKEN_BARRIER, 'a wait after abort');
    });

    test(`${m}: Value: the seeds' counter, ${N_COUNTERS} children add 1 ${N_ADDS} times under the lock`, t => {
        const counter = Mp.Value.new('i', int(0), true);
        const children = [];
        for (let i = 0; i < N_COUNTERS; i++)
            children.push(start(t, method, 'count', new GLib.Variant('(vi)', [counter.to_variant(), N_ADDS])));
        for (const p of children)
            joinOk(p);
        assertEqual(counter.get().get_int32(), N_COUNTERS * N_ADDS);
        assertEqual(counter.get_lock().is_owned(), false);
    });

    test(`${m}: Array: a child reads the parent's values and writes its own`, t => {
        const array = Mp.Array.new_with_values(new GLib.Variant('ai', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), true);
        const p = start(t, method, 'array-squares', new GLib.Variant('(v)', [array.to_variant()]));
        joinOk(p);
        assertEqual(array.get_slice(0, 10).deepUnpack(), [0, 1, 4, 9, 16, 25, 36, 49, 64, -1]);
        const bytes = array.get_bytes().toArray();
        const ints = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
        assertEqual(Array.from(ints), [0, 1, 4, 9, 16, 25, 36, 49, 64, -1]);
    });

    test(`${m}: SharedMemory: anonymous memory passed to a child`, t => {
        const shm = Mp.SharedMemory.new(null, SHM_SIZE);
        shm.write(0, new GLib.Bytes(pattern(SHM_SIZE)));
        const p = start(t, method, 'shm-anonymous', new GLib.Variant('(vi)', [shm.to_variant(), SHM_SIZE]));
        joinOk(p);
        assertEqual(checkPattern(shm.read(0, SHM_SIZE).toArray(), 1), -1, 'first byte the child did not write');
        assertEqual(checkPattern(shm.get_bytes().toArray(), 1), -1, 'first byte the child did not write');
    });

    test(`${m}: SharedMemory: named memory opened by name in a child`, t => {
        const name = `mp-test-js-sync-${getpid()}-${m}`;
        const shm = Mp.SharedMemory.new(name, SHM_SIZE);
        t.defer(() => {
            try {
                shm.unlink();
            } catch (e) {}
        });
        shm.write(0, new GLib.Bytes(pattern(SHM_SIZE)));
        const p = start(t, method, 'shm-named', new GLib.Variant('(si)', [name, SHM_SIZE]));
        joinOk(p);
        assertEqual(checkPattern(shm.read(0, SHM_SIZE).toArray(), 1), -1, 'first byte the child did not write');
        shm.unlink();
        assertIOError(() => Mp.SharedMemory.open(name), Gio.IOErrorEnum.NOT_FOUND, 'open after unlink');
        shm.close();
    });
}

function equalArrays(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
}

H.run();
