// shared-memory.js: Python's multiprocessing.shared_memory.SharedMemory in
// GJS: the main process creates a block of shared memory, a child writes a
// greeting into it (with its pid, which only the child knows), and the
// main process, once the child is joined, prints what it finds there.
//
// The block here is anonymous (Mp.SharedMemory.new(null, ...)): it
// reaches the child by reference in the task's arguments, as a lock or a
// queue does. A named block could be opened by name instead
// (Mp.SharedMemory.open()), as the Python example does.
//
//   MP_START_METHOD=fork|spawn|forkserver gjs shared-memory.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mp = '1';
const {Gio, GLib, Mp} = imports.gi;

const getpid = () => Gio.Credentials.new().get_unix_pid();  // GJS has no os.getpid()

Mp.register_task('writer', (args, _cancellable) => {
    const shm = Mp.Shareable.new_from_variant(args.get_child_value(0).get_variant());
    const data = new TextEncoder().encode(`Hello from process ${getpid()}`);
    shm.write(0, new GLib.Bytes(data));  // shm.buf[:n] = text
    print(`Child wrote ${data.length} bytes: ${new TextDecoder().decode(data)}`);
    shm.close();
    return null;
});

Mp.init(ARGV);  // tasks first, then Mp.init()

print(`Main process: ${getpid()}`);
const shm = Mp.SharedMemory.new(null, 64);  // zero-filled
print(`Created ${shm.get_size()} bytes of shared memory.`);

const p = Mp.Process.new('writer', new GLib.Variant('(v)', [shm.to_variant()]));
p.start();
p.join(-1);
p.check_error();  // throws the child's error, if it had one
if (p.exitcode !== 0)  // a crash (killed by a signal) has no error to throw
    throw new Error(`${p.name} (pid ${p.pid}) exited with ${p.exitcode}`);
print(`Child process was ${p.pid}.`);

// The whole block, without a copy: the text, then the zeros after it.
const block = shm.get_bytes().toArray();
const end = block.indexOf(0);
print(`Main process read: ${new TextDecoder().decode(block.subarray(0, end < 0 ? block.length : end))}`);

shm.close();
shm.unlink();  // for a named block; nothing for this one
