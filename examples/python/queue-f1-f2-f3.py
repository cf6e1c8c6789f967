#!/usr/bin/python3
# queue-f1-f2-f3.py: mirrors seed 004 "进程间通信 / Queue, 情况1": process f1
# puts 'Hello shiyanlou' into a queue, f3 puts 'charu', f2 gets one of them
# (whichever came first) and prints it. Then the parent prints whether the
# queue is empty: it is not, one item is left.
#
# The seed prints queue.empty() without joining the processes, so what it
# prints depends on how far they got; here the parent joins all three
# first, and the answer is always False. As in pipe-f1-f2.py, the queue
# goes to the tasks as an argument rather than as a global.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 queue-f1-f2-f3.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def f1(q):
    q.put("Hello shiyanlou")


@Mp.task
def f3(q):
    q.put("charu")


@Mp.task
def f2(q):
    data = q.get()
    print(data)


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    queue = Mp.Queue()
    processes = [Mp.Process(target=f, args=(queue,)) for f in (f1, f3, f2)]
    for p in processes:
        p.start()
    for p in processes:  # the seed does not join; we do
        p.join()
        p.check_error()  # raises the child's error, if it had one
    print(queue.empty())
