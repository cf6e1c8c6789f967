// pool-starmap.js: mirrors seed 002 "使用 Pool 实现多进程的步骤": the task
// function func(a, b) takes several arguments, so it goes through starmap()
// (each item is a tuple of arguments) instead of map(); then through
// starmap_async(), its asynchronous form; then close() and join(). The
// seed's func(x, y) returns x + y; over ((1, 2), (3, 4), (5, 6)) both give
// [3, 7, 11].
//
// (The seed writes pool.starmap(...).get(): starmap() gives the list
// itself; .get() belongs to starmap_async()'s result.) Here the asynchronous
// result comes to a callback in this thread's main context, with
// starmap_finish(); a main loop runs until then.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pool-starmap.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

// def func(a, b): return a + b
Mp.register_task('func', (args, _cancellable) => {
    const [a, b] = args.deepUnpack();
    return new GLib.Variant('x', a + b);
});

Mp.init(ARGV);  // tasks first, then Mp.init()

// print(label, result): the list as Python prints it
const printResult = (label, result) => print(`${label} [${result.deepUnpack().join(', ')}]`);

// 实例化一个进程池: multiprocessing.Pool() has cpu_count() workers
const pool = Mp.Pool.new(0);
const items = new GLib.Variant('a(xx)', [[1, 2], [3, 4], [5, 6]]);

// (2) starmap: blocks until every call is done
printResult('starmap:', pool.starmap('func', items, 0, null));

// (3) starmap_async: the results come to a callback
const loop = new GLib.MainLoop(null, false);
let result = null, error = null;
pool.starmap_async('func', items, 0, null, (source, res) => {
    try {
        result = source.starmap_finish(res);
    } catch (e) {
        error = e;
    }
    loop.quit();
});
loop.run();
if (error !== null)
    throw error;
printResult('starmap_async:', result);

pool.close();
pool.join(-1, null);
