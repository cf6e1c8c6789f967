// test-pipe.js: MpPipe from GJS, in one process and in each start method
//
// Mirrors tests/c/test-pipe.c. GJS has helper threads when Mp.init() runs,
// so libmp forks no forkserver from it: asking for forkserver starts a
// fresh copy of this script as the server.
//
// Everything a child needs (tasks, the Process subclass) is defined before
// Mp.init(ARGV): a spawn child runs this very script again and Mp.init()
// turns it into the worker. No test waits with a sleep: a receive that
// could block forever on a bug is preceded by poll(TIMEOUT), and a main
// loop runs under a TIMEOUT guard; only a bug reaches either bound.
//
// A pipe end reaches a task inside its arguments: as '(v)' holding
// end.to_variant(), or as the '(sh)' reference itself in a tuple made with
// GLib.Variant.new_tuple(). The child gets it back with
// Mp.Pipe.new_from_variant(); variants are taken apart with
// get_child_value()/get_variant(), not deepUnpack(), so the reference stays
// a GLib.Variant. A child reports what it found wrong by throwing: the
// parent's check_error() throws it again with its message.
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
const {test, skip, assert, assertEqual, assertGError, runLoop} = H;

const TIMEOUT = H.TIMEOUT_SECONDS;

// The size of the large message: 16 MiB and a few bytes, so that the
// payload does not end on a page boundary.
const BIG_SIZE = 16 * 1024 * 1024 + 7;

// Exit code of a child that survived its own SIGKILL (cannot happen).
const NOT_KILLED = 17;

const IO_ERROR = Gio.io_error_quark();

function getpid() {
    return new Gio.Credentials().get_unix_pid();
}

// Deterministic bytes, the same as pattern() in tests/c/test-pipe.c: bits
// 13 to 20 of i * 2654435761, which the low 32 bits of the product hold.
function pattern(size) {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++)
        data[i] = (Math.imul(i, 2654435761) >>> 13) & 0xff;
    return data;
}

// The offset of the first byte that is not pattern(), or -1.
function checkPattern(data) {
    for (let i = 0; i < data.length; i++) {
        if (data[i] !== ((Math.imul(i, 2654435761) >>> 13) & 0xff))
            return i;
    }
    return -1;
}

// In a child: throw, so that the parent's check_error() reports it.
function expect(condition, message) {
    if (!condition)
        throw new Error(message);
}

// fn() throws a GLib.Error G_IO_ERROR code (in a child).
function expectIOError(fn, code, what) {
    try {
        fn();
    } catch (e) {
        expect(e instanceof GLib.Error && e.matches(IO_ERROR, code),
            `${what}: expected G_IO_ERROR ${code}, got ${e}`);
        return;
    }
    throw new Error(`${what}: expected G_IO_ERROR ${code}, nothing thrown`);
}

const S = new GLib.VariantType('s');

// The pipe end in a '(v)' task argument.
const pipeFromV = args => Mp.Pipe.new_from_variant(args.get_child_value(0).get_variant());
// The pipe end in a '((sh)...)' task argument.
const pipeFromRef = args => Mp.Pipe.new_from_variant(args.get_child_value(0));

// ---- tasks (registered before Mp.init) --------------------------------------

// The son of seed 001: says hello, then echoes the father's answer.
Mp.register_task('son', (args, _cancellable) => {
    const pipe = pipeFromV(args);
    expect(pipe instanceof Mp.Pipe, `the pipe end arrived as ${pipe}`);
    pipe.send(new GLib.Variant('s', 'Hello Father'), null);
    expect(pipe.poll(TIMEOUT), 'no answer from the father');
    const [answer] = pipe.recv(S, null).get_string();
    pipe.send(new GLib.Variant('s', `From Father:${answer}`), null);
    return null;
});

// Seed 003's duplex child: receives the parent's list, sends its own.
Mp.register_task('seed-duplex', (args, _cancellable) => {
    const pA = pipeFromV(args);
    expect(pA.poll(TIMEOUT), 'nothing from the parent');
    const received = pA.recv(new GLib.VariantType('ai'), null).deepUnpack();
    expect(received.join() === '1,2,3,4,5', `received ${received}`);
    pA.send(new GLib.Variant('as', ['a', 'b', 'c', 'd']), null);
    return null;
});

// Seed 003's half-duplex child: p_a only receives. Its argument is the
// '(sh)' reference itself, in a '((sh))' tuple.
Mp.register_task('half-duplex-reader', (args, _cancellable) => {
    const pA = pipeFromRef(args);
    expect(pA.readable && !pA.writable, `readable ${pA.readable}, writable ${pA.writable}`);
    expectIOError(() => pA.send(new GLib.Variant('s', 'the wrong way'), null),
        Gio.IOErrorEnum.NOT_SUPPORTED, 'send on p_a');
    expectIOError(() => pA.send_bytes(new GLib.Bytes(new Uint8Array([1])), null),
        Gio.IOErrorEnum.NOT_SUPPORTED, 'send_bytes on p_a');
    expect(pA.poll(TIMEOUT), 'nothing from the parent');
    const received = pA.recv(null, null).deepUnpack();
    expect(received.join() === '1,2,3,4,5', `received ${received}`);
    return null;
});

// Receives a pipe end through a pipe, and answers on it.
Mp.register_task('relay', (args, _cancellable) => {
    const pipe = pipeFromV(args);
    expect(pipe.poll(TIMEOUT), 'nothing from the parent');
    const inner = Mp.Pipe.new_from_variant(pipe.recv(new GLib.VariantType('(sh)'), null));
    expect(inner.writable && !inner.readable, 'the sending end arrived with another direction');
    inner.send(new GLib.Variant('s', 'through the pipe'), null);
    return null;
});

// Sends size pattern bytes. Arguments: '((sh)t)'.
Mp.register_task('send-big', (args, _cancellable) => {
    const pipe = pipeFromRef(args);
    const size = args.get_child_value(1).get_uint64();
    pipe.send_bytes(new GLib.Bytes(pattern(size)), null);
    return null;
});

// Sends three values, then dies before a fourth: kill -9 on itself.
Mp.register_task('send-then-die', (args, _cancellable) => {
    const pipe = pipeFromV(args);
    for (let i = 0; i < 3; i++)
        pipe.send(new GLib.Variant('i', i), null);
    GLib.spawn_command_line_sync(`kill -9 ${getpid()}`);
    Mp.exit(NOT_KILLED);
    return null;
});

// ---- a subclass holding a pipe end --------------------------------------------

// Its pipe end travels as a GObject property; run() says hello on it and
// echoes what the parent answers.
const PipeWorker = GObject.registerClass({
    GTypeName: 'TestJsPipeWorker',
    Properties: {
        'conn': GObject.ParamSpec.object('conn', 'Conn', 'A pipe end that travels',
            GObject.ParamFlags.READWRITE, Mp.Pipe),
    },
}, class PipeWorker extends Mp.Process {
    vfunc_run(_cancellable) {
        expect(this.conn !== null, 'the pipe did not travel');
        expect(this.conn instanceof Mp.Pipe, `the property holds ${this.conn}`);
        this.conn.send(new GLib.Variant('s', 'from the property'), null);
        expect(this.conn.poll(TIMEOUT), 'no answer from the parent');
        const [got] = this.conn.recv(S, null).get_string();
        this.conn.send(new GLib.Variant('s', `echo:${got}`), null);
    }
});

Mp.init(ARGV);

// ---- helpers ----------------------------------------------------------------

const METHODS = [['fork', Mp.StartMethod.FORK], ['spawn', Mp.StartMethod.SPAWN], ['forkserver', Mp.StartMethod.FORKSERVER]];

// Python's Pipe(duplex): [first, second]. GJS 1.74 also returns the
// boolean that new_pair()'s annotations skip, first: [true, first, second].
function newPair(duplex = true) {
    const result = Mp.Pipe.new_pair(duplex);
    const ends = result.slice(-2);
    assert(ends.every(end => end instanceof Mp.Pipe), `new_pair returned ${result}`);
    return ends;
}

function str(value) {
    return new GLib.Variant('s', value);
}

// pipe.recv(), failing instead of blocking forever on a bug.
function recvWithin(pipe, type = null) {
    assertEqual(pipe.poll(TIMEOUT), true, 'nothing arrived (a bug)');
    return pipe.recv(type, null);
}

function recvString(pipe) {
    return recvWithin(pipe, S).get_string()[0];
}

function assertIOError(fn, code, message = '') {
    return assertGError(fn, IO_ERROR, code, message);
}

// The GLib.Variant, or the error thrown by recv_finish, of one
// recv_async() run on a main loop.
function recvAsync(pipe, type = null) {
    const loop = new GLib.MainLoop(null, false);
    const results = [];
    pipe.recv_async(type, null, (source, result) => {
        try {
            results.push(source.recv_finish(result));
        } catch (e) {
            results.push(e);
        }
        loop.quit();
    });
    runLoop(loop);
    assertEqual(results.length, 1, 'callbacks');
    return results[0];
}

function start(method, task, args) {
    const p = Mp.Process.new(task, args);
    p.start_method = method;
    p.start();
    return p;
}

function joinOk(p) {
    assertEqual(p.join(TIMEOUT), true, 'the child did not end (a bug)');
    // Throws the child's error, with its message, if it had one.
    assertEqual(p.check_error(), true);
    assertEqual(p.exitcode, 0);
}

// ---- in one process ---------------------------------------------------------------

test('new_pair: directions and properties', () => {
    for (const duplex of [true, false]) {
        const [a, b] = newPair(duplex);
        assertEqual([a.readable, a.writable], [true, duplex], `first end, duplex ${duplex}`);
        assertEqual([b.readable, b.writable], [duplex, true], `second end, duplex ${duplex}`);
        assertEqual([a.get_readable(), b.get_writable()], [true, true]);
        assertEqual([a.closed, b.closed], [false, false]);
    }
});

test('values and bytes keep their type, order and boundaries', () => {
    const [a, b] = newPair(true);
    const values = [
        str('text'),
        new GLib.Variant('i', -7),
        new GLib.Variant('x', 2 ** 40),
        new GLib.Variant('d', 1.5),
        new GLib.Variant('ai', [1, 2, 3]),
        new GLib.Variant('(sib)', ['two', 2, true]),
        new GLib.Variant('a{sv}', {name: str('value'), n: new GLib.Variant('u', 3)}),
    ];
    for (const v of values)
        a.send(v, null);
    a.send_bytes(new GLib.Bytes(new Uint8Array([114, 97, 119, 0, 98])), null);
    b.send(str('back'), null);

    for (const v of values) {
        const got = b.recv(null, null);
        assert(got instanceof GLib.Variant, `got ${got}`);
        assertEqual(got.get_type_string(), v.get_type_string());
        assert(got.equal(v), `expected ${v.print(true)}, got ${got.print(true)}`);
    }
    const bytes = b.recv_bytes(null);
    assert(bytes instanceof GLib.Bytes, `got ${bytes}`);
    assertEqual(Array.from(bytes.toArray()), [114, 97, 119, 0, 98]);
    assertEqual(a.recv(S, null).get_string()[0], 'back');
    assertEqual(b.poll(0.01), false, 'nothing more for b');
    assertEqual(a.poll(0.01), false, 'nothing more for a');
});

test('bytes received by recv come as an ay value', () => {
    const [a, b] = newPair(true);
    a.send_bytes(new GLib.Bytes(new Uint8Array([1, 2, 250])), null);
    const v = b.recv(null, null);
    assertEqual(v.get_type_string(), 'ay');
    assertEqual(Array.from(v.deepUnpack()), [1, 2, 250]);
});

test('a typed receive refuses another type and keeps the message', () => {
    const [a, b] = newPair(true);
    a.send(str('text'), null);
    a.send(str('second'), null);
    const e = assertIOError(() => b.recv(new GLib.VariantType('i'), null), Gio.IOErrorEnum.INVALID_DATA);
    assert(e.message.includes('stays for the next receive'), e.message);
    assertIOError(() => b.recv(new GLib.VariantType('(sh)'), null), Gio.IOErrorEnum.INVALID_DATA, 'again');
    // The refused message is waiting, and comes first.
    assertEqual(b.poll(0.01), true);
    assertEqual(b.recv(S, null).get_string()[0], 'text');
    assertEqual(b.recv(null, null).get_string()[0], 'second');
    assertEqual(b.poll(0.01), false);
});

test('recv_bytes refuses a value and keeps it', () => {
    const [a, b] = newPair(true);
    a.send(new GLib.Variant('i', 42), null);
    a.send_bytes(new GLib.Bytes(new Uint8Array([7, 8])), null);
    const e = assertIOError(() => b.recv_bytes(null), Gio.IOErrorEnum.INVALID_DATA);
    assert(e.message.includes('stays for the next receive'), e.message);
    assertEqual(b.recv(null, null).get_int32(), 42);
    // A bytes message refused by a typed receive stays for recv_bytes.
    assertIOError(() => b.recv(S, null), Gio.IOErrorEnum.INVALID_DATA, 'bytes as a string');
    assertEqual(Array.from(b.recv_bytes(null).toArray()), [7, 8]);
    assertEqual(b.poll(0.01), false);
});

test('poll with a short timeout says no, then yes once a message waits', () => {
    const [a, b] = newPair(true);
    const before = GLib.get_monotonic_time();
    assertEqual(b.poll(0.05), false);
    assert(GLib.get_monotonic_time() - before >= 40000, 'poll(0.05) did not wait');
    a.send(str('there'), null);
    assertEqual(b.poll(TIMEOUT), true);
    // poll does not take the message.
    assertEqual(b.poll(TIMEOUT), true);
    assertEqual(b.recv(S, null).get_string()[0], 'there');
    assertEqual(b.poll(0.01), false);
    // A negative timeout waits without a bound.
    a.send(str('more'), null);
    assertEqual(b.poll(-1), true);
});

// A timeout of 0 asks whether a message is there now.
test('poll(0) sees a waiting message', () => {
    const [a, b] = newPair(true);
    a.send(str('waiting'), null);
    assertEqual(b.poll(TIMEOUT), true);
    assertEqual(b.poll(0), true);
});

test('half-duplex: the first end only receives, the second only sends', () => {
    const [r, w] = newPair(false);
    assertIOError(() => r.send(new GLib.Variant('i', 1), null), Gio.IOErrorEnum.NOT_SUPPORTED, 'send on r');
    assertIOError(() => r.send_bytes(new GLib.Bytes(new Uint8Array([1])), null), Gio.IOErrorEnum.NOT_SUPPORTED, 'send_bytes on r');
    assertIOError(() => w.recv(null, null), Gio.IOErrorEnum.NOT_SUPPORTED, 'recv on w');
    assertIOError(() => w.recv_bytes(null), Gio.IOErrorEnum.NOT_SUPPORTED, 'recv_bytes on w');
    assertIOError(() => w.poll(0), Gio.IOErrorEnum.NOT_SUPPORTED, 'poll on w');
    const asyncError = recvAsync(w);
    assertIOError(() => {
        throw asyncError;
    }, Gio.IOErrorEnum.NOT_SUPPORTED, 'recv_async on w');

    w.send(new GLib.Variant('i', 5), null);
    assertEqual(r.recv(new GLib.VariantType('i'), null).get_int32(), 5);
});

test('close: what was sent arrives, then EOF', () => {
    const [a, b] = newPair(true);
    const notified = [];
    a.connect('notify::closed', pipe => notified.push(pipe.closed));

    a.send(str('last words'), null);
    a.close();
    assertEqual(a.closed, true);
    assertEqual(notified, [true]);
    // A second close does nothing.
    a.close();
    assertEqual(notified, [true]);
    assertIOError(() => a.send(new GLib.Variant('i', 1), null), Gio.IOErrorEnum.CLOSED, 'send after close');
    assertIOError(() => a.recv(null, null), Gio.IOErrorEnum.CLOSED, 'recv after close');
    assertIOError(() => a.poll(0), Gio.IOErrorEnum.CLOSED, 'poll after close');

    assertEqual(b.closed, false);
    assertEqual(b.poll(TIMEOUT), true);
    assertEqual(b.recv(null, null).get_string()[0], 'last words');
    assertEqual(b.poll(TIMEOUT), true, 'EOF reads as ready');
    assertIOError(() => b.recv(null, null), Gio.IOErrorEnum.CLOSED, 'recv at EOF');
    assertIOError(() => b.recv_bytes(null), Gio.IOErrorEnum.CLOSED, 'recv_bytes at EOF');
    assertIOError(() => b.recv(null, null), Gio.IOErrorEnum.CLOSED, 'recv at EOF again');
    assertIOError(() => b.send(new GLib.Variant('i', 1), null), Gio.IOErrorEnum.CLOSED, 'send to a closed peer');
});

test('recv_async on a main loop', () => {
    const [a, b] = newPair(true);
    const loop = new GLib.MainLoop(null, false);
    const results = [];
    // Started before anything is there: the main loop gets it.
    b.recv_async(null, null, (source, result) => {
        results.push([source, source.recv_finish(result)]);
        loop.quit();
    });
    a.send(str('on the main loop'), null);
    runLoop(loop);
    assertEqual(results.length, 1);
    const [source, value] = results[0];
    assert(source === b, 'the source is the pipe end');
    assert(value instanceof GLib.Variant, `got ${value}`);
    assertEqual(value.get_string()[0], 'on the main loop');

    // With a type.
    a.send(new GLib.Variant('i', 9), null);
    assertEqual(recvAsync(b, new GLib.VariantType('i')).get_int32(), 9);
});

test('recv_async: a refused type keeps the message, then EOF', () => {
    const [a, b] = newPair(true);
    a.send(str('text'), null);
    const refused = recvAsync(b, new GLib.VariantType('i'));
    assertIOError(() => {
        throw refused;
    }, Gio.IOErrorEnum.INVALID_DATA, 'recv_async of the wrong type');
    // The next async receive gets it at once.
    assertEqual(recvAsync(b, S).get_string()[0], 'text');
    // A refused typed recv keeps it for recv_async too.
    a.send(new GLib.Variant('i', 3), null);
    assertIOError(() => b.recv(S, null), Gio.IOErrorEnum.INVALID_DATA);
    assertEqual(recvAsync(b).get_int32(), 3);
    a.close();
    const closed = recvAsync(b);
    assertIOError(() => {
        throw closed;
    }, Gio.IOErrorEnum.CLOSED, 'recv_async at EOF');
});

test('recv_async through Gio._promisify', () => {
    Gio._promisify(Mp.Pipe.prototype, 'recv_async', 'recv_finish');
    const [a, b] = newPair(true);
    const loop = new GLib.MainLoop(null, false);
    let got = null;
    b.recv_async(S, null).then(v => {
        got = v;
        loop.quit();
    }, e => {
        got = e;
        loop.quit();
    });
    a.send(str('promised'), null);
    runLoop(loop);
    assert(got instanceof GLib.Variant, `got ${got}`);
    assertEqual(got.get_string()[0], 'promised');
});

test('a pipe end sent through a pipe in one process', () => {
    const [a, b] = newPair(true);
    const [r, w] = newPair(false);
    a.send(w.to_variant(), null);
    let reference = b.recv(new GLib.VariantType('(sh)'), null);
    const w2 = Mp.Pipe.new_from_variant(reference);
    assert(w2 !== w, 'a new object');
    assertEqual([w2.readable, w2.writable], [false, true]);
    // The copy is its own end: closing the original leaves it working.
    w.close();
    w2.send(str('by the copy'), null);
    assertEqual(recvString(r), 'by the copy');
    w2.close();
    // The received reference owns the descriptor that came with it, until
    // its last reference goes: in GJS, with the garbage collector.
    reference = null;
    System.gc();
    assertEqual(r.poll(TIMEOUT), true, 'no EOF (a bug)');
    assertIOError(() => r.recv(null, null), Gio.IOErrorEnum.CLOSED);
});

test('new_from_variant refuses what is no pipe reference', () => {
    // fd 0 is no SOCK_SEQPACKET socket; a string is no reference at all.
    for (const v of [new GLib.Variant('(sh)', ['mp:pipe:rw', 0]), str('nope')])
        assertIOError(() => Mp.Pipe.new_from_variant(v), Gio.IOErrorEnum.INVALID_ARGUMENT, v.print(true));
});

test('50 pipe pairs made, used and dropped leave no descriptor behind', () => {
    const usePairs = n => {
        for (let i = 0; i < n; i++) {
            const [a, b] = newPair(i % 2 === 0);
            const [sender, receiver] = a.writable ? [a, b] : [b, a];
            sender.send(new GLib.Variant('i', i), null);
            assertEqual(receiver.recv(null, null).get_int32(), i);
            // Over 64 KiB: travels in a sealed memfd.
            const big = new Uint8Array(100 * 1024).fill(i);
            sender.send_bytes(new GLib.Bytes(big), null);
            // toArray(), not get_size(): GJS 1.74 never frees a GLib.Bytes
            // on which an introspected method was called, and this one
            // holds the memfd it came in.
            const got = receiver.recv_bytes(null).toArray();
            assertEqual(got.length, big.length);
            assertEqual(got[got.length - 1], i);
            // A pipe end through the pipe: its descriptor is dup'd.
            const [r, w] = newPair(false);
            sender.send(w.to_variant(), null);
            const w2 = Mp.Pipe.new_from_variant(receiver.recv(null, null));
            w2.send(new GLib.Variant('i', i), null);
            assertEqual(r.recv(null, null).get_int32(), i);
            if (i % 3 === 0) {
                for (const end of [a, b, r, w, w2])
                    end.close();
            }
        }
        // Dropped objects go with the garbage collector.
        System.gc();
        H.drainMainContext();
        System.gc();
    };

    // Warm up anything allocated once.
    usePairs(1);
    const before = H.countFds();
    usePairs(50);
    const after = H.countFds();
    if (after !== before)
        printerr(H.listFds().join('\n'));
    assertEqual(after, before, 'open descriptors');
});

// ---- across processes, in each start method -----------------------------------------

for (const [m, method] of METHODS) {
    test(`${m}: father and son (seed 001)`, () => {
        const [father, son] = newPair(true);
        const p = start(method, 'son', new GLib.Variant('(v)', [son.to_variant()]));
        assertEqual(recvString(father), 'Hello Father');
        father.send(str('Hi my son!'), null);
        assertEqual(recvString(father), 'From Father:Hi my son!');
        joinOk(p);
    });

    test(`${m}: duplex, the parent receives after join (seed 003)`, () => {
        const [pA, pB] = newPair(true);
        const p = start(method, 'seed-duplex', new GLib.Variant('(v)', [pA.to_variant()]));
        pB.send(new GLib.Variant('ai', [1, 2, 3, 4, 5]), null);
        joinOk(p);
        assertEqual(recvWithin(pB).deepUnpack(), ['a', 'b', 'c', 'd']);
    });

    test(`${m}: half-duplex, p_a receives in the child, p_b sends (seed 003)`, () => {
        const [pA, pB] = newPair(false);
        const p = start(method, 'half-duplex-reader', GLib.Variant.new_tuple([pA.to_variant()]));
        assertIOError(() => pB.recv(null, null), Gio.IOErrorEnum.NOT_SUPPORTED, 'recv on p_b');
        pB.send(new GLib.Variant('ai', [1, 2, 3, 4, 5]), null);
        joinOk(p);
    });

    test(`${m}: a pipe end in a subclass property`, () => {
        const [a, b] = newPair(true);
        const p = new PipeWorker({conn: b, start_method: method});
        assert(p.conn === b, 'the property holds the end');
        p.start();
        assertEqual(recvString(a), 'from the property');
        a.send(str('ping'), null);
        assertEqual(recvString(a), 'echo:ping');
        joinOk(p);
    });

    test(`${m}: a pipe end sent through a pipe`, () => {
        const [a, b] = newPair(true);
        const [innerR, innerW] = newPair(false);
        const p = start(method, 'relay', new GLib.Variant('(v)', [b.to_variant()]));
        a.send(innerW.to_variant(), null);
        // Our copy can go: the child has its own now.
        innerW.close();
        assertEqual(recvString(innerR), 'through the pipe');
        joinOk(p);
        // The child's copy went with it: nothing holds the sending end now.
        assertEqual(innerR.poll(TIMEOUT), true, 'no EOF (a bug)');
        assertIOError(() => innerR.recv(null, null), Gio.IOErrorEnum.CLOSED);
    });

    test(`${m}: 16 MiB from the child, byte for byte`, () => {
        const [r, w] = newPair(false);
        const p = start(method, 'send-big',
            GLib.Variant.new_tuple([w.to_variant(), new GLib.Variant('t', BIG_SIZE)]));
        assertEqual(r.poll(TIMEOUT), true, 'nothing arrived (a bug)');
        // toArray() rather than GLib.Bytes methods, which GJS 1.74 leaks.
        const got = r.recv_bytes(null).toArray();
        assertEqual(got.length, BIG_SIZE);
        const offset = checkPattern(got);
        assertEqual(offset, -1, 'first differing byte');
        joinOk(p);
    });

    test(`${m}: a child killed after 3 values: they arrive whole, then EOF`, () => {
        const [r, w] = newPair(false);
        const p = start(method, 'send-then-die', new GLib.Variant('(v)', [w.to_variant()]));
        // Our copy of the sending end would keep the pipe open.
        w.close();
        for (let i = 0; i < 3; i++)
            assertEqual(recvWithin(r, new GLib.VariantType('i')).get_int32(), i);
        assertEqual(r.poll(TIMEOUT), true, 'no EOF (a bug)');
        assertIOError(() => r.recv(null, null), Gio.IOErrorEnum.CLOSED);
        assertEqual(p.join(TIMEOUT), true);
        assertEqual(p.exitcode, -9);
    });
}

H.run();
