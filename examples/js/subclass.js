// subclass.js: mirrors seed 003 §9.5 "自定义进程" (class MyProcess(Process)
// with name and num, whose run() prints '子进程(i)运行中...') and seed 001's
// MyProcess(func), whose run() calls the function it was given.
//
// A subclass of Mp.Process overrides vfunc_run. Its state must be GObject
// properties: with spawn and forkserver the child builds a new MyProcess
// from the type name and the property values; plain JS fields
// (this.x = ...) do not reach it. For the same reason the "function" is
// a registered task, named by a string.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs subclass.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, GObject, Mp} = imports.gi;
const System = imports.system;

const getpid = () => Gio.Credentials.new().get_unix_pid();  // GJS has no os.getpid()

const MyProcess = GObject.registerClass({
    GTypeName: 'MyProcess',
    Properties: {
        // how many lines run prints (seed 003)
        'num': GObject.ParamSpec.int('num', 'Num', 'Lines to print',
            GObject.ParamFlags.READWRITE, 0, GLib.MAXINT32, 1),
        // or: a task for run to call (seed 001)
        'func': GObject.ParamSpec.string('func', 'Func', 'A task to run',
            GObject.ParamFlags.READWRITE, null),
    },
}, class MyProcess extends Mp.Process {
    vfunc_run(cancellable) {
        if (this.func) {
            // def run(self): self.func()
            Mp.run_task(this.func, null, cancellable);
            return;
        }
        for (let i = 0; i < this.num; i++)
            print(`${this.name} (pid ${getpid()}): child (${i}) running...`);  // 子进程(i)运行中...
    }
});

// The function of seed 001, as a task.
Mp.register_task('say_hello', (_args, _cancellable) => {
    print(`${Mp.current_process().name} (pid ${getpid()}): say_hello runs in the child`);
    return null;
});

// The class and the tasks first, then Mp.init().
Mp.init(ARGV);

function startAndJoin(p) {
    print(`Main process: starting ${p.name}...`);  // 主进程{p.name}开始启动...
    p.start();
    p.join(-1);
    p.check_error();
    print(`${p.name} exited with code ${p.exitcode}`);
    if (p.exitcode !== 0)
        System.exit(1);
}

// Seed 003: p = MyProcess('test1') (with num=3 here)
startAndJoin(new MyProcess({name: 'test1', num: 3}));

// Seed 001: MyProcess(run, "XeanYu")
startAndJoin(new MyProcess({name: 'XeanYu', func: 'say_hello'}));
