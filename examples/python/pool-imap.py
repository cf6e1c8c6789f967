#!/usr/bin/python3
# pool-imap.py: mirrors seed 000's imap example: foo(param) over the params
# (i, i + 1) for i in range(10), through imap(), which gives each result
# as soon as it and those before it are done, in the order of the params,
# where map() would wait for them all. The seed's foo unpacks arg1, arg2
# and does nothing (pass), and nothing takes imap()'s results; here foo
# returns arg1 * arg2 and the parent prints each result as it comes, then
# closes and joins the pool (Pool(8), as in the seed).
#
# One difference with Python: the params are read at once (the library
# takes an array), while the calls still go to the workers a few at a
# time, ahead of the results taken.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pool-imap.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


def foo(param):
    arg1, arg2 = param
    return arg1 * arg2


Mp.init()  # functions first, then Mp.init()

if __name__ == "__main__":
    params = []
    for i in range(10):
        params.append((i, i + 1))
    with Mp.Pool(8) as pool:
        for (arg1, arg2), result in zip(params, pool.imap(foo, params)):
            print(f"foo({arg1}, {arg2}) = {result}")
        pool.close()
        pool.join()
    print("imap done.")
