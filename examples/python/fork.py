#!/usr/bin/python3
# fork.py: mirrors seed 003 §9.1's os.fork() demo: fork() is called once
# and returns twice, 0 in the child and the child's PID in the parent.
# This is the system call under libmp's fork start method. Mp.init() is
# called as in the other examples: os.fork() works as usual in a program
# that uses libmp, whatever MP_START_METHOD says.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402

Mp.init()


def main():
    print(f"Process ({os.getpid()}) start...")
    # The child gets a copy of sys.stdout's buffer: flush it first, or that
    # line would be printed twice when stdout is a pipe or a file.
    sys.stdout.flush()

    # Only works on Unix/Linux/Mac:
    pid = os.fork()
    print(f"fork() returned {pid}")
    if pid == 0:
        print(f"I am child process ({os.getpid()}) and my parent is {os.getppid()}.")
        sys.stdout.flush()
        os._exit(0)  # not sys.exit: the child must not run the parent's exit handlers

    print(f"I ({os.getpid()}) just created a child process ({pid}).")
    sys.stdout.flush()
    _, status = os.waitpid(pid, 0)
    print(f"Child {pid} exited with status {os.waitstatus_to_exitcode(status)}.")


if __name__ == "__main__":
    main()
