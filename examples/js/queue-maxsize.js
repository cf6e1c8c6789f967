// queue-maxsize.js: mirrors seed 003 §9.7 "队列(Queue)": a queue of at most 3
// items, 5 processes that each put "pid time" into it and 5 that each get
// one item and print it. Two producers wait in put() until a consumer has
// made room.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs queue-maxsize.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;

const getpid = () => Gio.Credentials.new().get_unix_pid();  // GJS has no os.getpid()

// The queue a task was given as its argument, a '(v)' tuple.
const queueArg = args => Mp.Queue.new_from_variant(args.get_child_value(0).get_variant());

Mp.register_task('put_data', (args, _cancellable) => {
    const data = `${getpid()} ${Date.now() / 1000}`;  // 拼接数据
    print(`Put data: ${data}`);  // 压入数据
    queueArg(args).put(new GLib.Variant('s', data), true, -1, null);
    return null;
});

Mp.register_task('get_data', (args, _cancellable) => {
    const data = queueArg(args).get(true, -1, null).unpack();
    print(`Got data: ${data}`);  // 读取数据
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

const q = Mp.Queue.new(3);  // 创建队列

const record1 = [];
for (let i = 0; i < 5; i++) {  // 创建5个进程用于写数据
    const p = Mp.Process.new('put_data', new GLib.Variant('(v)', [q.to_variant()]));
    p.start();
    record1.push(p);
}

const record2 = [];
for (let i = 0; i < 5; i++) {  // 创建5个进程用于读数据
    const p = Mp.Process.new('get_data', new GLib.Variant('(v)', [q.to_variant()]));
    p.start();
    record2.push(p);
}

for (const p of [...record1, ...record2]) {
    p.join(-1);
    p.check_error();  // throws the child's error, if it had one
}
