// test-queue.js: MpQueue from GJS, in one process and in each start method
//
// Mirrors tests/c/test-queue.c. GJS has helper threads when Mp.init() runs,
// so libmp forks no forkserver from it: asking for forkserver starts a
// fresh copy of this script as the server.
//
// Everything a child needs (tasks, the Process subclass) is defined before
// Mp.init(ARGV): a spawn child runs this very script again and Mp.init()
// turns it into the worker. No test waits with a sleep: every get that
// could block forever on a bug has a TIMEOUT (TIMED_OUT then fails the
// test), and a main loop runs under a TIMEOUT guard; only a bug reaches
// either bound.
//
// Queue calls take every argument (GJS has no defaults): q.put(v, block,
// timeout, cancellable), q.get(block, timeout, cancellable), where a
// negative timeout waits forever; Mp.Queue.new(maxsize) makes one. Python's
// Full and Empty are G_IO_ERROR_WOULD_BLOCK (not blocking) and
// G_IO_ERROR_TIMED_OUT. A queue reaches a task inside its arguments as
// '(v)' holding q.to_variant(); the child gets it back with
// Mp.Queue.new_from_variant(). A child reports what it found wrong by
// throwing: the parent's check_error() throws it again with its message.
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
const {test, skip, assert, assertEqual, assertGError, runLoop, drainMainContext} = H;

const TIMEOUT = H.TIMEOUT_SECONDS;

// Items per producer in the many-to-many test; fewer in fork, see
// startFork().
const N_ITEMS = 3000;
const N_ITEMS_FORK = 150;
const N_PRODUCERS = 2;
const N_CONSUMERS = 2;

// The size of the large item: 8 MiB and a few bytes, so that the payload
// does not end on a page boundary.
const BIG_SIZE = 8 * 1024 * 1024 + 7;

// The feeder test: items just under the 64 KiB that would go in a memfd, so
// that they fill the socket (its send buffer is at most 8 MiB), and three
// times that in all. Few items: little work for a forked child.
const FEED_ITEM_SIZE = 60 * 1024;
const FEED_ITEMS = 400;

const IO_ERROR = Gio.io_error_quark();

// Deterministic bytes, made the same way on both sides: bits 13 to 20 of
// i * 2654435761 (the low 32 bits of the product hold them), plus the
// index of the 2 MiB block, whose period they would otherwise have.
function pattern(size) {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++)
        data[i] = ((Math.imul(i, 2654435761) >>> 13) + (i >>> 21)) & 0xff;
    return data;
}

// The offset of the first byte that is not pattern(), or -1.
function checkPattern(data) {
    for (let i = 0; i < data.length; i++) {
        if (data[i] !== (((Math.imul(i, 2654435761) >>> 13) + (i >>> 21)) & 0xff))
            return i;
    }
    return -1;
}

// In a child: throw, so that the parent's check_error() reports it.
function expect(condition, message) {
    if (!condition)
        throw new Error(message);
}

// The queue (or pipe end) in the '(v)' at index i of a task's arguments.
const queueArg = (args, i) => Mp.Queue.new_from_variant(args.get_child_value(i).get_variant());
const pipeArg = (args, i) => Mp.Pipe.new_from_variant(args.get_child_value(i).get_variant());
const intArg = (args, i) => args.get_child_value(i).get_int32();

// ---- tasks (registered before Mp.init) --------------------------------------

// Puts (producer, seq) for seq in 0..n-1 and returns: what is still in the
// feeder must go out before the child ends. Arguments: '(vii)'.
Mp.register_task('produce', (args, _cancellable) => {
    const q = queueArg(args, 0);
    expect(q instanceof Mp.Queue, `the queue arrived as ${q}`);
    const producer = intArg(args, 1);
    const n = intArg(args, 2);
    for (let seq = 0; seq < n; seq++)
        q.put(new GLib.Variant('(ii)', [producer, seq]), true, -1, null);
    return null;
});

// Puts n items (seq, payload), far more than the socket holds, says so
// through told and returns: the rest is still in its feeder, which the exit
// waits for. Nobody takes anything meanwhile: no put may block. Arguments:
// '(vvi)'.
Mp.register_task('produce-and-leave', (args, _cancellable) => {
    const q = queueArg(args, 0);
    const told = queueArg(args, 1);
    const n = intArg(args, 2);
    const payload = new GLib.Variant('ay', pattern(FEED_ITEM_SIZE));
    for (let seq = 0; seq < n; seq++)
        q.put(GLib.Variant.new_tuple([new GLib.Variant('i', seq), payload]), false, 0, null);
    told.put(new GLib.Variant('s', 'all put'), true, -1, null);
    return null;
});

// Gets until the quit marker (-1, -1) and forwards what it got, in the
// order it got it, to results as (consumer, producer, seq); the marker
// too. Arguments: '(vvi)'.
Mp.register_task('consume', (args, _cancellable) => {
    const q = queueArg(args, 0);
    const results = queueArg(args, 1);
    const consumer = intArg(args, 2);
    for (;;) {
        const [producer, seq] = q.get(true, TIMEOUT, null).deepUnpack();
        results.put(new GLib.Variant('(iii)', [consumer, producer, seq]), true, -1, null);
        if (producer < 0)
            return null;
    }
});

// Says it is ready, then waits for an item that never comes. Arguments:
// '(vv)'.
Mp.register_task('idle-consumer', (args, _cancellable) => {
    const q = queueArg(args, 0);
    const ready = queueArg(args, 1);
    ready.put(new GLib.Variant('b', true), true, -1, null);
    q.get(true, -1, null);
    throw new Error('an item came to the idle consumer');
});

// Takes n items and marks each done (JoinableQueue). Arguments: '(vi)'.
Mp.register_task('worker-done', (args, _cancellable) => {
    const q = queueArg(args, 0);
    const n = intArg(args, 1);
    for (let i = 0; i < n; i++) {
        q.get(true, TIMEOUT, null);
        q.task_done();
    }
    return null;
});

// Receives a queue through a pipe, takes the item waiting in it, says
// which through the pipe, and puts an answer in the queue. Arguments: '(v)'.
Mp.register_task('queue-from-pipe', (args, _cancellable) => {
    const conn = pipeArg(args, 0);
    expect(conn.poll(TIMEOUT), 'nothing from the parent');
    const q = Mp.Queue.new_from_variant(conn.recv(null, null));
    expect(q instanceof Mp.Queue, `the queue arrived as ${q}`);
    expect(q.get_maxsize() === 5, `maxsize ${q.get_maxsize()}`);
    conn.send(q.get(true, TIMEOUT, null), null);
    q.put(new GLib.Variant('s', 'through the pipe'), true, -1, null);
    return null;
});

// Puts size pattern bytes as one 'ay' item. Arguments: '(vt)'.
Mp.register_task('send-big', (args, _cancellable) => {
    const q = queueArg(args, 0);
    const size = args.get_child_value(1).get_uint64();
    q.put(new GLib.Variant('ay', pattern(size)), true, -1, null);
    return null;
});

// ---- a subclass holding queues ---------------------------------------------------

// Its queues travel as GObject properties: run() takes strings from inbox
// until 'quit' and puts them upper-cased in outbox.
const QueueWorker = GObject.registerClass({
    GTypeName: 'TestJsQueueWorker',
    Properties: {
        'inbox': GObject.ParamSpec.object('inbox', 'Inbox', 'A queue that travels',
            GObject.ParamFlags.READWRITE, Mp.Queue),
        'outbox': GObject.ParamSpec.object('outbox', 'Outbox', 'Another queue that travels',
            GObject.ParamFlags.READWRITE, Mp.Queue),
    },
}, class QueueWorker extends Mp.Process {
    vfunc_run(_cancellable) {
        for (const q of [this.inbox, this.outbox])
            expect(q instanceof Mp.Queue, `the property holds ${q}`);
        expect(this.inbox.get_maxsize() === 4, `inbox maxsize ${this.inbox.get_maxsize()}`);
        for (;;) {
            const [item] = this.inbox.get(true, TIMEOUT, null).get_string();
            if (item === 'quit')
                return;
            this.outbox.put(new GLib.Variant('s', item.toUpperCase()), true, -1, null);
        }
    }
});

Mp.init(ARGV);

// ---- helpers ----------------------------------------------------------------

const MP_ERROR = Mp.error_quark();
const METHODS = [['fork', Mp.StartMethod.FORK], ['spawn', Mp.StartMethod.SPAWN], ['forkserver', Mp.StartMethod.FORKSERVER]];

const int = i => new GLib.Variant('i', i);
const str = s => new GLib.Variant('s', s);

function newQueue(maxsize = 0) {
    const q = Mp.Queue.new(maxsize);
    assert(q instanceof Mp.Queue, `Mp.Queue.new returned ${q}`);
    return q;
}

// q.get() with a bound that only a bug reaches.
function getWithin(q) {
    return q.get(true, TIMEOUT, null);
}

function assertIOError(fn, code, message = '') {
    return assertGError(fn, IO_ERROR, code, message);
}

// Python's Pipe(duplex): [first, second]. GJS 1.74 also returns the
// boolean that new_pair()'s annotations skip, first: [true, first, second].
function newPair(duplex = true) {
    const ends = Mp.Pipe.new_pair(duplex).slice(-2);
    assert(ends.every(end => end instanceof Mp.Pipe), `new_pair returned ${ends}`);
    return ends;
}

// Iterates the default main context until condition() holds; fails after
// TIMEOUT.
function runUntil(condition) {
    let timedOut = false;
    const source = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, TIMEOUT, () => {
        timedOut = true;
        return GLib.SOURCE_REMOVE;
    });
    const context = GLib.MainContext.default();
    while (!condition() && !timedOut)
        context.iteration(true);
    if (!timedOut)
        GLib.source_remove(source);
    assert(!timedOut, `timed out after ${TIMEOUT} s waiting for an event (a bug)`);
}

// A callback for an async call that stores what finish() returned, or the
// error it threw, in results[name].
function storeResult(results, name, finish) {
    return (source, result) => {
        try {
            results[name] = finish.call(source, result);
        } catch (e) {
            results[name] = e;
        }
    };
}

// A forked GJS child has none of SpiderMonkey's helper threads, and the
// first time it hands them work (a garbage collection in the background,
// typically after a few thousand allocations) it can deadlock in
// pthread_cond_signal on a condition variable copied from the parent. So
// what runs in a forked child here allocates little, and the parent
// collects its garbage right before the fork, which leaves the child the
// most room before a collection.
function startFork(task, args) {
    System.gc();
    const p = Mp.Process.new(task, args);
    p.start_method = Mp.StartMethod.FORK;
    p.start();
    return p;
}

// Starts a task; after the test, kills it if it still runs (after a
// failure it may wait for an item forever, and the runtime would join it
// at exit).
function start(t, method, task, args) {
    let p;
    if (method === Mp.StartMethod.FORK) {
        p = startFork(task, args);
    } else {
        p = Mp.Process.new(task, args);
        p.start_method = method;
        p.start();
    }
    stopLater(t, p);
    return p;
}

function stopLater(t, p) {
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

// ---- in one process ---------------------------------------------------------------

test('FIFO: values come back in order with their types', () => {
    const q = newQueue(0);
    assertEqual(q.get_maxsize(), 0);
    const values = [
        str('text'),
        int(-7),
        new GLib.Variant('x', 2 ** 40),
        new GLib.Variant('d', 1.5),
        new GLib.Variant('ai', [1, 2, 3]),
        new GLib.Variant('(sib)', ['two', 2, true]),
        new GLib.Variant('a{sv}', {name: str('value'), n: new GLib.Variant('u', 3)}),
    ];
    for (const v of values)
        q.put(v, true, -1, null);
    assertEqual(q.qsize(), values.length);
    for (const v of values) {
        const got = getWithin(q);
        assertEqual(got.get_type_string(), v.get_type_string());
        assert(got.equal(v), `got ${got.print(true)}, expected ${v.print(true)}`);
    }
    assertEqual(q.empty(), true);
});

test('maxsize 3: full, put without blocking and with a timeout', () => {
    const q = newQueue(3);
    assertEqual(q.get_maxsize(), 3);
    assertEqual([q.empty(), q.full()], [true, false]);
    for (let i = 0; i < 3; i++) {
        assertEqual(q.qsize(), i);
        assertEqual(q.put(int(i), true, -1, null), true);
    }
    assertEqual(q.qsize(), 3);
    assertEqual([q.empty(), q.full()], [false, true]);

    // Python's put_nowait and put(timeout=0.01): Full.
    assertIOError(() => q.put(int(3), false, 0, null), Gio.IOErrorEnum.WOULD_BLOCK, 'put without blocking');
    assertIOError(() => q.put(int(3), false, -1, null), Gio.IOErrorEnum.WOULD_BLOCK, 'put without blocking');
    assertIOError(() => q.put(int(3), true, 0.01, null), Gio.IOErrorEnum.TIMED_OUT, 'put with a timeout');
    // Nothing went in.
    assertEqual(q.qsize(), 3);

    assertEqual(getWithin(q).get_int32(), 0);
    assertEqual(q.qsize(), 2);
    assertEqual(q.full(), false);
    // The place a get made is free again.
    q.put(int(3), false, 0, null);
    assertEqual(q.full(), true);
    const got = [];
    for (let i = 0; i < 3; i++)
        got.push(q.get(false, 0, null).get_int32());
    assertEqual(got, [1, 2, 3]);
    assertEqual([q.qsize(), q.empty(), q.full()], [0, true, false]);
});

test('an empty queue: get without blocking and with a timeout', () => {
    const q = newQueue(0);
    // Python's get_nowait and get(timeout=0.01): Empty.
    assertIOError(() => q.get(false, 0, null), Gio.IOErrorEnum.WOULD_BLOCK, 'get without blocking');
    assertIOError(() => q.get(true, 0.01, null), Gio.IOErrorEnum.TIMED_OUT, 'get with a timeout');
    q.put(str('one'), true, -1, null);
    assertEqual(q.qsize(), 1);
    assertEqual(q.get(false, 0, null).get_string()[0], 'one');
    assertIOError(() => q.get(false, 0, null), Gio.IOErrorEnum.WOULD_BLOCK, 'get without blocking');
});

test('close: put is refused, get still works', () => {
    const q = newQueue(0);
    q.put(str('before'), true, -1, null);
    q.close();
    assertIOError(() => q.put(str('after'), true, -1, null), Gio.IOErrorEnum.CLOSED, 'put after close');
    assertIOError(() => q.put(str('after'), false, 0, null), Gio.IOErrorEnum.CLOSED, 'put after close');
    const results = {};
    q.put_async(str('after'), null, storeResult(results, 'put', Mp.Queue.prototype.put_finish));
    runUntil(() => 'put' in results);
    assertIOError(() => {
        throw results.put;
    }, Gio.IOErrorEnum.CLOSED, 'put_async after close');
    assertEqual(q.qsize(), 1);
    assertEqual(getWithin(q).get_string()[0], 'before');
    assertEqual(q.empty(), true);
    // A second close is harmless.
    q.close();
});

test('a negative maxsize is INVALID_ARGUMENT', () => {
    assertIOError(() => Mp.Queue.new(-1), Gio.IOErrorEnum.INVALID_ARGUMENT, 'maxsize -1');
});

test('task_done more times than puts is INVALID_STATE', () => {
    const q = newQueue(0);
    // Nothing put: join returns at once.
    assertEqual(q.join(0, null), true);
    assertGError(() => q.task_done(), MP_ERROR, Mp.Error.INVALID_STATE, 'task_done before any put');
    q.put(int(1), true, -1, null);
    q.put(int(2), true, -1, null);
    assertIOError(() => q.join(0.01, null), Gio.IOErrorEnum.TIMED_OUT, 'join with two unfinished');
    assertEqual(getWithin(q).get_int32(), 1);
    assertEqual(q.task_done(), true);
    assertIOError(() => q.join(0.01, null), Gio.IOErrorEnum.TIMED_OUT, 'join with one unfinished');
    assertEqual(getWithin(q).get_int32(), 2);
    assertEqual(q.task_done(), true);
    assertEqual(q.join(0, null), true);
    assertEqual(q.join(-1, null), true);
    assertGError(() => q.task_done(), MP_ERROR, Mp.Error.INVALID_STATE, 'one task_done too many');
    // The refused call changed nothing.
    assertEqual(q.join(0, null), true);
});

test('put_async and get_async on a main loop', () => {
    // Mirrors test_async in tests/c/test-queue.c.
    const q = newQueue(1);
    const puts = [];
    const got = [];
    const onPut = (source, result) => {
        assert(source === q, 'the source object');
        puts.push(source.put_finish(result));
    };
    const onGet = (source, result) => got.push(source.get_finish(result).get_int32());

    q.put_async(int(1), null, onPut);
    q.put_async(int(2), null, onPut);
    runUntil(() => puts.length >= 1);
    // The second waits for room, which a get makes.
    drainMainContext();
    assertEqual(puts, [true]);
    assertEqual(q.full(), true);

    q.get_async(null, onGet);
    runUntil(() => got.length === 1 && puts.length === 2);
    assertEqual(got, [1]);
    assertEqual(puts, [true, true]);

    q.get_async(null, onGet);
    runUntil(() => got.length === 2);
    assertEqual(got, [1, 2]);
    assertEqual(q.empty(), true);
});

test('get_async waits for a put', () => {
    const q = newQueue(0);
    const loop = new GLib.MainLoop(null, false);
    const got = [];
    q.get_async(null, (source, result) => {
        got.push(source.get_finish(result));
        loop.quit();
    });
    drainMainContext();
    assertEqual(got.length, 0);
    q.put(str('late'), true, -1, null);
    runLoop(loop);
    assertEqual(got.length, 1);
    assertEqual(got[0].get_string()[0], 'late');
});

test('join_async waits for every task_done', () => {
    const q = newQueue(0);
    const joined = [];
    const onJoined = (source, result) => joined.push(source.join_finish(result));

    q.put(int(1), true, -1, null);
    q.put(int(2), true, -1, null);
    q.join_async(null, onJoined);
    assertEqual(getWithin(q).get_int32(), 1);
    assertEqual(getWithin(q).get_int32(), 2);
    q.task_done();
    // One item is still not done: the loop runs, the join waits.
    drainMainContext();
    assertEqual(joined, []);
    q.task_done();
    runUntil(() => joined.length > 0);
    assertEqual(joined, [true]);

    // With nothing unfinished it completes at once.
    joined.length = 0;
    q.join_async(null, onJoined);
    runUntil(() => joined.length > 0);
    assertEqual(joined, [true]);
});

test('cancelled get_async, put_async and join_async: CANCELLED, nothing taken', () => {
    // Mirrors test_async_cancel in tests/c/test-queue.c.
    const q = newQueue(1);
    const results = {};
    const cGet = new Gio.Cancellable();
    const cPut = new Gio.Cancellable();
    const cJoin = new Gio.Cancellable();

    q.get_async(cGet, storeResult(results, 'get', Mp.Queue.prototype.get_finish));
    q.put(int(1), true, -1, null);
    // Full: this one waits.
    q.put_async(int(2), cPut, storeResult(results, 'put', Mp.Queue.prototype.put_finish));
    // One item unfinished: this one waits too.
    q.join_async(cJoin, storeResult(results, 'join', Mp.Queue.prototype.join_finish));
    for (const c of [cGet, cPut, cJoin])
        c.cancel();
    runUntil(() => Object.keys(results).length === 3);
    for (const name of ['get', 'put', 'join']) {
        assertIOError(() => {
            throw results[name];
        }, Gio.IOErrorEnum.CANCELLED, name);
    }
    assertEqual(q.qsize(), 1);
    assertEqual(q.get(false, 0, null).get_int32(), 1);
    // The cancelled put put nothing.
    assertEqual(q.empty(), true);
    assertIOError(() => q.get(false, 0, null), Gio.IOErrorEnum.WOULD_BLOCK, 'nothing more');
});

test('a get_async cancelled after the put: the item stays for the next get', () => {
    const q = newQueue(0);
    const loop = new GLib.MainLoop(null, false);
    const results = [];
    const onGet = (source, result) => {
        try {
            results.push(source.get_finish(result));
        } catch (e) {
            results.push(e);
        }
        loop.quit();
    };

    const cancellable = new Gio.Cancellable();
    q.get_async(cancellable, onGet);
    q.put(str('kept'), true, -1, null);
    cancellable.cancel();
    runLoop(loop);
    assertEqual(results.length, 1);
    assertIOError(() => {
        throw results[0];
    }, Gio.IOErrorEnum.CANCELLED, 'get_async');
    assertEqual(q.get(false, 0, null).get_string()[0], 'kept');

    // Another get_async, not cancelled, takes the next item.
    results.length = 0;
    q.put(str('next'), true, -1, null);
    q.get_async(new Gio.Cancellable(), onGet);
    runLoop(loop);
    assertEqual(results.length, 1);
    assertEqual(results[0].get_string()[0], 'next');
});

test('a blocking get with a cancelled cancellable is CANCELLED', () => {
    const q = newQueue(0);
    const cancellable = new Gio.Cancellable();
    cancellable.cancel();
    assertIOError(() => q.get(true, -1, cancellable), Gio.IOErrorEnum.CANCELLED, 'get');
    q.put(int(1), true, -1, null);
    assertEqual(q.get(false, 0, null).get_int32(), 1);
});

test('50,000 unbounded puts without blocking come back in order', () => {
    // Far more than the socket holds: the rest waits in the feeder.
    const q = newQueue(0);
    const n = 50000;
    for (let i = 0; i < n; i++)
        q.put(int(i), false, 0, null);
    assertEqual(q.qsize(), n);
    assertEqual(q.full(), false);
    for (let i = 0; i < n; i++) {
        const v = getWithin(q).get_int32();
        if (v !== i)
            H.fail(`got ${v} where ${i} was expected`);
    }
    assertEqual(q.empty(), true);
    assertIOError(() => q.get(false, 0, null), Gio.IOErrorEnum.WOULD_BLOCK, 'nothing more');
});

test('50 queues made, used and dropped leave no descriptor behind', () => {
    const useQueues = n => {
        for (let i = 0; i < n; i++) {
            const q = newQueue(i % 3);
            q.put(int(i), true, -1, null);
            assertEqual(getWithin(q).get_int32(), i);
            // A copy from the reference: its descriptors are dup'd.
            const copy = Mp.Queue.new_from_variant(q.to_variant());
            copy.put(int(i), true, -1, null);
            assertEqual(getWithin(q).get_int32(), i);
            // Over 64 KiB: travels in a sealed memfd.
            q.put(new GLib.Variant('ay', new Uint8Array(100 * 1024).fill(i)), true, -1, null);
            assertEqual(getWithin(copy).get_size(), 100 * 1024);
            if (i % 2) {
                q.close();
                copy.close();
            }
        }
        // Dropped objects go with the garbage collector.
        System.gc();
        drainMainContext();
        System.gc();
    };

    // Warm up anything allocated once.
    useQueues(1);
    const before = H.countFds();
    useQueues(50);
    const after = H.countFds();
    if (after !== before)
        printerr(H.listFds().join('\n'));
    assertEqual(after, before, 'open descriptors');
});

// ---- across processes, in each start method -----------------------------------------

// A forked GJS child that allocates enough to hand SpiderMonkey's helper
// threads some work can hang in pthread_cond_signal(): the condition
// variable's waiters are the parent's helper threads, which do not exist
// in the child (seen here about once in 20 runs, stack in the issue
// notes; README: fork in GJS is unsafe). The children of these tests
// allocate megabytes, so they run in spawn and forkserver only.
const FORK_HEAVY_SKIP = 'a forked GJS child that allocates a lot can hang on SpiderMonkey\'s helper-thread condition variable';

for (const [m, method] of METHODS) {
    const heavy = method === Mp.StartMethod.FORK ? (name, fn) => skip(name, FORK_HEAVY_SKIP, fn) : test;
    test(`${m}: 2 producers x 2 consumers, nothing lost or duplicated, in order per producer`, t => {
        const q = newQueue(0);
        const results = newQueue(0);
        // Less work for a forked child: see startFork().
        const nItems = method === Mp.StartMethod.FORK ? N_ITEMS_FORK : N_ITEMS;
        const consumers = [];
        const producers = [];
        for (let c = 0; c < N_CONSUMERS; c++) {
            consumers.push(start(t, method, 'consume',
                new GLib.Variant('(vvi)', [q.to_variant(), results.to_variant(), c])));
        }
        for (let p = 0; p < N_PRODUCERS; p++)
            producers.push(start(t, method, 'produce', new GLib.Variant('(vii)', [q.to_variant(), p, nItems])));
        for (const p of producers)
            joinOk(p);
        // Everything the producers put is in the queue now: the markers
        // come after it.
        for (let c = 0; c < N_CONSUMERS; c++)
            q.put(new GLib.Variant('(ii)', [-1, -1]), true, -1, null);

        const seen = new Uint8Array(N_PRODUCERS * nItems);
        const last = [];
        for (let c = 0; c < N_CONSUMERS; c++)
            last.push(new Array(N_PRODUCERS).fill(-1));
        const quits = [];
        let total = 0;
        while (quits.length < N_CONSUMERS) {
            const [consumer, producer, seq] = getWithin(results).deepUnpack();
            if (producer < 0) {
                quits.push(consumer);
                continue;
            }
            if (seen[producer * nItems + seq])
                H.fail(`(${producer}, ${seq}) got twice`);
            seen[producer * nItems + seq] = 1;
            if (seq <= last[consumer][producer])
                H.fail(`consumer ${consumer} got producer ${producer}'s ${seq} after ${last[consumer][producer]}`);
            last[consumer][producer] = seq;
            total++;
        }
        assertEqual(quits.sort(), [0, 1], 'quit markers');
        assertEqual(total, N_PRODUCERS * nItems, 'items got');
        for (const p of consumers)
            joinOk(p);
        assertEqual(q.empty(), true);
        assertEqual(results.empty(), true);
        assertIOError(() => q.get(false, 0, null), Gio.IOErrorEnum.WOULD_BLOCK, 'nothing more');
    });

    heavy(`${m}: a producer's feeder drains before it exits`, t => {
        // Its task ended with items still in its feeder: its exit waits for
        // them, and they all arrive, whole and in order.
        const q = newQueue(0);
        const told = newQueue(0);
        const p = start(t, method, 'produce-and-leave',
            new GLib.Variant('(vvi)', [q.to_variant(), told.to_variant(), FEED_ITEMS]));
        assertEqual(getWithin(told).get_string()[0], 'all put');
        // The socket holds a third of it at most: the child cannot be gone.
        assertEqual(p.is_alive(), true, 'the child exited with items in its feeder');
        assertEqual(q.qsize(), FEED_ITEMS);
        const payload = new GLib.Variant('ay', pattern(FEED_ITEM_SIZE));
        for (let i = 0; i < FEED_ITEMS; i++) {
            const item = getWithin(q);
            assertEqual(item.get_type_string(), '(iay)');
            assertEqual(item.get_child_value(0).get_int32(), i, 'seq');
            // A value from the wire is untrusted, and equal() would compare
            // the two printed; once checked to be in normal form it is
            // trusted, and equal() compares the bytes.
            const got = item.get_child_value(1);
            assert(got.is_normal_form(), `item ${i}: not in normal form`);
            assert(got.equal(payload), `item ${i}: the payload differs`);
        }
        joinOk(p);
        assertEqual(q.empty(), true);
    });

    test(`${m}: a consumer killed while idle loses nothing`, t => {
        const q = newQueue(0);
        const ready = newQueue(0);
        const p = start(t, method, 'idle-consumer', new GLib.Variant('(vv)', [q.to_variant(), ready.to_variant()]));
        assertEqual(getWithin(ready).get_boolean(), true);
        p.kill();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(p.exitcode, -9);

        for (let i = 0; i < 10; i++)
            q.put(int(i), true, -1, null);
        const got = [];
        for (let i = 0; i < 10; i++)
            got.push(getWithin(q).get_int32());
        assertEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assertEqual(q.empty(), true);
    });

    test(`${m}: JoinableQueue, a child marks each item done and join returns`, t => {
        const n = 100;
        const q = newQueue(0);
        for (let i = 0; i < n; i++)
            q.put(int(i), true, -1, null);
        const p = start(t, method, 'worker-done', new GLib.Variant('(vi)', [q.to_variant(), n]));
        assertEqual(q.join(TIMEOUT, null), true);
        joinOk(p);
        assertEqual(q.empty(), true);
        assertEqual(q.join(0, null), true);
        assertGError(() => q.task_done(), MP_ERROR, Mp.Error.INVALID_STATE, 'task_done after all done');
    });

    test(`${m}: queues in subclass properties`, t => {
        const inbox = newQueue(4);
        const outbox = newQueue(0);
        const p = stopLater(t, new QueueWorker({inbox, outbox, start_method: method}));
        assert(p.inbox === inbox && p.outbox === outbox, 'the properties hold the queues');
        for (const word of ['alpha', 'beta', 'gamma', 'quit'])
            inbox.put(str(word), false, 0, null);
        assertEqual(inbox.full(), true);
        if (method === Mp.StartMethod.FORK)
            System.gc();  // see startFork()
        p.start();
        // Nothing in the child waits for the parent: a failure shows at once.
        joinOk(p);
        const got = [];
        for (let i = 0; i < 3; i++)
            got.push(getWithin(outbox).get_string()[0]);
        assertEqual(got, ['ALPHA', 'BETA', 'GAMMA']);
        assertEqual(inbox.empty(), true);
        assertEqual(outbox.empty(), true);
    });

    test(`${m}: a queue sent through a pipe`, t => {
        const [a, b] = newPair(true);
        const q = newQueue(5);
        q.put(int(41), true, -1, null);
        const p = start(t, method, 'queue-from-pipe', new GLib.Variant('(v)', [b.to_variant()]));
        a.send(q.to_variant(), null);
        // Nothing in the child waits for the parent after this: a failure
        // shows at once.
        joinOk(p);
        assertEqual(a.poll(TIMEOUT), true, 'nothing from the child (a bug)');
        // The child took the item that was waiting.
        assertEqual(a.recv(new GLib.VariantType('i'), null).get_int32(), 41);
        assertEqual(getWithin(q).get_string()[0], 'through the pipe');
        assertEqual(q.empty(), true);
    });

    heavy(`${m}: 8 MiB through a queue, byte for byte`, t => {
        const q = newQueue(0);
        const p = start(t, method, 'send-big', new GLib.Variant('(vt)', [q.to_variant(), BIG_SIZE]));
        // The item outlives the child that put it.
        joinOk(p);
        assertEqual(q.qsize(), 1);
        const v = getWithin(q);
        assertEqual(v.get_type_string(), 'ay');
        // toArray() rather than GLib.Bytes methods, which GJS 1.74 leaks.
        const got = v.get_data_as_bytes().toArray();
        assertEqual(got.length, BIG_SIZE);
        assertEqual(checkPattern(got), -1, 'first differing byte');
        assertEqual(q.empty(), true);
    });
}

H.run();
