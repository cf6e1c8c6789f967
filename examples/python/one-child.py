#!/usr/bin/python3
# one-child.py: mirrors seed 000 "多进程模版" (the same example is seed 003
# §9.3), followed by seed 004's hello('shiyanlou'): the parent starts one
# child, waits for it with join, and goes on.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 one-child.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


# 子进程要执行的代码: the code the child runs. @Mp.task registers it, so that
# a child started with spawn or forkserver can find it by name.
@Mp.task
def run_proc(name):
    print("Run child process %s (%s)..." % (name, os.getpid()))


# Seed 004
@Mp.task
def hello(name):
    print("child process: {}".format(os.getpid()))
    print("Hello " + name)


# Tasks first, then Mp.init(): a spawn child runs this file again up to
# here and becomes the worker; a forkserver child is a copy of it as it is
# now.
Mp.init()


def run_in_child(target, args):
    p = Mp.Process(target=target, args=args)
    p.start()  # 进程开始
    p.join()  # 等待进程结束
    p.check_error()  # raises the child's error, if it had one
    if p.exitcode != 0:
        sys.exit(f"{p.name} exited with {p.exitcode}")


def main():
    # Seed 000
    print("Parent process %s." % os.getpid())
    print("Child process will start.")
    run_in_child(run_proc, ("test",))
    print("Child process end.")

    # Seed 004: args 参数要以 tuple 方式传入
    run_in_child(hello, ("shiyanlou",))
    print("parent process: {}".format(os.getpid()))


if __name__ == "__main__":
    main()
