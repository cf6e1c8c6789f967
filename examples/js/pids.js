// pids.js: mirrors seed 001 §3 "进程的简单使用": the main process prints its
// parent's PID (os.getppid) and its own (os.getpid), then a child prints
// the same two. The child also prints Mp.parent_pid(): the process that
// started it through libmp. With fork and spawn that is getppid(); with
// forkserver getppid() is the server, and only Mp.parent_pid() names the
// main process.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pids.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;

// GJS has no os.getpid() and os.getppid().
const getpid = () => Gio.Credentials.new().get_unix_pid();

function getppid() {
    // /proc/self/stat: "pid (comm) state ppid ..."; comm may hold spaces.
    const [, contents] = GLib.file_get_contents('/proc/self/stat');
    const stat = new TextDecoder().decode(contents);
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

Mp.register_task('run', (_args, _cancellable) => {
    print(`Child: parent PID (getppid): ${getppid()}`);  // 父进程的PID
    print(`Child: PID (getpid): ${getpid()}`);  // 当前进程的PID
    print(`Child: libmp parent PID (parent_pid): ${Mp.parent_pid()}`);
    return null;
});

Mp.init(ARGV);

const methodNames = {
    [Mp.StartMethod.FORK]: 'fork',
    [Mp.StartMethod.SPAWN]: 'spawn',
    [Mp.StartMethod.FORKSERVER]: 'forkserver',
};
print(`Start method: ${methodNames[Mp.get_start_method()]}`);
print(`Parent PID of the main process: ${getppid()}`);  // 主进程的父进程PID
print(`PID of the main process: ${getpid()}`);  // 主进程的PID
print(`${'_'.repeat(20)}\n`);

const p = Mp.Process.new('run', null);
p.start();
print(`Started child process ${p.pid}.`);
// No join, as in the seed: like Python, libmp waits at exit for the
// children that are not daemonic.
