// pool-imap.js: mirrors seed 000's imap example: foo(param) over the params
// (i, i + 1) for i in range(10), through imap(), which gives each result as
// soon as it and those before it are done, in the order of the params, where
// map() would wait for them all. The seed's foo unpacks arg1, arg2 and does
// nothing (pass), and nothing takes imap()'s results; here foo returns
// arg1 * arg2 and the parent prints each result as it comes, then closes and
// joins the pool (Pool(8), as in the seed).
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pool-imap.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

const N_PARAMS = 10;

// def foo(param): arg1, arg2 = param; return arg1 * arg2
Mp.register_task('foo', (param, _cancellable) => {
    const [arg1, arg2] = param.deepUnpack();
    return new GLib.Variant('x', arg1 * arg2);
});

Mp.init(ARGV);  // tasks first, then Mp.init()

const params = [];
for (let i = 0; i < N_PARAMS; i++)
    params.push([i, i + 1]);  // params.append((i, i+1))

const pool = Mp.Pool.new(8);
const results = pool.imap('foo', new GLib.Variant('a(xx)', params), 1);
for (let i = 0; ; i++) {
    // [false, null] at the end; an error is thrown
    const [ok, product] = results.next(-1);
    if (!ok) {
        if (i !== N_PARAMS)
            throw new Error(`${i} results for ${N_PARAMS} params`);
        break;
    }
    print(`foo(${i}, ${i + 1}) = ${product.get_int64()}`);
}
pool.close();
pool.join(-1, null);
print('imap done.');
