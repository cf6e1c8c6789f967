// lock.js: mirrors seed 003 §9.4 "进程锁": five processes share one Lock;
// each takes it, sleeps a moment, prints its label and pid, and lets it
// go, so only one of them is ever between acquire and release.
//
// The seed sleeps a second inside the lock; an example need not wait that
// long, 0.05 s shows the same. The main program also prints each child's
// pid as it starts it, so the output shows who printed what.
//
// A lock reaches a task inside its arguments as lock.to_variant() (in a
// 'v'); the child gets the same lock back with
// Mp.Shareable.new_from_variant().
//
//   MP_START_METHOD=fork|spawn|forkserver gjs lock.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;

const getpid = () => Gio.Credentials.new().get_unix_pid();  // GJS has no os.getpid()

Mp.register_task('run', (args, _cancellable) => {
    const label = args.get_child_value(0).unpack();
    const lock = Mp.Shareable.new_from_variant(args.get_child_value(1).get_variant());
    lock.acquire(-1, null);  // 获取锁
    GLib.usleep(50000);
    // 中间的任务，不可能同时多个进程任务执行 (print flushes)
    print(`${label} ${getpid()}`);
    lock.release();  // 释放锁
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

print(`Main process: ${getpid()}`);
const lock = Mp.Lock.new();  // 创建进程锁
const recode = [];  // 用于存储所有的进程
for (let i = 0; i < 5; i++) {  // 创建多个子进程
    const label = `Child process ${i}`;
    const p = Mp.Process.new('run', new GLib.Variant('(sv)', [label, lock.to_variant()]));
    p.start();
    print(`Started ${label} (${p.pid}).`);
    recode.push(p);
}
for (const p of recode) {  // 等待进程结束
    p.join(-1);
    p.check_error();  // throws the child's error, if it had one
    if (p.exitcode !== 0)  // a crash (killed by a signal) has no error to throw
        throw new Error(`${p.name} (pid ${p.pid}) exited with ${p.exitcode}`);
}
