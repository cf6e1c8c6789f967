// pool-thirty.js: mirrors seed 004 "进程池": a pool of 3 processes prints the
// numbers 0 to 29, one apply_async(f, (i,)) each; f prints its number and a
// space, without a newline. After close() and join() all thirty are on one
// line, in the order the workers ran them; the parent ends it and prints
// "Done." (the seed ends there, in its screenshot at the shell prompt).
//
// GJS's print() always ends the line, so f writes to standard output itself
// (file descriptor 1, unbuffered: nothing waits in a buffer).
//
// The seed passes no callback and so never sees a call fail. Here each
// apply_async() has one that checks the result: a failure is printed and the
// exit status is 1. The callbacks come in this thread's main context, so a
// main loop runs until the pool is joined (join_async()) and every callback
// has run.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pool-thirty.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;
const System = imports.system;

const N_CALLS = 30;

// def f(i): print(i, end=' ')
Mp.register_task('f', (args, _cancellable) => {
    const [i] = args.deepUnpack();
    const stdout = new Gio.UnixOutputStream({fd: 1, close_fd: false});
    stdout.write_all(new TextEncoder().encode(`${i} `), null);
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

const pool = Mp.Pool.new(3);  // 初始化一个 3 个进程的进程池

const loop = new GLib.MainLoop(null, false);
let pending = 0;  // apply_async() calls whose callback has not run
let joined = false;
let error = null;  // the first failure
const maybeQuit = () => {
    if ((pending === 0 && joined) || error !== null)
        loop.quit();
};

for (let i = 0; i < N_CALLS; i++) {
    pending++;
    // 调用 apply 方法开始处理任务，传入任务处理函数 f，和参数 i
    pool.apply_async('f', new GLib.Variant('(i)', [i]), null, (source, result) => {
        try {
            source.apply_finish(result);
        } catch (e) {
            error ??= e;
        }
        pending--;
        maybeQuit();
    });
}
pool.close();
pool.join_async(null, (source, result) => {
    try {
        joined = source.join_finish(result);
    } catch (e) {
        error ??= e;
    }
    maybeQuit();
});
loop.run();

print('');  // ends the line of numbers
if (error !== null) {
    printerr(`pool-thirty.js: ${error.message}`);
    System.exit(1);
}
print('Done.');
