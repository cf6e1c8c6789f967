// queue-producer-consumer.js: mirrors seed 000 "进程间通信 / Queue模版": two
// producer processes put their names, then 'quit', into one queue; three
// consumer processes get names until they see 'quit', which each puts back
// for the others before it exits.
//
// The seed's consumers poll (`if not get_queue.empty()`) and its producers
// sleep a second after each put. Here a consumer simply blocks in get()
// until an item is there: no busy loop and no sleep.
//
// Without the sleeps, one producer's 'quit' could reach the consumers
// before the other producer has put its names, and they would all exit and
// leave those names in the queue (the seed says its exit condition needs
// adjusting to the numbers of jobs). So the consumers start once the
// producers are joined: every name is then in the queue, ahead of the
// 'quit's put back, and each is got exactly once.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs queue-producer-consumer.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {GLib, Mp} = imports.gi;

// The queue a task was given as its first argument, a 'v'.
const queueArg = args => Mp.Queue.new_from_variant(args.get_child_value(0).get_variant());

Mp.register_task('func_input', (args, _cancellable) => {
    const inputQueue = queueArg(args);
    const [, nameList, i] = args.deepUnpack();
    for (const name of nameList) {
        print(`process ${i} put data ${name}`);
        inputQueue.put(new GLib.Variant('s', name), true, -1, null);
    }
    inputQueue.put(new GLib.Variant('s', 'quit'), true, -1, null);
    print('exit input.');
    return null;
});

Mp.register_task('func_get', (args, _cancellable) => {
    const getQueue = queueArg(args);
    const [, i] = args.deepUnpack();
    for (;;) {
        const item = getQueue.get(true, -1, null);  // blocks until an item is there, instead of polling empty()
        const name = item.unpack();
        if (name === 'quit') {
            getQueue.put(item, true, -1, null);  // for the others
            print('exit get.');
            return null;
        }
        print(`process ${i} get data ${name}`);
    }
});

Mp.init(ARGV);  // tasks first, then Mp.init()

// Starts them all, then joins them all.
function startAndJoin(processList) {
    for (const p of processList)
        p.start();
    for (const p of processList) {
        p.join(-1);
        p.check_error();  // throws the child's error, if it had one
    }
}

const queue = Mp.Queue.new(0);
const nameLists = [['a', 'b', 'c'], ['d', 'e', 'f']];
const numPutJobs = 2;
const numGetJobs = 3;
const producers = [], consumers = [];
for (let i = 0; i < numPutJobs; i++)
    producers.push(Mp.Process.new('func_input', new GLib.Variant('(vasi)', [queue.to_variant(), nameLists[i], i])));
for (let i = 0; i < numGetJobs; i++)
    consumers.push(Mp.Process.new('func_get', new GLib.Variant('(vi)', [queue.to_variant(), i + numPutJobs])));
startAndJoin(producers);  // see above: every name is in, then the consumers start
startAndJoin(consumers);

print('Done.');
