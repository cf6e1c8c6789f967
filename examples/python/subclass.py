#!/usr/bin/python3
# subclass.py: mirrors seed 003 §9.5 "自定义进程" (class MyProcess(Process)
# with name and num, whose run() prints '子进程(i)运行中...') and seed 001's
# MyProcess(func), whose run() calls the function it was given.
#
# A subclass of Mp.Process overrides do_run (the run vfunc). Its state
# must be GObject properties: with spawn and forkserver the child builds a
# new MyProcess from the type name and the property values; plain
# attributes (self.x = ...) do not reach it. For the same reason the
# "function" is a registered task, named by a string.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 subclass.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

import gi

gi.require_version("Mp", "1")
from gi.repository import GObject, Mp  # noqa: E402


class MyProcess(Mp.Process):
    num = GObject.Property(type=int, default=1)  # how many lines run prints (seed 003)
    func = GObject.Property(type=str)  # or: a task for run to call (seed 001)

    # Every parameter needs a default: when a spawn or forkserver child
    # rebuilds the object, PyGObject calls __init__() with no arguments,
    # and only then are the parent's property values applied.
    def __init__(self, name=None, num=1, func=None):
        super().__init__(name=name, num=num, func=func)

    def do_run(self):
        if self.func:
            # def run(self): self.func()
            Mp.run_task(self.func, None, None)
            return
        for i in range(self.num):
            print(f"{self.name} (pid {os.getpid()}): child ({i}) running...")  # 子进程(i)运行中...


# The function of seed 001, as a task registered under a name of our own
# choosing (@Mp.task would name it "__main__.say_hello").
def say_hello():
    print(f"{Mp.current_process().name} (pid {os.getpid()}): say_hello runs in the child")


Mp.register_task("say_hello", say_hello)


# The class and the tasks first, then Mp.init().
Mp.init()


def start_and_join(p):
    print(f"Main process: starting {p.name}...")  # 主进程{p.name}开始启动...
    p.start()
    p.join()
    p.check_error()
    print(f"{p.name} exited with code {p.exitcode}")
    if p.exitcode != 0:
        sys.exit(1)


def main():
    # Seed 003: p = MyProcess('test1') (with num=3 here)
    start_and_join(MyProcess("test1", 3))

    # Seed 001: MyProcess(run, "XeanYu")
    start_and_join(MyProcess("XeanYu", func="say_hello"))


if __name__ == "__main__":
    main()
