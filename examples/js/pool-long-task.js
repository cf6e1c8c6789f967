// pool-long-task.js: mirrors seed 000's 进程池 example: a Pool(4) gets five
// long_time_task calls through apply_async(), so the fifth waits for a free
// worker; close() and join() wait for them all.
//
// Each task prints its number and its worker's pid, sleeps a random time
// (random() * 0.3 s here, against the seed's 3 s, to keep the test short)
// and prints how long it ran.
//
// The seed passes no callback and so never sees a task fail. Here each
// apply_async() has one that checks the result: a failure is printed and the
// exit status is 1. The callbacks come in this thread's main context, so a
// main loop runs until the pool is joined (join_async()) and every callback
// has run.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pool-long-task.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;
const System = imports.system;

const getpid = () => Gio.Credentials.new().get_unix_pid();  // GJS has no os.getpid()
const N_TASKS = 5;

Mp.register_task('long_time_task', (args, _cancellable) => {
    const [name] = args.deepUnpack();
    print(`Run task ${name} (${getpid()})...`);
    const start = GLib.get_monotonic_time();
    GLib.usleep(Math.random() * 0.3 * GLib.USEC_PER_SEC);
    const end = GLib.get_monotonic_time();
    print(`Task ${name} runs ${((end - start) / GLib.USEC_PER_SEC).toFixed(2)} seconds.`);
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

print(`Parent process ${getpid()}.`);
const p = Mp.Pool.new(4);  // 实例化进程池并指定同时执行的子进程数量

const loop = new GLib.MainLoop(null, false);
let pending = 0;  // apply_async() calls whose callback has not run
let joined = false;
let error = null;  // the first failure
const maybeQuit = () => {
    if ((pending === 0 && joined) || error !== null)
        loop.quit();
};

for (let i = 0; i < N_TASKS; i++) {  // 这里指定5，所以第五个任务不是与前四个同时执行
    pending++;
    p.apply_async('long_time_task', new GLib.Variant('(i)', [i]), null, (pool, result) => {
        try {
            pool.apply_finish(result);
        } catch (e) {
            error ??= e;
        }
        pending--;
        maybeQuit();
    });
}
print('Waiting for all subprocesses done...');
p.close();
p.join_async(null, (pool, result) => {
    try {
        joined = pool.join_finish(result);
    } catch (e) {
        error ??= e;
    }
    maybeQuit();
});
loop.run();

if (error !== null) {
    printerr(`pool-long-task.js: ${error.message}`);
    System.exit(1);
}
print('All subprocesses done.');
