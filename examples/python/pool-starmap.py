#!/usr/bin/python3
# pool-starmap.py: mirrors seed 002's starmap and starmap_async: func(a, b)
# over ((1, 2), (3, 4), (5, 6)), each tuple spread as the arguments of one
# call; both print the list of results, [3, 7, 11].
#
# The seed's func returns a; here it returns a + b, so that the result
# shows both arguments arrived. The seed calls .get() on starmap()'s
# result too, but starmap() returns the list itself (Python's does the
# same): only starmap_async() returns what .get() is called on.
#
#   MP_START_METHOD=fork|spawn|forkserver python3 pool-starmap.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Mp", "1")
from gi.repository import Mp  # noqa: E402


def func(a, b):  # starmap方法允许多个参数
    return a + b


Mp.init()  # functions first, then Mp.init()

if __name__ == "__main__":
    pool = Mp.Pool()
    result = pool.starmap(func, ((1, 2), (3, 4), (5, 6)))
    print("starmap:", result)
    result = pool.starmap_async(func, ((1, 2), (3, 4), (5, 6))).get()
    print("starmap_async:", result)
    pool.close()
    pool.join()
