"""Child processes that never outlive the process that started them.

A query worker or the parser process may be in the middle of a query that runs for minutes
(pyoxigraph never checks signals): if the web process that owns it is killed, the child would
go on alone, holding a core and a copy of the store. On Linux, ``die_with_parent()`` asks the
kernel to SIGKILL the calling process when its parent dies (``prctl(PR_SET_PDEATHSIG)``); a
granian worker process, which holds the query workers, asks the same of granian's main process.
Elsewhere it does nothing, and a child notices its parent's end only when its pipe closes.

The kernel sends that signal when the *thread* that started the child ends, not the process:
a worker started by a short-lived thread (a restart, a request thread of the web server) would
be killed with it. So every such child is started by :func:`spawn`, from one thread that lives
as long as the process.

>>> die_with_parent() in (True, False)
True
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import signal
import subprocess
import sys
import threading

__all__ = ["die_with_parent", "spawn"]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Be killed (SIGKILL) when the parent process ends; True where the system allows it.

    Called in the child itself, first thing. If the parent is already gone (the child was
    reparented before it could ask), the child exits at once.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if parent == 1 or os.getppid() != parent:
        os._exit(1)
    return True


_spawns: queue.Queue = queue.Queue()
_spawner: threading.Thread | None = None
_spawner_lock = threading.Lock()


def _forget_spawner() -> None:
    """In a forked child: a spawner of its own, on a queue and lock of its own. The parent's,
    copied as they were at the fork, would wake the parent's thread, which the child lacks."""
    global _spawns, _spawner, _spawner_lock
    _spawns, _spawner, _spawner_lock = queue.Queue(), None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_spawner)


def _spawn_forever() -> None:
    while True:
        args, kwargs, future = _spawns.get()
        try:
            future.set_result(subprocess.Popen(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            future.set_exception(error)


def spawn(*args, **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(*args, **kwargs)``, started from this process's long-lived spawner thread.

    >>> spawn([sys.executable, "-c", "pass"]).wait()
    0
    """
    global _spawner
    with _spawner_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_spawn_forever, name="kg-spawner", daemon=True)
            _spawner.start()
    future: concurrent.futures.Future = concurrent.futures.Future()
    _spawns.put((args, kwargs, future))
    return future.result()
