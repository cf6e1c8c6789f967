// pool-callback.js: mirrors seed 003 §9.6 "进程池": a Pool(4) gets five task
// calls through apply_async() with a callback, which gets the task's return
// value (its number) in the parent; close() and join() wait for them all.
//
// Each task prints its number and its worker's pid, sleeps a random time
// (random() * 0.3 s here, against the seed's 3 s, to keep the test short),
// prints how long it ran and returns its number. The callback prints
// "callback <number>" (the seed prints the bare number).
//
// Python runs the callbacks on a thread of the pool; libmp delivers them in
// the thread-default main context of the caller, so a main loop runs here
// until the pool is joined (join_async()) and every callback has run. A
// failed task is printed and makes the exit status 1 (Python would call its
// error_callback).
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pool-callback.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;
const System = imports.system;

const getpid = () => Gio.Credentials.new().get_unix_pid();  // GJS has no os.getpid()
const N_TASKS = 5;

Mp.register_task('task', (args, _cancellable) => {
    const [num] = args.deepUnpack();
    print(`Run task ${num} (${getpid()})...`);
    const start = GLib.get_monotonic_time();
    GLib.usleep(Math.random() * 0.3 * GLib.USEC_PER_SEC);
    const end = GLib.get_monotonic_time();
    print(`Task ${num} runs ${((end - start) / GLib.USEC_PER_SEC).toFixed(2)} seconds.`);
    return new GLib.Variant('i', num);
});

Mp.init(ARGV);  // tasks first, then Mp.init()

const loop = new GLib.MainLoop(null, false);
let pending = 0;  // apply_async() calls whose callback has not run
let joined = false;
let error = null;  // the first failure
const maybeQuit = () => {
    if ((pending === 0 && joined) || error !== null)
        loop.quit();
};

// The seed's callback(num): runs in the parent with the task's result.
function callback(pool, result) {
    try {
        const num = pool.apply_finish(result);
        print(`callback ${num.unpack()}`);
    } catch (e) {
        error ??= e;
    }
    pending--;
    maybeQuit();
}

print(`cpu count: ${Mp.cpu_count()}`);  // 获取cpu核心数
print(`Parent process ${getpid()}`);
const pool = Mp.Pool.new(4);  // 创建进程池，一般进程池中的进程数不超过cpu核心数
for (let i = 0; i < N_TASKS; i++) {  // 循环创建进程并添加到进程池中
    pending++;
    pool.apply_async('task', new GLib.Variant('(i)', [i]), null, callback);
}
print('Waiting for all subprocess done...');
pool.close();  // 关闭进程池，关闭后就不能添加进程了
pool.join_async(null, (source, result) => {  // 等待进程结束
    try {
        joined = source.join_finish(result);
    } catch (e) {
        error ??= e;
    }
    maybeQuit();
});
loop.run();

if (error !== null) {
    printerr(`pool-callback.js: ${error.message}`);
    System.exit(1);
}
print('All subprocess done.');
