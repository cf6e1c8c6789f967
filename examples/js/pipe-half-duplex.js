// pipe-half-duplex.js: mirrors seed 003 §9.7 "半双工通信": with
// Pipe(duplex=False) the first end, p_a, only receives and the second, p_b,
// only sends. The child receives on p_a what the parent sends on p_b.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pipe-half-duplex.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

Mp.register_task('run', (args, _cancellable) => {
    const pA = Mp.Pipe.new_from_variant(args.get_child_value(0).get_variant());
    const recv = pA.recv(null, null);  // 子进程接收主进程发的数据
    print(`Child received (p_a): ${recv.print(false)}`);
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

// p_a 只能收, p_b 只能发. GJS also returns new_pair()'s (skipped) boolean.
const [, pA, pB] = Mp.Pipe.new_pair(false);
const p = Mp.Process.new('run', new GLib.Variant('(v)', [pA.to_variant()]));
p.start();
const data = new GLib.Variant('ai', [1, 2, 3, 4, 5]);
print(`Parent sends (p_b): ${data.print(false)}`);  // print flushes: the child prints next
pB.send(data, null);  // 主进程向子进程发数据
p.join(-1);
p.check_error();  // throws the child's error, if it had one
print('Parent ends');  // 主进程结束
