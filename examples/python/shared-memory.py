#!/usr/bin/python3
# shared-memory.py: as multiprocessing.shared_memory.SharedMemory is used in
# Python's documentation: the main process creates a block of shared
# memory, a child attaches to it by name and writes a greeting into it
# (with its pid, which only the child knows), and the main process, once
# the child is joined, prints what it finds there.
#
# shm.buf is a writable memoryview over the block itself: what the child
# writes there, the main process sees, without a copy.
#
# Python's SharedMemory(create=True) makes up a name; libmp's makes an
# anonymous block then (name None), which reaches a child only as an
# object passed to it. To open it by name, as here, give it one: this
# one has the main process's pid in it, so that two runs do not collide.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 shared-memory.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def writer(name):
    shm = Mp.SharedMemory(name)  # attach to the existing block
    data = f"Hello from process {os.getpid()}".encode()
    shm.buf[: len(data)] = data
    print(f"Child wrote {len(data)} bytes: {data.decode()}")
    shm.close()


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    print("Main process:", os.getpid())
    name = f"mp-shared-memory-example-{os.getpid()}"
    shm = Mp.SharedMemory(name, create=True, size=64)  # zero-filled
    print(f"Created {shm.size} bytes of shared memory.")
    try:
        p = Mp.Process(target=writer, args=(shm.name,))
        p.start()
        p.join()
        p.check_error()  # raises the child's error, if it had one
        if p.exitcode != 0:  # a crash (killed by a signal) has no error to raise
            sys.exit(f"{p.name} (pid {p.pid}) exited with {p.exitcode}")
        print(f"Child process was {p.pid}.")

        # the text, then the zeros after it
        print("Main process read:", bytes(shm.buf).split(b"\0", 1)[0].decode())
    finally:
        shm.close()
        shm.unlink()  # the name goes; nobody can attach any more
