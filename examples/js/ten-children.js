// ten-children.js: mirrors seed 000's second example (多个子进程只需要for循环):
// start ten children in a loop, keep them in a list, join them all.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs ten-children.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;
const System = imports.system;

const getpid = () => Gio.Credentials.new().get_unix_pid();  // GJS has no os.getpid()

// 子进程要执行的代码
Mp.register_task('run_proc', (args, _cancellable) => {
    const [name] = args.deepUnpack();
    print(`Run child process ${name} (${getpid()})...`);
    return null;
});

Mp.init(ARGV);

print(`Parent process ${getpid()}.`);

const processList = [];
for (let i = 0; i < 10; i++) {
    const p = Mp.Process.new('run_proc', new GLib.Variant('(s)', ['test']));
    print(`${i}th Child process will start.`);
    p.start();  // 进程开始
    processList.push(p);
}

let failed = false;
for (const p of processList) {
    p.join(-1);  // 等待进程结束
    if (p.exitcode !== 0) {
        printerr(`${p.name} exited with ${p.exitcode}`);
        failed = true;
    }
}

print('Done.');
if (failed)
    System.exit(1);
