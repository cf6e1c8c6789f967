// fork.js: mirrors seed 003 §9.1's os.fork() demo. GJS has no fork(): a
// JS engine's helper threads make forking it unsafe in general. libmp's
// Mp.Process.new_for_func() forks anyway (the fork start method, whatever
// the default) and runs a closure in the child, which is as close as gjs
// gets. There is no "returns twice" to show: the parent learns the
// child's PID from the process object.
//
//   gjs fork.js [--start-method=fork|spawn]
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;
const System = imports.system;

function getpid() {
    return Gio.Credentials.new().get_unix_pid();
}

function getppid() {
    // /proc/self/stat: "pid (comm) state ppid ..."; comm may hold spaces.
    const [, contents] = GLib.file_get_contents('/proc/self/stat');
    const stat = new TextDecoder().decode(contents);
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

Mp.init(ARGV);

// --start-method=fork|spawn: it does not change what new_for_func() does.
for (const arg of ARGV) {
    if (!arg.startsWith('--start-method='))
        continue;
    try {
        Mp.set_start_method(Mp.StartMethod[arg.slice('--start-method='.length).toUpperCase()]);
    } catch (e) {
        printerr(`fork.js: ${e.message}`);
        System.exit(2);
    }
}

print(`Process (${getpid()}) start...`);

// The closure runs in the forked child; the child exits when it returns.
const p = Mp.Process.new_for_func(_process => {
    print(`I am child process (${getpid()}) and my parent is ${getppid()}.`);
    return true;
});
p.start();
print(`I (${getpid()}) just created a child process (${p.pid}).`);

p.join(-1);
print(`Child ${p.pid} exited with status ${p.exitcode}.`);
if (p.exitcode !== 0)
    System.exit(1);
