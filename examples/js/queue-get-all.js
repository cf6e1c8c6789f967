// queue-get-all.js: mirrors seed 001 "4.进程之间的数据交互": two processes put
// a name each into a queue; once both are joined, the parent takes
// everything out (the seed's get_all() hook) and prints the list. Which
// name comes first is up to the scheduler.
//
// The seed stops when queue.empty() says so. Across processes qsize() and
// empty() are only approximate (a put or get under way in another process
// is not counted yet); here they would be exact, the producers being
// joined, but the reliable way is to get without blocking until the queue
// says it is empty: Gio.IOErrorEnum.WOULD_BLOCK, Python's Empty.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs queue-get-all.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;

// 简单的小钩子,用于快速将数据做成一个列表返回。
function getAll(queue) {
    const q = [];
    for (;;) {
        try {
            q.push(queue.get(false, 0, null).unpack());  // get_nowait()
        } catch (e) {
            if (!e.matches?.(Gio.IOErrorEnum, Gio.IOErrorEnum.WOULD_BLOCK))
                throw e;
            return q;
        }
    }
}

Mp.register_task('run', (args, _cancellable) => {
    const q = Mp.Queue.new_from_variant(args.get_child_value(0).get_variant());
    q.put(args.get_child_value(1), true, -1, null);
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

const q = Mp.Queue.new(0);
const process1 = Mp.Process.new('run', new GLib.Variant('(vs)', [q.to_variant(), 'XeanYu']));
const process2 = Mp.Process.new('run', new GLib.Variant('(vs)', [q.to_variant(), 'XY']));
process1.start();
process2.start();

for (const p of [process1, process2]) {
    p.join(-1);
    p.check_error();  // throws the child's error, if it had one
}

const li = getAll(q);
print(new GLib.Variant('as', li).print(false));  // as Python prints a list of strings
