// pipe-duplex.js: mirrors seed 003 §9.7 "全双工通信": Pipe() is duplex by
// default, so the parent and its child both send and receive on their end.
// The values are GLib.Variants, printed as GLib prints them.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pipe-duplex.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

Mp.register_task('run', (args, _cancellable) => {
    const pA = Mp.Pipe.new_from_variant(args.get_child_value(0).get_variant());
    const recv = pA.recv(null, null);  // 子进程接收主进程发的数据
    print(`Child received: ${recv.print(false)}`);
    const reply = new GLib.Variant('as', ['a', 'b', 'c', 'd']);
    print(`Child sends: ${reply.print(false)}`);
    pA.send(reply, null);  // 子进程给主进程发数据
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

// 创建管道, 默认为全双工. GJS also returns new_pair()'s (skipped) boolean.
const [, pA, pB] = Mp.Pipe.new_pair(true);
const p = Mp.Process.new('run', new GLib.Variant('(v)', [pA.to_variant()]));
p.start();
const data = new GLib.Variant('ai', [1, 2, 3, 4, 5]);
print(`Parent sends: ${data.print(false)}`);  // print flushes: the child prints next
pB.send(data, null);  // 主进程向子进程发数据
p.join(-1);
p.check_error();  // throws the child's error, if it had one
const recv = pB.recv(null, null);  // 主进程接收子进程的数据
print(`Parent received: ${recv.print(false)}`);
print('Parent ends');  // 主进程结束
