#!/usr/bin/python3
# pipe-f1-f2.py: mirrors seed 004 "进程间通信 / Pipe": process f1 writes
# 'Hello shiyanlou' into one end of a pipe, process f2 reads it from the
# other end and prints it.
#
# The seed makes conn1, conn2 = Pipe() at module level and its tasks use
# them as globals. In libmp only a forked child would share such a pipe (a
# spawn child runs this file again and would make a pipe of its own), so
# the ends go to the tasks as arguments instead. The output is the same.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pipe-f1-f2.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def f1(conn1):
    conn1.send("Hello shiyanlou")


@Mp.task
def f2(conn2):
    data = conn2.recv()
    print(data)


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    conn1, conn2 = Mp.pipe()
    processes = [Mp.Process(target=f1, args=(conn1,)), Mp.Process(target=f2, args=(conn2,))]
    for p in processes:
        p.start()
    for p in processes:  # the seed does not join; we do
        p.join()
        p.check_error()  # raises the child's error, if it had one
