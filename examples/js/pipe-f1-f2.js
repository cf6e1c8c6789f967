// pipe-f1-f2.js: mirrors seed 004 "进程间通信 / Pipe": process f1 writes
// 'Hello shiyanlou' into one end of a pipe, process f2 reads it from the
// other end and prints it.
//
// The seed makes conn1, conn2 = Pipe() at module level and its tasks use
// them as globals. In libmp only a forked child would share such a pipe (a
// spawn child runs this file again and would make a pipe of its own), so
// the ends go to the tasks as arguments instead. The output is the same.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pipe-f1-f2.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

// The pipe end a task was given as its argument, a '(v)' tuple.
const pipeArg = args => Mp.Pipe.new_from_variant(args.get_child_value(0).get_variant());

Mp.register_task('f1', (args, _cancellable) => {
    pipeArg(args).send(new GLib.Variant('s', 'Hello shiyanlou'), null);
    return null;
});

Mp.register_task('f2', (args, _cancellable) => {
    const data = pipeArg(args).recv(null, null).deepUnpack();
    print(data);
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

// GJS also returns new_pair()'s (skipped) boolean.
const [, conn1, conn2] = Mp.Pipe.new_pair(true);
const processes = [
    Mp.Process.new('f1', new GLib.Variant('(v)', [conn1.to_variant()])),
    Mp.Process.new('f2', new GLib.Variant('(v)', [conn2.to_variant()])),
];
for (const p of processes)
    p.start();
for (const p of processes) {  // the seed does not join; we do
    p.join(-1);
    p.check_error();  // throws the child's error, if it had one
}
