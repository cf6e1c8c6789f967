// test-process.js: MpProcess and the runtime from GJS
//
// Mirrors tests/c/test-process.c in each start method. GJS has helper
// threads when Mp.init() runs, so libmp does not fork a forkserver from
// it: the default is spawn, and asking for forkserver starts a fresh copy
// of this script as the server.
//
// Everything a child needs (tasks, the Process subclass) is defined before
// Mp.init(ARGV): a spawn child runs this very script again and Mp.init()
// turns it into the worker. No test waits with a sleep: each waits for the
// event itself (join, the 'exited' signal, a main loop) with a generous
// bound that only a bug reaches.
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
const {test, skip, assert, assertEqual, assertThrows, assertGError, runLoop, drainMainContext} = H;

const TIMEOUT = H.TIMEOUT_SECONDS;

// Exit codes a child uses to say what it found wrong.
const WRONG_PARENT = 3;
const WRONG_CURRENT = 4;
const WRONG_NAME = 5;
const WRONG_DAEMON = 6;
const WRONG_GREETING = 11;
const WRONG_TYPE = 14;

function getpid() {
    return new Gio.Credentials().get_unix_pid();
}

// ---- tasks (registered before Mp.init) --------------------------------------

Mp.register_task('ok', (_args, _cancellable) => null);

Mp.register_task('fail', (args, _cancellable) => {
    const [message] = args.deepUnpack();
    throw new Error(message);
});

Mp.register_task('fail-type', (args, _cancellable) => {
    const [message] = args.deepUnpack();
    throw new TypeError(message);
});

Mp.register_task('fail-gerror', (args, _cancellable) => {
    const [message] = args.deepUnpack();
    throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED, message);
});

Mp.register_task('exit', (args, _cancellable) => {
    const [code] = args.deepUnpack();
    Mp.exit(code);
    return null;
});

// The workload of the signal tests: a child that runs until a signal ends
// it. GJS installs no handler for SIGTERM or SIGINT, so a signal has its
// default action whenever it arrives, even during the child's start-up.
Mp.register_task('forever', (_args, _cancellable) => {
    new GLib.MainLoop(null, false).run();
    return null;
});

// Exits 0 only if the child sees the expected libmp parent and its own
// process object, with the name and daemon flag the parent gave it.
Mp.register_task('check-identity', (args, _cancellable) => {
    const [parent, name, daemon] = args.deepUnpack();
    if (Mp.parent_pid() !== parent)
        Mp.exit(WRONG_PARENT);
    const current = Mp.current_process();
    if (!current || current.pid !== getpid())
        Mp.exit(WRONG_CURRENT);
    if (current.name !== name)
        Mp.exit(WRONG_NAME);
    if (current.daemon !== daemon)
        Mp.exit(WRONG_DAEMON);
    return null;
});

// ---- a subclass whose properties must travel ---------------------------------

const Worker = GObject.registerClass({
    GTypeName: 'TestJsProcessWorker',
    Properties: {
        'greeting': GObject.ParamSpec.string('greeting', 'Greeting', 'A string that travels',
            GObject.ParamFlags.READWRITE, ''),
        'count': GObject.ParamSpec.int('count', 'Count', 'An int that travels; the exit code',
            GObject.ParamFlags.READWRITE, 0, 255, 0),
        'expected-parent': GObject.ParamSpec.int('expected-parent', 'Expected parent', 'The parent pid',
            GObject.ParamFlags.READWRITE, 0, GLib.MAXINT32, 0),
        'fail-with': GObject.ParamSpec.string('fail-with', 'Fail with', 'When set, run throws this',
            GObject.ParamFlags.READWRITE, ''),
    },
}, class Worker extends Mp.Process {
    vfunc_run(_cancellable) {
        if (this.fail_with)
            throw new Error(this.fail_with);
        const current = Mp.current_process();
        if (!(current instanceof Worker) || current !== this)
            Mp.exit(WRONG_TYPE);
        if (Mp.parent_pid() !== this.expected_parent)
            Mp.exit(WRONG_PARENT);
        if (this.greeting !== 'hello from the parent')
            Mp.exit(WRONG_GREETING);
        if (this.name !== 'custom-name')
            Mp.exit(WRONG_NAME);
        if (!this.daemon)
            Mp.exit(WRONG_DAEMON);
        Mp.exit(this.count);
    }
});

Mp.init(ARGV);

// ---- helpers ----------------------------------------------------------------

const MP_ERROR = Mp.error_quark();
const METHODS = [['fork', Mp.StartMethod.FORK], ['spawn', Mp.StartMethod.SPAWN], ['forkserver', Mp.StartMethod.FORKSERVER]];

function newProcess(method, task, args = null) {
    const p = Mp.Process.new(task, args);
    p.start_method = method;
    return p;
}

function runToExit(method, task, args = null) {
    const p = newProcess(method, task, args);
    assertEqual(p.pid, 0, 'pid before start');
    assertEqual(p.state, Mp.ProcessState.INITIAL);
    p.start();
    assert(p.pid > 0, `pid after start: ${p.pid}`);
    assertEqual(p.join(TIMEOUT), true, 'join');
    assertEqual(p.state, Mp.ProcessState.EXITED);
    assertEqual(p.is_alive(), false, 'is_alive after join');
    return p;
}

// Makes sure a child that runs forever is gone when the test ends, even
// when it fails (the runtime would join it at exit).
function stopLater(t, p) {
    t.defer(() => {
        if (p.state === Mp.ProcessState.STARTED) {
            p.kill();
            p.join(TIMEOUT);
        }
    });
    return p;
}

// ---- tests run in fork and spawn ------------------------------------------------

for (const [m, method] of METHODS) {
    test(`${m}: success exits with 0`, () => {
        const p = runToExit(method, 'ok', new GLib.Variant('(si)', ['x', 1]));
        assertEqual(p.exitcode, 0);
        assertEqual(p.check_error(), true);
    });

    test(`${m}: a process with no target exits with 0`, () => {
        assertEqual(runToExit(method, null).exitcode, 0);
    });

    test(`${m}: a task that throws exits with 1 and check_error carries the message`, () => {
        const message = `refused on purpose in ${m}`;
        const p = newProcess(method, 'fail', new GLib.Variant('(s)', [message]));
        assertEqual(p.check_error(), true, 'nothing to report before it ran');
        p.start();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(p.exitcode, 1);
        const e = assertThrows(() => p.check_error());
        // A JS Error travels as a GError in GJS's own error domain, which GJS
        // turns back into a JS Error in the parent (not a GLib.Error).
        assert(String(e.message).includes(message), `message: ${e.message}`);
    });

    test(`${m}: a TypeError thrown in the child comes back`, () => {
        const p = runToExit(method, 'fail-type', new GLib.Variant('(s)', ['wrong type']));
        assertEqual(p.exitcode, 1);
        const e = assertThrows(() => p.check_error());
        assert(String(e.message).includes('wrong type'), `message: ${e.message}`);
    });

    test(`${m}: a GLib.Error thrown in the child comes back with its domain and code`, () => {
        const p = runToExit(method, 'fail-gerror', new GLib.Variant('(s)', ['denied on purpose']));
        assertEqual(p.exitcode, 1);
        const e = assertGError(() => p.check_error(), Gio.io_error_quark(), Gio.IOErrorEnum.PERMISSION_DENIED);
        assertEqual(e.message, 'denied on purpose');
    });

    test(`${m}: Mp.exit(7) exits with 7`, () => {
        const p = runToExit(method, 'exit', new GLib.Variant('(i)', [7]));
        assertEqual(p.exitcode, 7);
        assertEqual(p.check_error(), true);
    });

    test(`${m}: parent pid, current process, name and daemon travel`, () => {
        let p = newProcess(method, 'check-identity', new GLib.Variant('(isb)', [getpid(), 'child-name', true]));
        p.name = 'child-name';
        p.daemon = true;
        p.start();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(p.exitcode, 0);

        p = newProcess(method, 'check-identity', new GLib.Variant('(isb)', [getpid(), 'other-name', false]));
        p.name = 'other-name';
        p.start();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(p.exitcode, 0);
    });

    for (const [send, code] of [['terminate', -15], ['kill', -9], ['interrupt', -2]]) {
        test(`${m}: ${send}() gives ${code}`, t => {
            const p = stopLater(t, newProcess(method, 'forever'));
            p.start();
            assertEqual(p.is_alive(), true, 'is_alive');
            // join with a timeout while it runs: not ended, no error
            assertEqual(p.join(0.05), false, 'join with a timeout');
            assertEqual(p.is_alive(), true, 'still alive');
            assertEqual(p.state, Mp.ProcessState.STARTED);

            p[send]();
            assertEqual(p.join(TIMEOUT), true);
            assertEqual(p.is_alive(), false);
            assertEqual(p.exitcode, code);
            assertEqual(p.check_error(), true);
            // Signalling an ended process does nothing.
            p.terminate();
            p.kill();
            assertEqual(p.exitcode, code);
        });
    }

    test(`${m}: misuse is an INVALID_STATE error`, t => {
        const p = stopLater(t, newProcess(method, 'forever'));

        // Not started: join and signals are errors.
        assertGError(() => p.join(0), MP_ERROR, Mp.Error.INVALID_STATE, 'join before start');
        assertGError(() => p.terminate(), MP_ERROR, Mp.Error.INVALID_STATE, 'terminate before start');

        p.start();
        assertGError(() => p.start(), MP_ERROR, Mp.Error.INVALID_STATE, 'start twice');
        // close() on a live process is an error, as in Python.
        assertGError(() => p.close(), MP_ERROR, Mp.Error.INVALID_STATE, 'close while running');
        assertEqual(p.is_alive(), true);

        p.kill();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(p.close(), true);
        assertEqual(p.state, Mp.ProcessState.CLOSED);
        assertGError(() => p.join(-1), MP_ERROR, Mp.Error.INVALID_STATE, 'join after close');
        assertGError(() => p.start(), MP_ERROR, Mp.Error.INVALID_STATE, 'start after close');
    });

    test(`${m}: an unknown task fails at start`, () => {
        const p = newProcess(method, 'no-such-task');
        const e = assertGError(() => p.start(), MP_ERROR, Mp.Error.UNKNOWN_TASK);
        assert(e.message.includes('no-such-task'), e.message);
        assertEqual(p.pid, 0);
        assertEqual(p.state, Mp.ProcessState.INITIAL);
    });

    test(`${m}: a subclass's properties travel`, () => {
        const p = new Worker({
            greeting: 'hello from the parent',
            count: 42,
            expected_parent: getpid(),
            name: 'custom-name',
            daemon: true,
            start_method: method,
        });
        p.start();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(p.exitcode, 42);
    });

    test(`${m}: a subclass whose run throws exits with 1`, () => {
        const p = new Worker({fail_with: 'the subclass failed', start_method: method});
        p.start();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(p.exitcode, 1);
        const e = assertThrows(() => p.check_error());
        assert(String(e.message).includes('the subclass failed'), `message: ${e.message}`);
    });

    test(`${m}: join_async and the exited signal`, () => {
        const loop = new GLib.MainLoop(null, false);
        const exited = [];
        const joined = [];
        const p = newProcess(method, 'exit', new GLib.Variant('(i)', [5]));
        p.connect('exited', (_process, code) => exited.push(code));
        p.start();
        p.join_async(null, (process, result) => {
            try {
                joined.push(process.join_finish(result));
            } catch (e) {
                joined.push(e);
            }
            loop.quit();
        });
        runLoop(loop);

        assertEqual(joined, [true]);
        assertEqual(exited, [5]);
        assertEqual(p.exitcode, 5);
        // Emitted once: not again from the main loop nor from a later join.
        drainMainContext();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(p.is_alive(), false);
        drainMainContext();
        assertEqual(exited, [5]);
    });

    test(`${m}: join_async can be cancelled`, t => {
        const p = stopLater(t, newProcess(method, 'forever'));
        p.start();
        const loop = new GLib.MainLoop(null, false);
        const results = [];
        const onJoined = (process, result) => {
            try {
                results.push(process.join_finish(result));
            } catch (e) {
                results.push(e);
            }
            loop.quit();
        };

        const cancellable = new Gio.Cancellable();
        p.join_async(cancellable, onJoined);
        cancellable.cancel();
        runLoop(loop);
        assertEqual(results.length, 1);
        assertGError(() => {
            throw results[0];
        }, Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED);
        assertEqual(p.is_alive(), true);

        // Another join_async still ends when the child does.
        results.length = 0;
        p.join_async(null, onJoined);
        p.kill();
        runLoop(loop);
        assertEqual(results, [true]);
        assertEqual(p.exitcode, -9);

        // On an ended process it completes at once.
        results.length = 0;
        p.join_async(null, onJoined);
        runLoop(loop);
        assertEqual(results, [true]);
    });

    test(`${m}: join_async before start is an INVALID_STATE error`, () => {
        const loop = new GLib.MainLoop(null, false);
        const results = [];
        newProcess(method, 'ok').join_async(null, (process, result) => {
            try {
                results.push(process.join_finish(result));
            } catch (e) {
                results.push(e);
            }
            loop.quit();
        });
        runLoop(loop);
        assertEqual(results.length, 1);
        assertGError(() => {
            throw results[0];
        }, MP_ERROR, Mp.Error.INVALID_STATE);
    });

    test(`${m}: a join emits exited once`, () => {
        const exited = [];
        const p = newProcess(method, 'exit', new GLib.Variant('(i)', [6]));
        p.connect('exited', (_process, code) => exited.push(code));
        p.start();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(exited, [6]);
        drainMainContext();
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(exited, [6]);
    });

    test(`${m}: the main loop notices the exit by itself`, () => {
        const loop = new GLib.MainLoop(null, false);
        const exited = [];
        const p = newProcess(method, 'exit', new GLib.Variant('(i)', [8]));
        p.connect('exited', (_process, code) => {
            exited.push(code);
            loop.quit();
        });
        p.start();
        runLoop(loop);
        assertEqual(exited, [8]);
        assertEqual(p.exitcode, 8);
        assertEqual(p.join(TIMEOUT), true);
        drainMainContext();
        assertEqual(exited, [8]);
    });

    test(`${m}: 50 processes leave no descriptor behind`, () => {
        // Warm up anything allocated once.
        assertEqual(runToExit(method, 'ok').exitcode, 0);
        const before = H.countFds();

        const procs = [];
        for (let i = 0; i < 50; i++) {
            const p = newProcess(method, 'ok', new GLib.Variant('(u)', [i]));
            p.start();
            procs.push(p);
        }
        for (const p of procs) {
            assertEqual(p.join(TIMEOUT), true);
            assertEqual(p.exitcode, 0);
        }

        const after = H.countFds();
        if (after !== before)
            printerr(H.listFds().join('\n'));
        assertEqual(after, before, 'open descriptors');
    });
}

// ---- the forkserver in GJS: spawned, not forked ----------------------------------

test('forkserver: available through a spawned server, and the default is spawn', () => {
    assertEqual(Mp.start_method_is_available(Mp.StartMethod.FORKSERVER), true);
    assertEqual(Mp.start_method_is_available(Mp.StartMethod.FORK), true);
    assertEqual(Mp.start_method_is_available(Mp.StartMethod.SPAWN), true);
    assertEqual(Mp.get_start_method(), Mp.StartMethod.SPAWN);

    // A process that does not choose starts with the default.
    const p = runToExit(Mp.StartMethod.DEFAULT, 'exit', new GLib.Variant('(i)', [4]));
    assertEqual(p.exitcode, 4);
});

// ---- fork closures ------------------------------------------------------------

test('closure: runs in a forked child, by default', () => {
    const parent = getpid();
    const captured = 4;
    const p = Mp.Process.new_for_func(process => {
        // A real closure: it sees the parent's variables, copied by fork.
        if (process !== Mp.current_process() || Mp.parent_pid() !== parent)
            Mp.exit(WRONG_CURRENT);
        Mp.exit(captured + 5);
        return true;
    });
    assert(p instanceof Mp.Process);
    p.start();
    assertEqual(p.join(TIMEOUT), true);
    assertEqual(p.exitcode, 9);
});

test('closure: returning true exits with 0', () => {
    const p = Mp.Process.new_for_func(() => true);
    p.start_method = Mp.StartMethod.FORK;
    p.start();
    assertEqual(p.join(TIMEOUT), true);
    assertEqual(p.exitcode, 0);
    assertEqual(p.check_error(), true);
});

test('closure: returning false exits with 1', () => {
    const p = Mp.Process.new_for_func(() => false);
    p.start();
    assertEqual(p.join(TIMEOUT), true);
    assertEqual(p.exitcode, 1);
    assertGError(() => p.check_error(), MP_ERROR, Mp.Error.TASK_FAILED);
});

test('closure: throwing exits with 1 and check_error carries the message', () => {
    const p = Mp.Process.new_for_func(() => {
        throw new Error('the closure failed');
    });
    p.start();
    assertEqual(p.join(TIMEOUT), true);
    assertEqual(p.exitcode, 1);
    const e = assertThrows(() => p.check_error());
    assert(String(e.message).includes('the closure failed'), `message: ${e.message}`);
});

test('closure: spawn and forkserver cannot carry one', () => {
    for (const method of [Mp.StartMethod.SPAWN, Mp.StartMethod.FORKSERVER]) {
        const p = Mp.Process.new_for_func(() => true);
        p.start_method = method;
        assertGError(() => p.start(), MP_ERROR, Mp.Error.START_METHOD, `method ${method}`);
        assertEqual(p.pid, 0);
        assertEqual(p.state, Mp.ProcessState.INITIAL);
    }
});

// ---- the runtime ------------------------------------------------------------------

test('a task registered after Mp.init is unknown to spawn, known to fork', () => {
    Mp.register_task('late', () => null);
    const p = newProcess(Mp.StartMethod.SPAWN, 'late');
    const e = assertGError(() => p.start(), MP_ERROR, Mp.Error.UNKNOWN_TASK);
    assert(e.message.includes('mp_init'), e.message);
    assertEqual(p.pid, 0);
    // fork copies the registry as it is now, so it works there.
    assertEqual(runToExit(Mp.StartMethod.FORK, 'late').exitcode, 0);
});

test('active_children lists a running child', t => {
    const p = stopLater(t, newProcess(Mp.StartMethod.SPAWN, 'forever'));
    p.start();
    assert(Mp.active_children().includes(p), 'running child listed');
    p.kill();
    assertEqual(p.join(TIMEOUT), true);
    assert(!Mp.active_children().includes(p), 'ended child not listed');
});

test('helpers: cpu_count, parent_pid, current_process', () => {
    const n = Mp.cpu_count();
    assert(n >= 1, `cpu_count ${n}`);
    assert(n <= GLib.get_num_processors(), `cpu_count ${n}`);
    assertEqual(Mp.is_initialized(), true);
    assertEqual(Mp.parent_pid(), 0);
    const main = Mp.current_process();
    assertEqual(main.name, 'MainProcess');
    assertEqual(main.pid, getpid());
    assertEqual(main.is_alive(), true);
    assertGError(() => main.join(0), MP_ERROR, Mp.Error.INVALID_STATE);
});

H.run();
