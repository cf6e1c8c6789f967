// harness.js: a tiny test harness for the GJS tests
//
// Load it from a test script (a legacy GJS script, run as `gjs file.js`):
//
//     imports.searchPath.unshift(GLib.path_get_dirname(imports.system.programPath));
//     const H = imports.harness;
//     H.test('name', t => { H.assertEqual(1, 1); t.defer(() => cleanup()); });
//     H.run();   // prints 'N passed, M failed' and exits non-zero on a failure
//
// SPDX-License-Identifier: LGPL-2.1-or-later

/* exported TIMEOUT_SECONDS, test, skip, run, fail, assert, assertEqual,
   assertThrows, assertGError, runLoop, drainMainContext */

const {Gio, GLib} = imports.gi;
const System = imports.system;

// How long a wait for an event may take before the test fails: generous,
// only a bug reaches it.
var TIMEOUT_SECONDS = 60;

const tests = [];

class AssertionError extends Error {
    constructor(message) {
        super(message);
        this.name = 'AssertionError';
    }
}

function describe(value) {
    if (typeof value === 'string')
        return JSON.stringify(value);
    if (value instanceof GLib.Error)
        return `GLib.Error(${GLib.quark_to_string(value.domain)}, ${value.code}, ${JSON.stringify(value.message)})`;
    if (Array.isArray(value))
        return `[${value.map(describe).join(', ')}]`;
    return String(value);
}

function fail(message) {
    throw new AssertionError(message);
}

function assert(condition, message = 'assertion failed') {
    if (!condition)
        fail(message);
}

function equal(a, b) {
    if (Array.isArray(a) && Array.isArray(b))
        return a.length === b.length && a.every((x, i) => equal(x, b[i]));
    return a === b;
}

function assertEqual(actual, expected, message = '') {
    if (!equal(actual, expected))
        fail(`${message ? `${message}: ` : ''}expected ${describe(expected)}, got ${describe(actual)}`);
}

// Calls fn, which must throw; returns what it threw.
function assertThrows(fn, message = 'expected an exception') {
    try {
        fn();
    } catch (e) {
        if (e instanceof AssertionError)
            throw e;
        return e;
    }
    return fail(message);
}

// Calls fn, which must throw a GLib.Error in domain (a quark) with code;
// returns the error.
function assertGError(fn, domain, code, message = '') {
    const prefix = message ? `${message}: ` : '';
    const e = assertThrows(fn, `${prefix}expected a GLib.Error (${GLib.quark_to_string(domain)}, ${code})`);
    if (!(e instanceof GLib.Error))
        fail(`${prefix}expected a GLib.Error (${GLib.quark_to_string(domain)}, ${code}), got ${describe(e)}`);
    if (e.domain !== domain || e.code !== code)
        fail(`${prefix}expected a GLib.Error (${GLib.quark_to_string(domain)}, ${code}), got ${describe(e)}`);
    return e;
}

// Runs loop until something quits it; fails after TIMEOUT_SECONDS.
function runLoop(loop, seconds = TIMEOUT_SECONDS) {
    let timedOut = false;
    const source = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, seconds, () => {
        timedOut = true;
        loop.quit();
        return GLib.SOURCE_REMOVE;
    });
    loop.run();
    if (!timedOut)
        GLib.source_remove(source);
    assert(!timedOut, `timed out after ${seconds} s waiting for an event (a bug)`);
}

// Dispatches whatever the default main context has pending.
function drainMainContext() {
    const context = GLib.MainContext.default();
    while (context.pending())
        context.iteration(false);
}

// fn(t) runs with t.defer(cleanup): cleanups run after the test, last
// first, whether it passed or not.
function test(name, fn) {
    tests.push({name, fn, skip: null});
}

function skip(name, reason, fn) {
    tests.push({name, fn, skip: reason});
}

// Runs the tests, prints 'N passed, M failed' and exits: 0 when none
// failed, 1 otherwise.
// Descriptors of this process: a leak test compares counts, and prints
// the list when they differ.
function countFds() {
    const enumerator = Gio.File.new_for_path('/proc/self/fd').enumerate_children(
        'standard::name', Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
    let n = 0;
    while (enumerator.next_file(null))
        n++;
    enumerator.close(null);
    return n;
}

function listFds() {
    const enumerator = Gio.File.new_for_path('/proc/self/fd').enumerate_children(
        'standard::name', Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
    const out = [];
    let info;
    while ((info = enumerator.next_file(null))) {
        const name = info.get_name();
        let target = '?';
        try {
            target = GLib.file_read_link(`/proc/self/fd/${name}`);
        } catch (e) {}
        out.push(`fd ${name} -> ${target}`);
    }
    enumerator.close(null);
    return out;
}

function run() {
    let passed = 0, failed = 0, skipped = 0;

    tests.forEach(({name, fn, skip: reason}, i) => {
        const n = i + 1;
        if (reason !== null) {
            skipped++;
            print(`ok ${n} - ${name} # SKIP ${reason}`);
            return;
        }
        const cleanups = [];
        const t = {defer: cleanup => cleanups.push(cleanup)};
        const errors = [];
        try {
            fn(t);
        } catch (e) {
            errors.push(e);
        }
        while (cleanups.length > 0) {
            try {
                cleanups.pop()();
            } catch (e) {
                errors.push(e);
            }
        }
        if (errors.length === 0) {
            passed++;
            print(`ok ${n} - ${name}`);
        } else {
            failed++;
            print(`not ok ${n} - ${name}`);
            for (const e of errors) {
                printerr(`# ${name}: ${describe(e)}`);
                if (e && e.stack)
                    printerr(e.stack.trimEnd().replace(/^/gm, '#   '));
            }
        }
    });

    if (skipped > 0)
        print(`# ${skipped} skipped`);
    print(`${passed} passed, ${failed} failed`);
    System.exit(failed > 0 ? 1 : 0);
}

/* exported runUntil, runPromise */

// Iterates the default main context until condition() holds; fails after
// seconds (TIMEOUT_SECONDS).
function runUntil(condition, seconds = TIMEOUT_SECONDS) {
    let timedOut = false;
    const source = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, seconds, () => {
        timedOut = true;
        return GLib.SOURCE_REMOVE;
    });
    const context = GLib.MainContext.default();
    while (!condition() && !timedOut)
        context.iteration(true);
    if (!timedOut)
        GLib.source_remove(source);
    assert(!timedOut, `timed out after ${seconds} s waiting for an event (a bug)`);
}

// Iterates the default main context until promise settles; returns what it
// resolved to, or throws what it was rejected with. Fails after seconds
// (TIMEOUT_SECONDS).
function runPromise(promise, seconds = TIMEOUT_SECONDS) {
    let settled = false, rejected = false, value;
    promise.then(v => {
        value = v;
        settled = true;
    }, e => {
        value = e;
        rejected = true;
        settled = true;
    });
    runUntil(() => settled, seconds);
    if (rejected)
        throw value;
    return value;
}
