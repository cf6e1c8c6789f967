// pipe-father-son.js: mirrors seed 001 §5 "进程之间的数据通讯": Father and Son
// run in two children joined by a duplex pipe. The son says 'Hello
// Father', the father answers 'Hi my son!'. (The seed forgot to join them;
// here the main program does.)
//
// A pipe end reaches a task inside its arguments as end.to_variant(); the
// child gets the end back with Mp.Pipe.new_from_variant().
//
//   MP_START_METHOD=fork|spawn|forkserver gjs pipe-father-son.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

// The pipe end a task was given as its argument, a '(v)' tuple.
const pipeArg = args => Mp.Pipe.new_from_variant(args.get_child_value(0).get_variant());

Mp.register_task('Son', (args, _cancellable) => {
    const pipe = pipeArg(args);
    pipe.send(new GLib.Variant('s', 'Hello Father'), null);  // 向父亲发送 `Hello Father`
    print(`From Father:${pipe.recv(null, null).deepUnpack()}`);  // 接收父亲发过来的 `Hi my son!`
    return null;
});

Mp.register_task('Father', (args, _cancellable) => {
    const pipe = pipeArg(args);
    print(`From Son:${pipe.recv(null, null).deepUnpack()}`);  // 接收儿子发来的 (print flushes)
    pipe.send(new GLib.Variant('s', 'Hi my son!'), null);  // 发送给儿子, 说 `Hi my son!`
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

// father, son = Pipe(). GJS also returns new_pair()'s (skipped) boolean.
const [, father, son] = Mp.Pipe.new_pair(true);
const f = Mp.Process.new('Father', new GLib.Variant('(v)', [father.to_variant()]));  // 父亲的进程
const s = Mp.Process.new('Son', new GLib.Variant('(v)', [son.to_variant()]));  // 儿子的进程
f.start();
s.start();
for (const p of [f, s]) {
    p.join(-1);
    p.check_error();  // throws the child's error, if it had one
}
