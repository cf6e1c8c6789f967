// pool-map.js: mirrors seed 002's first example, Pool 的数据并行:
//
//     with Pool(5) as p:
//         print(p.map(f, [1, 2, 3]))
//
// f(x) = x*x runs in the pool's workers over [1, 2, 3]; map() waits and
// gives the results in the order of the items: [1, 4, 9]. Leaving the with
// block terminates the pool; here terminate() does.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pool-map.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

// def f(x): return x*x
Mp.register_task('f', (x, _cancellable) => new GLib.Variant('x', x.get_int64() ** 2));

Mp.init(ARGV);  // tasks first, then Mp.init()

const p = Mp.Pool.new(5);
// Each item of the array is the argument of one call of f.
const results = p.map('f', new GLib.Variant('ax', [1, 2, 3]), 0, null);
print(`[${results.deepUnpack().join(', ')}]`);  // as Python prints the list
p.terminate();  // the end of the with block
