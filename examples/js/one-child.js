// one-child.js: mirrors seed 000 "多进程模版" (the same example is seed 003
// §9.3), followed by seed 004's hello('shiyanlou'): the parent starts one
// child, waits for it with join, and goes on.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs one-child.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;
const System = imports.system;

const getpid = () => Gio.Credentials.new().get_unix_pid();  // GJS has no os.getpid()

// 子进程要执行的代码: the code the child runs. A task gets its arguments as
// a GLib.Variant tuple, as Python's target gets args=('test',).
Mp.register_task('run_proc', (args, _cancellable) => {
    const [name] = args.deepUnpack();
    print(`Run child process ${name} (${getpid()})...`);
    return null;
});

// Seed 004
Mp.register_task('hello', (args, _cancellable) => {
    const [name] = args.deepUnpack();
    print(`child process: ${getpid()}`);
    print(`Hello ${name}`);
    return null;
});

// Tasks first, then Mp.init(): a spawn child runs this file again up to
// here and becomes the worker; with forkserver, so does the server, and
// each child is a copy of it.
Mp.init(ARGV);

function runInChild(task, args) {
    const p = Mp.Process.new(task, args);
    p.start();   // 进程开始
    p.join(-1);  // 等待进程结束
    p.check_error();  // throws the child's error, if it had one
    if (p.exitcode !== 0) {
        printerr(`${p.name} exited with ${p.exitcode}`);
        System.exit(1);
    }
}

// Seed 000
print(`Parent process ${getpid()}.`);
print('Child process will start.');
runInChild('run_proc', new GLib.Variant('(s)', ['test']));
print('Child process end.');

// Seed 004
runInChild('hello', new GLib.Variant('(s)', ['shiyanlou']));
print(`parent process: ${getpid()}`);
