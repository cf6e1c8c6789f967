#!/usr/bin/python3
# queue-producer-consumer.py: mirrors seed 000 "进程间通信 / Queue模版": two
# producer processes put their names, then 'quit', into one queue; three
# consumer processes get names until they see 'quit', which each puts back
# for the others before it exits.
#
# The seed's consumers poll (`if not get_queue.empty()`) and its producers
# sleep a second after each put. Here a consumer simply blocks in get()
# until an item is there: no busy loop and no sleep.
#
# Without the sleeps, one producer's 'quit' could reach the consumers
# before the other producer has put its names, and they would all exit and
# leave those names in the queue (the seed says its exit condition needs
# adjusting to the numbers of jobs). So the consumers start once the
# producers are joined: every name is then in the queue, ahead of the
# 'quit's put back, and each is got exactly once.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 queue-producer-consumer.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


@Mp.task
def func_input(input_queue, name_list, i):
    for name in name_list:
        print(f"process {i} put data {name}")
        input_queue.put(name)
    input_queue.put("quit")
    print("exit input.")


@Mp.task
def func_get(get_queue, i):
    while True:
        name = get_queue.get()  # blocks until an item is there, instead of polling empty()
        if name == "quit":
            get_queue.put("quit")  # for the others
            print("exit get.")
            break
        print(f"process {i} get data {name}")


Mp.init()  # tasks first, then Mp.init()

if __name__ == "__main__":
    queue = Mp.Queue()
    name_lists = [["a", "b", "c"], ["d", "e", "f"]]
    num_put_jobs = 2
    num_get_jobs = 3
    producers = [Mp.Process(target=func_input, args=(queue, name_lists[i], i))
                 for i in range(num_put_jobs)]
    consumers = [Mp.Process(target=func_get, args=(queue, i + num_put_jobs))
                 for i in range(num_get_jobs)]
    for process_list in (producers, consumers):  # see above: the consumers start
        for p in process_list:                   # once every name is in
            p.start()
        for p in process_list:
            p.join()
            p.check_error()  # raises the child's error, if it had one

    print("Done.")
