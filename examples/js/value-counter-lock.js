// value-counter-lock.js: mirrors seed 004 "进程同步" (the corrected
// example): as value-counter.js, ten processes that each add 1 fifty times
// to a shared Value('i', 0), but each addition happens while holding a
// Lock, so no process reads the value while another is between its read
// and its write: the result is always 500.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs value-counter-lock.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

// The shared object a task was given as its argument number i, in a 'v'.
const shareableArg = (args, i) => Mp.Shareable.new_from_variant(args.get_child_value(i).get_variant());

Mp.register_task('func', (args, _cancellable) => {
    const val = shareableArg(args, 0);
    const lock = shareableArg(args, 1);
    for (let i = 0; i < 50; i++) {
        GLib.usleep(10000);
        // with lock: val.value += 1
        lock.acquire(-1, null);
        try {
            val.set(new GLib.Variant('i', val.get().unpack() + 1));
        } finally {
            lock.release();
        }
    }
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

const v = Mp.Value.new('i', new GLib.Variant('i', 0), true);
const lock = Mp.Lock.new();  // 初始化锁
const procs = [];
for (let i = 0; i < 10; i++)
    procs.push(Mp.Process.new('func', new GLib.Variant('(vv)', [v.to_variant(), lock.to_variant()])));
for (const p of procs)
    p.start();
for (const p of procs) {
    p.join(-1);
    p.check_error();  // throws the child's error, if it had one
    if (p.exitcode !== 0)  // a crash (killed by a signal) has no error to throw
        throw new Error(`${p.name} (pid ${p.pid}) exited with ${p.exitcode}`);
}

print(v.get().unpack());  // print(v.value)
