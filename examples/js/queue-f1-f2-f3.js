// queue-f1-f2-f3.js: mirrors seed 004 "进程间通信 / Queue, 情况1": process f1
// puts 'Hello shiyanlou' into a queue, f3 puts 'charu', f2 gets one of them
// (whichever came first) and prints it. Then the parent prints whether the
// queue is empty: it is not, one item is left.
//
// The seed prints queue.empty() without joining the processes, so what it
// prints depends on how far they got; here the parent joins all three
// first, and the answer is always False. As in pipe-f1-f2.js, the queue
// goes to the tasks as an argument rather than as a global.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs queue-f1-f2-f3.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

// The queue a task was given as its argument, a '(v)' tuple.
const queueArg = args => Mp.Queue.new_from_variant(args.get_child_value(0).get_variant());

Mp.register_task('f1', (args, _cancellable) => {
    queueArg(args).put(new GLib.Variant('s', 'Hello shiyanlou'), true, -1, null);
    return null;
});

Mp.register_task('f3', (args, _cancellable) => {
    queueArg(args).put(new GLib.Variant('s', 'charu'), true, -1, null);
    return null;
});

Mp.register_task('f2', (args, _cancellable) => {
    const data = queueArg(args).get(true, -1, null).unpack();
    print(data);
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

const queue = Mp.Queue.new(0);
const processes = ['f1', 'f3', 'f2'].map(
    task => Mp.Process.new(task, new GLib.Variant('(v)', [queue.to_variant()])));
for (const p of processes)
    p.start();
for (const p of processes) {  // the seed does not join; we do
    p.join(-1);
    p.check_error();  // throws the child's error, if it had one
}
print(queue.empty() ? 'True' : 'False');  // as Python prints queue.empty()
