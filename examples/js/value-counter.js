// value-counter.js: mirrors seed 004 "进程同步" (first example): a counter
// Value('i', 0) in shared memory, ten processes that each add 1 to it
// fifty times, sleeping 0.01 s before each step. Each step reads the value
// and then writes it plus one, with nothing held in between (val.value +=
// 1 in Python), so two processes may read the same value and one of their
// additions is lost: the result is 500 at most, and may be less.
// value-counter-lock.js is the fix (Value.add() would be another: it adds
// in one atomic step).
//
//   MP_START_METHOD=fork|spawn|forkserver gjs value-counter.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

// The shared object a task was given as its argument number i, in a 'v'.
const shareableArg = (args, i) => Mp.Shareable.new_from_variant(args.get_child_value(i).get_variant());

Mp.register_task('func', (args, _cancellable) => {
    const val = shareableArg(args, 0);
    for (let i = 0; i < 50; i++) {
        GLib.usleep(10000);
        // val.value += 1: a read, then a write
        const value = val.get().unpack();
        val.set(new GLib.Variant('i', value + 1));
    }
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

// 多进程无法使用全局变量，Value 可以在多进程中共享这个变量. The value has a
// lock (as Value('i', 0) has), which this example does not use.
const v = Mp.Value.new('i', new GLib.Variant('i', 0), true);
const procs = [];
for (let i = 0; i < 10; i++)
    procs.push(Mp.Process.new('func', new GLib.Variant('(v)', [v.to_variant()])));
for (const p of procs)
    p.start();
for (const p of procs) {
    p.join(-1);
    p.check_error();  // throws the child's error, if it had one
    if (p.exitcode !== 0)  // a crash (killed by a signal) has no error to throw
        throw new Error(`${p.name} (pid ${p.pid}) exited with ${p.exitcode}`);
}

print(v.get().unpack());  // print(v.value)
