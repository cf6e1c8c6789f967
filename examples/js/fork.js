// fork.js: mirrors seed 003 §9.1's os.fork() demo. GJS has no fork(): a
// JS engine's helper threads make forking it unsafe in general. libmp's
// Mp.Process.new_for_func() forks anyway (the fork start method, whatever
// the default or MP_START_METHOD) and runs a closure in the child, which
// is as close as gjs gets. There is no "returns twice" to show: the
// parent learns the child's PID from the process object.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, Mp} = imports.gi;
const System = imports.system;

const getpid = () => Gio.Credentials.new().get_unix_pid();  // GJS has no os.getpid()

Mp.init(ARGV);

print(`Process (${getpid()}) start...`);

// The closure runs in the forked child; the child exits when it returns.
// Mp.parent_pid() is the process that started it: here, by a plain fork,
// what os.getppid() would say.
const p = Mp.Process.new_for_func(_process => {
    print(`I am child process (${getpid()}) and my parent is ${Mp.parent_pid()}.`);
    return true;
});
p.start();
print(`I (${getpid()}) just created a child process (${p.pid}).`);

p.join(-1);
print(`Child ${p.pid} exited with status ${p.exitcode}.`);
if (p.exitcode !== 0)
    System.exit(1);
