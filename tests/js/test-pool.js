// test-pool.js: MpPool from GJS
//
// Mirrors tests/c/test-pool.c: Python's calls (map, apply, starmap, imap,
// their async forms) with GLib.Variant arguments and results, a JS
// exception in a task reaching the caller with its message, and what
// Python's pool cannot do: a worker killed in a task fails only that task,
// per-task timeouts, cancellation with a Gio.Cancellable, terminate with
// thousands of queued tasks, progress properties notified on the main loop.
//
// Everything a worker needs (the tasks) is defined before Mp.init(ARGV): a
// spawn worker runs this very script again and Mp.init() turns it into the
// worker. GJS has helper threads when Mp.init() runs, so the default is
// spawn, and asking for forkserver starts a fresh copy of this script as
// the server. No test waits with a sleep: each waits for the event itself
// (a result's get, join, a main loop) with a bound that only a bug
// reaches.
//
// The async calls are used as promises: Gio._promisify() on
// Mp.Pool.prototype, awaited inside runPromise(), which runs the default
// main context until the promise settles. The pool delivers callbacks,
// signals and notifications in the main context of the thread that made
// it: GJS refuses (Gjs-CRITICAL, fatal under G_DEBUG=fatal-criticals) to
// run a JS callback on any other thread, so every callback here also checks
// that the pool delivers them on this one.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.GLib = '2.0';
imports.gi.versions.GObject = '2.0';
imports.gi.versions.Gio = '2.0';
imports.gi.versions.Mp = '1';
const {GLib, Gio, Mp} = imports.gi;
const System = imports.system;

imports.searchPath.unshift(GLib.path_get_dirname(System.programPath));
const H = imports.harness;
const {test, skip, assert, assertEqual, assertThrows, assertGError, runUntil, runPromise} = H;

const TIMEOUT = H.TIMEOUT_SECONDS;

const IO_ERROR = Gio.io_error_quark();

function getpid() {
    return new Gio.Credentials().get_unix_pid();
}

// ---- tasks (registered before Mp.init) --------------------------------------

// x -> x * x, for an int64 x; anything else is INVALID_DATA.
Mp.register_task('square', (args, _cancellable) => {
    if (args.get_type_string() !== 'x') {
        throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_DATA,
            `square wants an int64, not ${args.get_type_string()}`);
    }
    const x = args.get_int64();
    return new GLib.Variant('x', x * x);
});

// A batch task: a chunk's "ax" in, the squares out, in one call.
Mp.register_batch_task('square-batch', (args, _cancellable) => {
    if (args.get_type_string() !== 'ax') {
        throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_DATA,
            `square-batch wants ax, not ${args.get_type_string()}`);
    }
    return new GLib.Variant('ax', args.deepUnpack().map(x => x * x));
});

// The same, reading the chunk's bytes and making the result from bytes:
// next to no JS object per item (see bigMaps). For 0 <= x < 2^26, each an
// int64 whose high word is 0 and whose square is exact as a double.
Mp.register_batch_task('square-batch-bytes', (args, _cancellable) => {
    if (args.get_type_string() !== 'ax') {
        throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_DATA,
            `square-batch-bytes wants ax, not ${args.get_type_string()}`);
    }
    const words = new Uint32Array(args.get_data_as_bytes().toArray().slice().buffer);
    for (let i = 0; i < words.length; i += 2) {
        if (words[i + 1] !== 0 || words[i] >= 2 ** 26)
            throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_DATA, `${words[i]} is out of range`);
        const square = words[i] * words[i];
        words[i] = square % 2 ** 32;
        words[i + 1] = Math.floor(square / 2 ** 32);
    }
    return GLib.Variant.new_from_bytes(new GLib.VariantType('ax'), new GLib.Bytes(new Uint8Array(words.buffer)), true);
});

// (a, b) -> a + b.
Mp.register_task('add', (args, _cancellable) => {
    const [a, b] = args.deepUnpack();
    return new GLib.Variant('x', a + b);
});

// <v> -> v: the result has the type of the value in the box.
Mp.register_task('unbox', (args, _cancellable) => args.get_variant());

// A JS exception, whose message names the argument.
Mp.register_task('throw', (args, _cancellable) => {
    throw new Error(`no such thing as ${args.get_string()[0]}`);
});

Mp.register_task('throw-type', (args, _cancellable) => {
    throw new TypeError(`not a ${args.get_string()[0]}`);
});

// A GLib.Error: its domain and code come back too.
Mp.register_task('throw-gerror', (args, _cancellable) => {
    throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED, args.get_string()[0]);
});

// x -> x, but 3 is INVALID_DATA.
Mp.register_task('fail-on-3', (args, _cancellable) => {
    const x = args.get_int64();
    if (x === 3)
        throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_DATA, 'three is bad');
    return new GLib.Variant('x', x);
});

Mp.register_task('pid', (_args, _cancellable) => new GLib.Variant('i', getpid()));

// Kills its own process with SIGKILL: `kill -9 <its pid>` (GLib's spawn
// waits for that child, which kills the worker meanwhile).
Mp.register_task('die', (_args, _cancellable) => {
    GLib.spawn_command_line_sync(`kill -9 ${getpid()}`);
    throw new Error('the worker survived kill -9');
});

// Runs until killed: the pool's timeout, cancellation or terminate must
// end it.
function hang() {
    for (;;)
        GLib.usleep(3600 * GLib.USEC_PER_SEC);
}

Mp.register_task('hang', (_args, _cancellable) => hang());

// Says it has started through the queue in its '(v)' argument, then hangs.
Mp.register_task('announce-and-hang', (args, _cancellable) => {
    const q = Mp.Queue.new_from_variant(args.get_child_value(0).get_variant());
    q.put(new GLib.Variant('i', getpid()), true, -1, null);
    hang();
});

// The initializer: keeps its argument for 'get-init'; a negative one is
// refused.
let initValue = -1;
Mp.register_task('init', (args, _cancellable) => {
    initValue = args.get_int64();
    if (initValue < 0)
        throw new Error('the initializer refuses');
    return null;
});

Mp.register_task('get-init', (_args, _cancellable) => new GLib.Variant('x', initValue));

// Dies the way its string argument says: "kill" (SIGKILL), "abort"
// (SIGABRT: `kill -ABRT`), "exit" (Mp.exit(3)). Not SIGSEGV: SpiderMonkey
// handles it, and the worker lives on.
Mp.register_task('die-how', (args, _cancellable) => {
    const how = args.get_string()[0];
    if (how === 'exit')
        Mp.exit(3);
    GLib.spawn_command_line_sync(`kill -${how === 'kill' ? 'KILL' : 'ABRT'} ${getpid()}`);
    throw new Error(`the worker survived ${how}`);
});

// Dies the first time (it makes the file its argument names), works the
// second.
Mp.register_task('die-once', (args, _cancellable) => {
    try {
        Gio.File.new_for_path(args.get_string()[0]).create(Gio.FileCreateFlags.NONE, null).close(null);
    } catch (e) {
        if (e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.EXISTS))
            return new GLib.Variant('s', 'second time');
        throw e;
    }
    GLib.spawn_command_line_sync(`kill -9 ${getpid()}`);
    throw new Error('the worker survived kill -9');
});

// As test-pool.c's: y -> y, i -> x (larger), d -> d; and x -> i (smaller).
Mp.register_task('twice', (args, _cancellable) => {
    switch (args.get_type_string()) {
    case 'y':
        return new GLib.Variant('y', 2 * args.get_byte());
    case 'i':
        return new GLib.Variant('x', 2 * args.get_int32());
    case 'x':
        return new GLib.Variant('i', 2 * args.get_int64());
    default:
        return new GLib.Variant('d', 2 * args.get_double());
    }
});

// An int64 below 5000, a string from there: chunks of numbers, of
// strings, and one of both.
Mp.register_task('number-or-string', (args, _cancellable) => {
    const x = args.get_int64();
    return x < 5000 ? new GLib.Variant('x', x) : new GLib.Variant('s', `${x}`);
});

// The file that marks a death, for 'square-dies-at-5000': given to each
// worker by the pool's initializer.
let deathMark = null;
Mp.register_task('set-death-mark', (args, _cancellable) => {
    deathMark = args.get_string()[0];
    return null;
});

// Squares, but the worker dies at 5000 the first time (deathMark marks
// it): the chunks it finished before in the same message lose their
// answers.
Mp.register_task('square-dies-at-5000', (args, _cancellable) => {
    const x = args.get_int64();
    if (x === 5000) {
        let first = true;
        try {
            Gio.File.new_for_path(deathMark).create(Gio.FileCreateFlags.NONE, null).close(null);
        } catch (e) {
            if (!(e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.EXISTS)))
                throw e;
            first = false;
        }
        if (first) {
            GLib.spawn_command_line_sync(`kill -9 ${getpid()}`);
            throw new Error('the worker survived kill -9');
        }
    }
    return new GLib.Variant('x', x * x);
});

Mp.init(ARGV);

// ---- helpers ----------------------------------------------------------------

const MP_ERROR = Mp.error_quark();
const METHODS = [['fork', Mp.StartMethod.FORK], ['spawn', Mp.StartMethod.SPAWN], ['forkserver', Mp.StartMethod.FORKSERVER]];

// A fork worker is forked by the pool's own thread, so in the worker the
// one thread is a copy of that thread, not of the one that made the JS
// context; GJS blocks every JS callback there ("Attempting to run a JS
// callback on a different thread", a critical that G_DEBUG=fatal-criticals
// turns into SIGTRAP; without it the task silently "returns" ()). So no
// JS task can run in a fork pool: a library limitation, reported; these
// tests run once it is lifted.
const FORK_POOL_SKIP = 'a fork pool forks its workers from the pool thread, where GJS runs no JS task';

Gio._promisify(Mp.Pool.prototype, 'apply_async', 'apply_finish');
Gio._promisify(Mp.Pool.prototype, 'map_async', 'map_finish');
Gio._promisify(Mp.Pool.prototype, 'starmap_async', 'starmap_finish');
Gio._promisify(Mp.Pool.prototype, 'join_async', 'join_finish');
Gio._promisify(Mp.PoolResult.prototype, 'get_async', 'get_finish');

const int64 = x => new GLib.Variant('x', x);
const str = s => new GLib.Variant('s', s);
const range = (from, to) => Array.from({length: to - from}, (_, i) => from + i);
const int64s = (from, to) => new GLib.Variant('ax', range(from, to));

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

// Awaits promise, which must reject; returns what it rejected with.
async function rejection(promise, message = 'expected a rejection') {
    try {
        await promise;
    } catch (e) {
        return e;
    }
    return H.fail(message);
}

// A pool made with properties (GObject construction, then GInitable's
// init, as g_initable_new does), terminated after the test (terminate()
// returns once the workers are gone).
function newPool(t, props) {
    const pool = new Mp.Pool(props);
    pool.init(null);
    t.defer(() => pool.terminate());
    return pool;
}

function workerPids(pool) {
    return Array.from(pool.get_worker_pids()).sort((a, b) => a - b);
}

function assertResultError(result, domain, code, message = '') {
    return assertGError(() => result.get(TIMEOUT), domain, code, message);
}

// Errors of blocking applies: a JS exception comes back with its message
// and its class (GJS maps its own error domain back), a GLib.Error with
// its domain and code; arguments of the wrong type: the task says so, and
// no worker is lost.
function assertTaskErrors(pool) {
    let e = assertThrows(() => pool.apply('throw', str('x'), null));
    assert(e instanceof Error && !(e instanceof GLib.Error), `a JS Error, not ${e}`);
    assertEqual(e.message, 'no such thing as x');
    e = assertThrows(() => pool.apply('throw-type', str('number'), null));
    assert(e instanceof TypeError, `a TypeError, not ${e}`);
    assertEqual(e.message, 'not a number');
    e = assertIOError(() => pool.apply('throw-gerror', str('keep out'), null), Gio.IOErrorEnum.PERMISSION_DENIED);
    assertEqual(e.message, 'keep out');
    assertIOError(() => pool.apply('square', str('7'), null), Gio.IOErrorEnum.INVALID_DATA);
}

function onlyWorkerPid(pool) {
    const pids = workerPids(pool);
    assertEqual(pids.length, 1, 'the workers');
    return pids[0];
}

// A few blocking applies, so that the workers are ready and idle: the next
// blocking apply borrows a worker's line (a direct call, the C tests count
// them; JS cannot see it, the outcome must simply be right).
function warmUp(pool) {
    for (let i = 0; i < 3; i++)
        assertEqual(pool.apply('square', int64(3), null).get_int64(), 9, 'a warm-up apply');
}

// Arrays of numbers are made and read through typed arrays, with no JS
// object per element: this process collects as little garbage as it can
// (see bigMaps), and runs a full collection after each test of maps in
// place (collectGarbage).

// Typed arrays for the GVariant number types (native layout, as GVariant's);
// int64 and uint64 as pairs of 32-bit words, so that no BigInt is made.
const TYPED = {y: Uint8Array, n: Int16Array, q: Uint16Array, i: Int32Array, u: Uint32Array, d: Float64Array};

// An "a<type>" GLib.Variant of n numbers, f(i) the i-th, made in one go
// (int64 and uint64 exact below 2^53).
function numbersVariant(type, n, f) {
    let buffer;
    if (type === 'x' || type === 't') {
        const words = new Int32Array(2 * n);
        for (let i = 0; i < n; i++) {
            const x = f(i);
            const high = Math.floor(x / 2 ** 32);
            words[2 * i] = x - high * 2 ** 32;
            words[2 * i + 1] = high;
        }
        buffer = words.buffer;
    } else {
        const array = new TYPED[type](n);
        for (let i = 0; i < n; i++)
            array[i] = f(i);
        buffer = array.buffer;
    }
    return GLib.Variant.new_from_bytes(new GLib.VariantType(`a${type}`), new GLib.Bytes(new Uint8Array(buffer)), true);
}

// The elements of an array of numbers as a typed array (Float64Array for
// int64 and uint64, exact below 2^53).
function numbersOf(variant) {
    const type = variant.get_type_string()[1];
    const buffer = variant.get_data_as_bytes().toArray().slice().buffer;
    if (type !== 'x' && type !== 't')
        return new TYPED[type](buffer);
    const words = type === 'x' ? new Int32Array(buffer) : new Uint32Array(buffer);
    const low = new Uint32Array(buffer);
    const out = new Float64Array(low.length / 2);
    for (let i = 0; i < out.length; i++)
        out[i] = words[2 * i + 1] * 2 ** 32 + low[2 * i];
    return out;
}

// The index of the first of got that is not expected(i); -1 if none, the
// shorter length if the lengths differ.
function firstWrong(got, n, expected) {
    if (got.length !== n)
        return Math.min(got.length, n);
    for (let i = 0; i < n; i++) {
        if (got[i] !== expected(i))
            return i;
    }
    return -1;
}

// After a test of big maps: a full collection, so that no incremental
// one is left half done for the next tests (GJS refuses callbacks while
// it sweeps, see bigMaps).
function collectGarbage(t) {
    t.defer(() => System.gc());
}

// A scratch directory, removed with what is in it after the test.
function scratchDir(t) {
    const dir = GLib.dir_make_tmp('libmp-test-pool-XXXXXX');
    t.defer(() => {
        const enumerator = Gio.File.new_for_path(dir).enumerate_children('standard::name',
            Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
        let info;
        while ((info = enumerator.next_file(null)))
            GLib.unlink(GLib.build_filenamev([dir, info.get_name()]));
        enumerator.close(null);
        GLib.rmdir(dir);
    });
    return dir;
}

// ---- Python's calls, in each start method ------------------------------------------

function testCalls(t, method) {
    const pool = newPool(t, {n_workers: 2, start_method: method});
    assertEqual(pool.n_workers, 2);
    assertEqual(pool.start_method, method);

    // The seed's `p.map(f, [1, 2, 3])`.
    let v = pool.map('square', int64s(1, 4), 0, null);
    assertEqual(v.get_type_string(), 'ax');
    assertEqual(v.deepUnpack(), [1, 4, 9]);

    v = pool.apply('square', int64(7), null);
    assertEqual(v.get_type_string(), 'x');
    assertEqual(v.get_int64(), 49);

    v = pool.starmap('add', new GLib.Variant('a(xx)', [[1, 2], [3, 4], [5, 6]]), 0, null);
    assertEqual(v.print(false), '[3, 7, 11]');

    // Results of different types: "av".
    v = pool.map('unbox', new GLib.Variant('av', [int64(1), str('two'), int64(3)]), 1, null);
    assertEqual(v.get_type_string(), 'av');
    assertEqual(v.deepUnpack().map(x => x.unpack()), [1, 'two', 3]);

    // A batch task: once per chunk in a map, a batch of one in an apply.
    v = pool.map('square-batch', int64s(0, 100), 7, null);
    assertEqual(v.get_type_string(), 'ax');
    assertEqual(v.deepUnpack(), range(0, 100).map(x => x * x));
    assertEqual(pool.apply('square-batch', int64(9), null).get_int64(), 81);

    // An empty map is an empty result.
    v = pool.map('square', new GLib.Variant('ax', []), 0, null);
    assertEqual(v.n_children(), 0);

    assertTaskErrors(pool);

    // Refused at once, at the caller: an unknown task, items that are not
    // an array, starmap items that are not tuples.
    assertMpError(() => pool.apply('no-such-task', null, null), Mp.Error.UNKNOWN_TASK);
    assertIOError(() => pool.map('square', int64(1), 0, null), Gio.IOErrorEnum.INVALID_ARGUMENT);
    assertIOError(() => pool.starmap('add', int64s(0, 3), 0, null), Gio.IOErrorEnum.INVALID_ARGUMENT);

    // The first failing item fails the map.
    e = assertIOError(() => pool.map('fail-on-3', int64s(0, 10), 1, null), Gio.IOErrorEnum.INVALID_DATA);
    assertEqual(e.message, 'three is bad');

    // A big map keeps its order, whatever the chunks.
    for (const chunksize of [0, 1, 7]) {
        v = pool.map('square', int64s(0, 1000), chunksize, null);
        const xs = v.deepUnpack();
        assertEqual(xs.length, 1000);
        const wrong = xs.findIndex((x, i) => x !== i * i);
        assertEqual(wrong, -1, `chunksize ${chunksize}: the first wrong result`);
    }

    // Two workers served all this, and both are still there.
    assertEqual(workerPids(pool).length, 2);
    pool.close();
    assertEqual(pool.join(TIMEOUT, null), true);
}

// A worker killed in a task fails that task with WORKER_DIED, naming the
// worker, the task and the signal; it is replaced and every other task
// completes.
function testWorkerDies(t, method) {
    const pool = newPool(t, {n_workers: 2, start_method: method});
    const before = workerPids(pool);
    assertEqual(before.length, 2);

    const others = pool.submit_map('square', int64s(0, 200), 1);
    const doomed = pool.submit('die', null, -1);
    const e = assertResultError(doomed, MP_ERROR, Mp.Error.WORKER_DIED, 'the task whose worker died');
    const m = /^The worker \(pid (\d+)\) running the task “die” killed by signal 9 \(.+\)$/.exec(e.message);
    assert(m !== null, `the message: ${JSON.stringify(e.message)}`);
    const deadPid = Number(m[1]);
    assert(before.includes(deadPid), `pid ${deadPid} was not a worker (${before})`);
    assertEqual(doomed.ready(), true);
    assertEqual(doomed.successful(), false);

    const v = others.get(TIMEOUT);
    assertEqual(v.deepUnpack(), range(0, 200).map(x => x * x));
    assertEqual(others.successful(), true);

    // The pool goes on, with a new worker in place of the dead one.
    assertEqual(pool.apply('square', int64(9), null).get_int64(), 81);
    const after = workerPids(pool);
    assertEqual(after.length, 2);
    assert(!after.includes(deadPid), `the dead worker ${deadPid} is still listed (${after})`);

    // Once more: a second death is no different.
    const again = pool.submit('die', null, -1);
    assertResultError(again, MP_ERROR, Mp.Error.WORKER_DIED, 'the second death');
    assertEqual(pool.map('square', int64s(0, 10), 1, null).deepUnpack(), range(0, 10).map(x => x * x));
}

// ---- blocking applies over a worker's line (test-pool.c's /pool/line/*) ------
//
// A blocking apply on an idle pool talks to an idle worker directly; what
// goes wrong meanwhile is ended by the pool's thread as for a queued job.
// GJS has one thread: a call cannot be cancelled while it runs, nor the
// pool terminated (test-pool.c and test_pool.py do that).

function testLineAnswers(t, method) {
    const pool = newPool(t, {n_workers: 1, start_method: method});
    warmUp(pool);
    const pid = onlyWorkerPid(pool);
    const v = pool.apply('add', new GLib.Variant('(xx)', [40, 2]), null);
    assertEqual([v.get_type_string(), v.get_int64()], ['x', 42]);

    assertTaskErrors(pool);
    // An unknown task is refused at once.
    assertMpError(() => pool.apply('no-such-task', null, null), Mp.Error.UNKNOWN_TASK);

    assertEqual(onlyWorkerPid(pool), pid, 'the worker');
    assertEqual(pool.n_completed + pool.n_failed, pool.n_submitted, 'every call counted');
}

function testLineWorkerDies(t, method) {
    const pool = newPool(t, {n_workers: 1, start_method: method, max_restarts: 10});
    const deaths = [['kill', 'killed by signal 9'], ['abort', 'killed by signal 6'], ['exit', 'exited with status 3']];
    for (const [how, says] of deaths) {
        warmUp(pool);
        const pid = onlyWorkerPid(pool);
        const e = assertMpError(() => pool.apply('die-how', str(how), null), Mp.Error.WORKER_DIED, how);
        assert(e.message.includes(says), `${how}: the message: ${e.message}`);
        assert(e.message.includes(`(pid ${pid})`), `${how}: the message names pid ${pid}: ${e.message}`);
        assert(e.message.includes('“die-how”'), `${how}: the message names the task: ${e.message}`);
        // Replaced; the next calls work.
        warmUp(pool);
        assert(onlyWorkerPid(pool) !== pid, `${how}: the dead worker ${pid} is still listed`);
    }
    assertEqual(pool.n_failed, 3);
}

function testLineRetries(t, method) {
    const pool = newPool(t, {n_workers: 1, start_method: method, retries: 1});
    const mark = GLib.build_filenamev([scratchDir(t), 'line-retries']);
    warmUp(pool);
    const pid = onlyWorkerPid(pool);
    assertEqual(pool.apply('die-once', str(mark), null).get_string()[0], 'second time');
    assert(GLib.file_test(mark, GLib.FileTest.EXISTS), 'it did not die the first time');
    assert(onlyWorkerPid(pool) !== pid, 'the worker was not replaced');
    assertEqual(pool.n_failed, 0);
}

function testLineTimeout(t, method) {
    // The call is timed out by the pool's task-timeout and its worker
    // killed: no unexpected death (with max-restarts 0 one would break
    // the pool), and the pool goes on.
    const pool = newPool(t, {n_workers: 1, start_method: method, max_restarts: 0});
    warmUp(pool);
    const pid = onlyWorkerPid(pool);
    pool.task_timeout = 0.2;
    const e = assertIOError(() => pool.apply('hang', null, null), Gio.IOErrorEnum.TIMED_OUT, 'the hung call');
    assert(e.message.includes('“hang”'), `the message: ${e.message}`);
    pool.task_timeout = 0;
    warmUp(pool);
    assert(onlyWorkerPid(pool) !== pid, 'the worker was not replaced');
    assertEqual(pool.n_failed, 1);
}

// ---- maps in place (test-pool.c's in-place tests) -----------------------------
//
// A map over an array of numbers (y n q i u x t d, at least 32 KiB of
// items) goes through memory the pool shares with its workers, and its
// result views that memory.

// The JS work of a map is kept small here, in the workers and in this
// process. GJS 1.74 can refuse a JS callback that C code makes while it
// is itself called from JS ("Attempting to run a JS callback during
// garbage collection", a critical, fatal here under
// G_DEBUG=fatal-criticals) once garbage collection has begun: any C
// function calling a JS callback in a loop meets it (Gio.ListStore.sort),
// and so does a worker, whose tasks are callbacks from inside Mp.init().
// A spawn worker meets it after a few hundred thousand JS calls: libmp
// sees the refusal, the worker ends and the refused job runs again in a
// fresh one (testRefusedCalls; each refused task used to return "()"
// silently, or abort the worker under fatal-criticals). This process did
// meet it too, in a main-loop callback of a later test, after
// maps that made big JS arrays here; reported, it predates maps in place.
// And forkserver workers are forked from a GJS process (the server, a
// copy of this script with SpiderMonkey's helper threads): one that
// collects garbage can wait for ever on a helper that stayed in the
// server (seen with maps of 200,000 items, one JS call each; fork in GJS
// is unsafe, see README). So the big map goes to a batch task that reads
// and writes bytes (one JS call per chunk), in spawn only; the maps of one
// JS call, or one JS object (square-batch), per item stay small.
const bigMaps = method => method === Mp.StartMethod.SPAWN;

function testInPlaceSquares(t, method) {
    const pool = newPool(t, {n_workers: 2, start_method: method});
    const big = bigMaps(method);
    collectGarbage(t);
    const n = big ? 200000 : 5000;
    const items = numbersVariant('x', n, i => i);
    assert(items.get_size() >= 32 * 1024, 'too few items to go in place');
    const square = i => i * i;
    const maps = big ? [['square-batch-bytes', 0], ['square-batch-bytes', 4093], ['square-batch-bytes', 1000]]
        : [['square', 0], ['square', 333], ['square-batch', 0], ['square-batch-bytes', 0]];
    for (const [task, chunksize] of maps) {
        const v = pool.map(task, items, chunksize, null);
        assertEqual(v.get_type_string(), 'ax', `${task}, chunksize ${chunksize}`);
        assertEqual(firstWrong(numbersOf(v), n, square), -1, `${task}, chunksize ${chunksize}: the first wrong result`);
    }
    if (big) {
        // One JS call, or one JS object, per item: on fewer.
        const m = 20000;
        for (const task of ['square', 'square-batch']) {
            const v = pool.map(task, numbersVariant('x', m, i => i), 0, null);
            assertEqual(v.get_type_string(), 'ax', task);
            assertEqual(firstWrong(numbersOf(v), m, square), -1, `${task}: the first wrong result`);
        }
    }
    // The items are the caller's: untouched by results written in place.
    assertEqual(firstWrong(numbersOf(items), n, i => i), -1, 'the items');
    // Submitted: the same.
    const result = pool.submit_map('square-batch-bytes', items, 0);
    assertEqual(firstWrong(numbersOf(result.get(TIMEOUT)), n, square), -1, 'submit_map');
    // A result stays right while the next maps run, and after its pool.
    const kept = pool.map('square-batch-bytes', items, 0, null);
    for (let i = 0; i < 2; i++)
        assertEqual(firstWrong(numbersOf(pool.map('square-batch-bytes', items, 0, null)), n, square), -1, `map ${i}`);
    assertEqual(firstWrong(numbersOf(kept), n, square), -1, 'a result kept while the next maps ran');
    pool.terminate();
    assertEqual(pool.join(TIMEOUT, null), true);
    assertEqual(firstWrong(numbersOf(kept), n, square), -1, 'a result after its pool');
}

function testInPlaceTypes(t, method) {
    collectGarbage(t);
    const pool = newPool(t, {n_workers: 2, start_method: method});
    const big = bigMaps(method);
    // Results as large as the items (y -> y, d -> d), larger (i -> x),
    // smaller (x -> i); each map just over 32 KiB where the JS work is
    // kept small (see bigMaps).
    const cases = [
        ['y', big ? 40000 : 33000, i => i % 100, 0, 'ay'],
        ['i', big ? 20000 : 9000, i => i - 10000, 333, 'ax'],
        ['d', big ? 10000 : 5000, i => i / 4, 0, 'ad'],
        ['x', big ? 10000 : 5000, i => i - 5000, 997, 'ai'],
    ];
    for (const [type, n, f, chunksize, resultType] of cases) {
        const items = numbersVariant(type, n, f);
        assert(items.get_size() >= 32 * 1024, `a${type}: too few items to go in place`);
        const v = pool.map('twice', items, chunksize, null);
        assertEqual(v.get_type_string(), resultType, `a${type}`);
        assertEqual(firstWrong(numbersOf(v), n, i => 2 * f(i)), -1, `a${type}: the first wrong result`);
    }

    // Chunks of numbers (below 5000), of strings, and one of both: "av".
    const [from, to] = big ? [0, 10000] : [2500, 7500];
    for (const chunksize of [1000 - 3, 0]) {
        const v = pool.map('number-or-string', numbersVariant('x', to - from, i => from + i), chunksize, null);
        assertEqual(v.get_type_string(), 'av', `chunksize ${chunksize}`);
        assertEqual(v.n_children(), to - from);
        const got = v.deepUnpack().map(x => x.unpack());
        const wrong = got.findIndex((x, i) => x !== (from + i < 5000 ? from + i : `${from + i}`));
        assertEqual(wrong, -1, `chunksize ${chunksize}: the first wrong result`);
    }
}

function testInPlaceRetry(t, method) {
    // A worker that dies in a map in place, with answers it held for
    // chunks it finished (their results written over their items) lost
    // with it: those chunks run again on their items, not their results.
    collectGarbage(t);
    const dir = scratchDir(t);
    for (const [n, chunksize] of bigMaps(method) ? [[8192, 64], [40000, 0]] : [[8192, 64]]) {
        const mark = GLib.build_filenamev([dir, `dies-at-5000-${n}`]);
        const pool = newPool(t, {
            n_workers: 2, start_method: method, retries: 1,
            initializer: 'set-death-mark', initargs: str(mark),
        });
        const v = pool.map('square-dies-at-5000', numbersVariant('x', n, i => i), chunksize, null);
        assert(GLib.file_test(mark, GLib.FileTest.EXISTS), `${n} items: no worker died`);
        assertEqual(v.get_type_string(), 'ax');
        assertEqual(firstWrong(numbersOf(v), n, i => i * i), -1, `${n} items: the first wrong result`);
        assertEqual(workerPids(pool).length, 2);
    }
}

// Maps of one JS call per item, 600,000 calls in all: GJS 1.74 refuses
// some once it is between the slices of a sweep (see bigMaps); each
// refused chunk runs again in a fresh worker, so every result is right.
// Whether GJS refuses in a given run is its own affair: the C tests
// check the mechanism with a task that refuses as GJS does.
function testRefusedCalls(t) {
    collectGarbage(t);
    const pool = newPool(t, {n_workers: 2, start_method: Mp.StartMethod.SPAWN});
    const n = 200000;
    const items = numbersVariant('x', n, i => i);
    for (let round = 0; round < 3; round++) {
        const v = pool.map('square', items, 0, null);
        assertEqual(v.get_type_string(), 'ax', `round ${round}`);
        assertEqual(firstWrong(numbersOf(v), n, i => i * i), -1, `round ${round}: the first wrong result`);
    }
    assertEqual(pool.n_failed, 0, 'failed calls');
}

test('spawn: maps of 600,000 JS calls, some refused by GJS while it sweeps: every result right',
    testRefusedCalls);

for (const [m, method] of METHODS) {
    const add = method === Mp.StartMethod.FORK ? (name, fn) => skip(name, FORK_POOL_SKIP, fn) : test;
    add(`${m}: map, apply, starmap, errors with their messages`, t => testCalls(t, method));
    add(`${m}: a worker killed in a task fails only that task`, t => testWorkerDies(t, method));
    add(`${m}: blocking applies on an idle pool: answers and task errors`, t => testLineAnswers(t, method));
    add(`${m}: a worker that dies in a blocking apply: WORKER_DIED with how, then a new worker`,
        t => testLineWorkerDies(t, method));
    add(`${m}: a blocking apply whose worker died runs again with retries`, t => testLineRetries(t, method));
    add(`${m}: a blocking apply over the pool's task-timeout: TIMED_OUT, the pool goes on`,
        t => testLineTimeout(t, method));
    add(`${m}: a map of ${bigMaps(method) ? '200,000' : '5,000'} int64 in place: the squares`,
        t => testInPlaceSquares(t, method));
    add(`${m}: maps in place with results smaller, as large, larger than the items, or strings`,
        t => testInPlaceTypes(t, method));
    add(`${m}: a worker dying once mid-map in place, with retries: every result right`,
        t => testInPlaceRetry(t, method));
}

// A call whose cancellable was cancelled before it: CANCELLED, as GIO's
// calls are, with nothing run and no worker lost; over an idle worker's
// line (a quick task) and through the queue (a pool with
// max-tasks-per-worker takes no line).
test('a blocking apply with a cancellable cancelled before it runs nothing', t => {
    for (const props of [{}, {max_tasks_per_worker: 1000}]) {
        const pool = newPool(t, Object.assign({n_workers: 1}, props));
        warmUp(pool);
        const pid = onlyWorkerPid(pool);
        const cancellable = new Gio.Cancellable();
        cancellable.cancel();
        for (let i = 0; i < 5; i++)
            assertIOError(() => pool.apply('square', int64(7), cancellable), Gio.IOErrorEnum.CANCELLED);
        warmUp(pool);
        assertEqual(onlyWorkerPid(pool), pid, 'the worker');
    }
});

// ---- in the default start method -----------------------------------------------

test('a pool in the default start method, spawn in GJS', t => {
    assertEqual(Mp.get_start_method(), Mp.StartMethod.SPAWN);
    const pool = newPool(t, {n_workers: 1});
    const pid = pool.apply('pid', null, null).get_int32();
    assert(pid !== getpid(), 'the task ran in this process');
    assertEqual(workerPids(pool), [pid]);
});

test('apply_async and map_async as promises on a main loop', t => {
    const pool = newPool(t, {n_workers: 2});
    const value = runPromise(pool.apply_async('square', int64(6), null));
    assertEqual(value.get_int64(), 36);

    const [applied, mapped, starmapped] = runPromise(Promise.all([
        Promise.all(range(0, 30).map(i => pool.apply_async('square', int64(i), null))),
        pool.map_async('square', int64s(0, 100), 10, null),
        pool.starmap_async('add', new GLib.Variant('a(xx)', [[1, 2], [3, 4], [5, 6]]), 0, null),
    ]));
    assertEqual(applied.map(v => v.get_int64()), range(0, 30).map(i => i * i));
    assertEqual(mapped.get_type_string(), 'ax');
    assertEqual(mapped.deepUnpack(), range(0, 100).map(i => i * i));
    assertEqual(starmapped.deepUnpack(), [3, 7, 11]);

    // Failures reject the promise with the task's error.
    let e = runPromise(rejection(pool.apply_async('throw', str('y'), null)));
    assert(e instanceof Error && !(e instanceof GLib.Error), `a JS Error, not ${e}`);
    assertEqual(e.message, 'no such thing as y');
    e = runPromise(rejection(pool.map_async('fail-on-3', int64s(0, 6), 1, null)));
    assertIOError(rethrow(e), Gio.IOErrorEnum.INVALID_DATA);
    e = runPromise(rejection(pool.apply_async('no-such-task', null, null)));
    assertMpError(rethrow(e), Mp.Error.UNKNOWN_TASK);

    // A submitted call: wait, ready, successful, get, get_async.
    const result = pool.submit('square', int64(12), -1);
    assertEqual(result.wait(TIMEOUT), true);
    assertEqual([result.ready(), result.successful()], [true, true]);
    assertEqual(result.get(0).get_int64(), 144);
    assertEqual(runPromise(result.get_async(null)).get_int64(), 144);
});

test('progress: notify::n-completed and task-finished on the main loop', t => {
    const pool = newPool(t, {n_workers: 2});
    const finished = [];
    const completedSeen = [];
    // Both come on this thread's loop: GJS would refuse to run them on any
    // other thread (a critical, fatal under G_DEBUG=fatal-criticals).
    pool.connect('task-finished', (source, task, success) => {
        assert(source === pool, 'the source of task-finished');
        finished.push([task, success]);
    });
    pool.connect('notify::n-completed', source => completedSeen.push(source.n_completed));
    assertEqual([pool.n_submitted, pool.n_completed, pool.n_failed], [0, 0, 0]);

    // 30 applies and a map in 10 chunks: 40 jobs, 130 calls; 2 failures.
    const promises = range(0, 30).map(i => pool.apply_async('square', int64(i), null));
    promises.push(pool.map_async('square', int64s(0, 100), 10, null));
    promises.push(rejection(pool.apply_async('throw', str('z'), null)));
    promises.push(rejection(pool.apply_async('square', str('not a number'), null)));
    runPromise(Promise.all(promises));

    // Everything is delivered; the last notification may be throttled
    // (every 50 ms at most): it comes on the loop.
    runUntil(() => finished.length === 42 && completedSeen[completedSeen.length - 1] === 130);
    assertEqual(finished.filter(([task, ok]) => task === 'square' && ok).length, 40);
    assertEqual(finished.filter(([, ok]) => !ok).map(([task]) => task).sort(), ['square', 'throw']);
    // Throttled: far fewer notifications than calls; never decreasing.
    assert(completedSeen.length >= 1 && completedSeen.length <= 130, `${completedSeen.length} notifications`);
    assert(completedSeen.every((n, i) => i === 0 || n >= completedSeen[i - 1]), `n-completed went back: ${completedSeen}`);
    assertEqual([pool.n_submitted, pool.n_completed, pool.n_failed], [132, 130, 2]);
});

test('imap and imap_unordered with next(): every result once, in order for imap', t => {
    const pool = newPool(t, {n_workers: 2});
    for (const ordered of [true, false]) {
        for (const chunksize of [0, 1, 7]) {
            const it = ordered ? pool.imap('square', int64s(0, 300), chunksize)
                : pool.imap_unordered('square', int64s(0, 300), chunksize);
            const got = [];
            for (;;) {
                const [ok, value] = it.next(TIMEOUT);
                if (!ok)
                    break;
                got.push(value.get_int64());
            }
            const label = `${ordered ? 'imap' : 'imap_unordered'}, chunksize ${chunksize}`;
            if (!ordered)
                got.sort((a, b) => a - b);
            assertEqual(got, range(0, 300).map(i => i * i), label);
            // At the end it stays at the end.
            assertEqual(it.next(0)[0], false, `${label}: after the end`);
        }
    }

    // A failing item gives its error once, then the rest comes.
    const it = pool.imap('fail-on-3', int64s(0, 6), 1);
    const got = [];
    const errors = [];
    for (;;) {
        let ok, value;
        try {
            [ok, value] = it.next(TIMEOUT);
        } catch (e) {
            errors.push(e);
            continue;
        }
        if (!ok)
            break;
        got.push(value.get_int64());
    }
    assertEqual(got, [0, 1, 2, 4, 5]);
    assertEqual(errors.length, 1);
    assertIOError(rethrow(errors[0]), Gio.IOErrorEnum.INVALID_DATA);
});

test('imap with next_async on a main loop', t => {
    const pool = newPool(t, {n_workers: 2});
    const it = pool.imap('square', int64s(0, 50), 3);
    const got = [];
    let finished = false;
    let failure = null;
    // next_finish gives [ok, value]; [false, null] at the end.
    const onNext = (source, res) => {
        try {
            const [ok, value] = source.next_finish(res);
            if (!ok) {
                finished = true;
                return;
            }
            got.push(value.get_int64());
            source.next_async(null, onNext);
        } catch (e) {
            failure = e;
        }
    };
    it.next_async(null, onNext);
    runUntil(() => finished || failure !== null);
    if (failure !== null)
        throw failure;
    assertEqual(got, range(0, 50).map(i => i * i));

    // Promisified, GJS drops the leading true: [value], then [false, null].
    Gio._promisify(Mp.PoolIterator.prototype, 'next_async', 'next_finish');
    const unordered = pool.imap_unordered('square', int64s(0, 20), 1);
    const values = runPromise((async () => {
        const out = [];
        for (;;) {
            const r = await unordered.next_async(null);
            if (r[0] === false)
                return out;
            out.push(r[0].get_int64());
        }
    })());
    assertEqual(values.sort((a, b) => a - b), range(0, 20).map(i => i * i));
});

test('a task over its timeout fails with TIMED_OUT; its worker is replaced', t => {
    const pool = newPool(t, {n_workers: 1});
    const before = workerPids(pool);
    const hung = pool.submit('hang', null, 0.2);
    const e = assertResultError(hung, IO_ERROR, Gio.IOErrorEnum.TIMED_OUT, 'the hung task');
    assert(e.message.includes('“hang”'), `the message: ${e.message}`);
    assertEqual(pool.apply('square', int64(5), null).get_int64(), 25);
    const after = workerPids(pool);
    assertEqual(after.length, 1);
    assert(after[0] !== before[0], 'the worker was not replaced');

    // The pool's own timeout, for every call; a quick task is unaffected.
    pool.task_timeout = 0.2;
    assertIOError(() => pool.apply('hang', null, null), Gio.IOErrorEnum.TIMED_OUT, 'task-timeout');
    assertEqual(pool.apply('square', int64(6), null).get_int64(), 36);
    assertEqual(pool.n_failed, 2);
});

test('cancel: a queued task, a running one through a Gio.Cancellable, a blocking call', t => {
    const pool = newPool(t, {n_workers: 1});
    const started = Mp.Queue.new(0);
    const cancellable = new Gio.Cancellable();

    // The one worker runs this; what comes after waits in the queue.
    const running = pool.apply_async('announce-and-hang', new GLib.Variant('(v)', [started.to_variant()]),
        cancellable);
    const queued = pool.submit('square', int64(2), -1);
    const queued2 = pool.submit('square', int64(3), -1);
    const workerPid = started.get(true, TIMEOUT, null).get_int32();
    assertEqual(workerPids(pool), [workerPid]);

    // A queued task cancelled: dropped; the other stays queued.
    queued2.cancel();
    assertResultError(queued2, IO_ERROR, Gio.IOErrorEnum.CANCELLED, 'the cancelled queued task');
    assertEqual(queued.ready(), false);

    // The running one, through its Gio.Cancellable: its worker is killed.
    cancellable.cancel();
    const e = runPromise(rejection(running));
    assertIOError(rethrow(e), Gio.IOErrorEnum.CANCELLED, 'the cancelled running task');

    // The pool goes on, in a new worker.
    assertEqual(queued.get(TIMEOUT).get_int64(), 4);
    const after = workerPids(pool);
    assertEqual(after.length, 1);
    assert(after[0] !== workerPid, 'the worker of the cancelled task still runs');

    // A blocking call with a cancellable already cancelled.
    assertIOError(() => pool.apply('hang', null, cancellable), Gio.IOErrorEnum.CANCELLED, 'a blocking apply');
    assertIOError(() => pool.map('square', int64s(0, 10), 1, cancellable), Gio.IOErrorEnum.CANCELLED,
        'a blocking map');
    assertEqual(pool.apply('square', int64(8), new Gio.Cancellable()).get_int64(), 64);
});

test('terminate with 10,000 queued tasks fails them all with CLOSED', t => {
    const pool = newPool(t, {n_workers: 2});
    assertMpError(() => pool.join(0, null), Mp.Error.INVALID_STATE, 'join on a running pool');
    const results = [];
    for (let i = 0; i < 10000; i++)
        results.push(pool.submit('hang', null, -1));
    // Some are running (in both workers, once they have started), the rest
    // queued: terminate fails them all.
    pool.terminate();
    let wrong = 0;
    for (const r of results) {
        try {
            r.get(TIMEOUT);
            wrong++;
        } catch (e) {
            if (!e.matches(IO_ERROR, Gio.IOErrorEnum.CLOSED))
                throw e;
        }
    }
    assertEqual(wrong, 0, 'results that did not fail');
    assertEqual(pool.join(TIMEOUT, null), true);
    assertEqual(workerPids(pool), []);
    assertMpError(() => pool.submit('square', int64(1), -1), Mp.Error.INVALID_STATE, 'submit after terminate');
    assertMpError(() => pool.apply('square', int64(1), null), Mp.Error.INVALID_STATE, 'apply after terminate');
});

// join() after terminate() can miss the moment the pool is joined: a killed
// worker's job sent ahead goes back to the queue (worker_exited_cb()), and
// schedule() then fails it and empties the queue without waking join(), so
// join() waits for its deadline (for ever with -1 or from join_async()). A
// race, met in about one round in five on a loaded machine. See the report;
// this test runs once that is fixed.

test('terminate, then join at once, with a job sent ahead to the worker', t => {
    for (let round = 0; round < 20; round++) {
        const pool = newPool(t, {n_workers: 1});
        const started = Mp.Queue.new(0);
        const args = new GLib.Variant('(v)', [started.to_variant()]);
        // The first runs, the second is sent ahead, the third waits.
        const results = [0, 1, 2].map(() => pool.submit('announce-and-hang', args, -1));
        started.get(true, TIMEOUT, null);
        pool.terminate();
        // The workers are gone: join() has nothing to wait for.
        const before = GLib.get_monotonic_time();
        assertEqual(pool.join(TIMEOUT, null), true, `round ${round}`);
        const waited = (GLib.get_monotonic_time() - before) / GLib.USEC_PER_SEC;
        assert(waited < TIMEOUT / 2, `round ${round}: join() waited ${waited.toFixed(1)} s, for its deadline`);
        for (const r of results)
            assertResultError(r, IO_ERROR, Gio.IOErrorEnum.CLOSED, `round ${round}`);
    }
});

test('close and join: queued work is done, not dropped; join_async on a loop', t => {
    let pool = newPool(t, {n_workers: 2});
    let last = pool.submit_map('square', int64s(0, 1000), 10);
    pool.close();
    assertMpError(() => pool.submit('square', int64(1), -1), Mp.Error.INVALID_STATE, 'submit after close');
    assertEqual(pool.join(TIMEOUT, null), true);
    assertEqual(last.ready(), true);
    assertEqual(last.successful(), true);
    assertEqual(last.get(0).n_children(), 1000);
    assertEqual(workerPids(pool), []);

    pool = newPool(t, {n_workers: 2});
    const joinEarly = runPromise(rejection(pool.join_async(null)));
    assertMpError(rethrow(joinEarly), Mp.Error.INVALID_STATE, 'join_async on a running pool');
    last = pool.submit_map('square', int64s(0, 1000), 10);
    pool.close();
    assertEqual(runPromise(pool.join_async(null)), true);
    assertEqual(last.successful(), true);
});

test('initializer and max-tasks-per-worker', t => {
    let pool = newPool(t, {n_workers: 2, initializer: 'init', initargs: int64(42)});
    assertEqual(pool.apply('get-init', null, null).get_int64(), 42);

    // An initializer that fails breaks the pool, with its message.
    pool = newPool(t, {n_workers: 1, initializer: 'init', initargs: int64(-1), max_restarts: 2});
    const e = assertMpError(() => pool.apply('get-init', null, null), Mp.Error.POOL_BROKEN);
    assert(e.message.includes('the initializer refuses'), `the message: ${e.message}`);

    // An unknown initializer is refused by init().
    assertMpError(() => new Mp.Pool({initializer: 'no-such-task'}).init(null), Mp.Error.UNKNOWN_TASK);

    // One job per worker: each in a new process.
    pool = newPool(t, {n_workers: 2, max_tasks_per_worker: 1});
    const pids = new Set();
    for (let i = 0; i < 6; i++)
        pids.add(pool.apply('pid', null, null).get_int32());
    assertEqual(pids.size, 6);
});

test('more deaths than max-restarts break the pool with POOL_BROKEN', t => {
    const pool = newPool(t, {n_workers: 1, max_restarts: 2, restart_period: 600});
    for (let i = 0; i < 3; i++)
        assertThrows(() => pool.apply('die', null, null), `death ${i}`);
    const e = assertMpError(() => pool.apply('square', int64(2), null), Mp.Error.POOL_BROKEN);
    assert(e.message.includes('3 times'), `the message: ${e.message}`);
});

H.run();
