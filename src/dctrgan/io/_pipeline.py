"""Writing behind production: one background thread consumes the chunks of a stream while
the calling thread produces the next.

The two meet hand to hand: the calling thread hands a chunk over and waits until the
writer has taken it before it produces the next one, so two chunks are alive at a time
(one being written, one being produced), not three as with a chunk waiting in a queue
besides; the throughput is the same, that of the slower side.

Compression (in uproot's ``extend``), decompression and torch release the GIL, so
the writing of one chunk overlaps the reading and weighting of the next on a second core.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ("drain",)

T = TypeVar("T")

#: How often a producer waiting for the writer looks whether it has stopped [s].
_POLL_S = 0.1


class _Done:
    """The end of the stream, as put on the queue."""


_DONE = _Done()


class _Writer(Generic[T]):
    """A daemon thread calling ``sink`` on each chunk handed over through a queue of one."""

    def __init__(self, sink: Callable[[T], object], name: str) -> None:
        self.sink = sink
        self.queue: queue.Queue[T | _Done] = queue.Queue(maxsize=1)
        self.taken = threading.Semaphore(0)  # released as the writer takes an item
        self.stop = threading.Event()  # set by either side: the writer stops taking chunks
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                item = self.queue.get()
                self.taken.release()
                if isinstance(item, _Done) or self.stop.is_set():
                    return
                self.sink(item)
                del item  # not kept alive while the next one is awaited
        except BaseException as err:  # noqa: BLE001 - handed to the calling thread, raised there
            self.error = err
            self.stop.set()

    def put(self, item: T | _Done) -> None:
        """Hand ``item`` over and wait until the writer has taken it (it is done with the
        one before); raise the writer's error if it failed."""
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=_POLL_S)
            except queue.Full:
                continue
            break
        while not self.stop.is_set():
            if self.taken.acquire(timeout=_POLL_S):
                return
        self.raise_error()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        """Stop after the chunk being written (at most one ``sink`` call) and wait for it."""
        self.stop.set()
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(_DONE)  # wakes a writer waiting on an empty queue
        self.thread.join()


def drain(
    items: Iterator[T],
    sink: Callable[[T], object],
    *,
    background: bool = True,
    name: str = "dctrgan-writer",
) -> None:
    """Call ``sink`` on every item of ``items``, in order; with ``background``, in a thread.

    With ``background``, the calling thread takes the items from ``items`` (which may
    read files, run a network, or compute dask partitions there, where its context,
    such as ``torch.no_grad``, holds) and hands them over a queue of one to a daemon
    thread that calls ``sink``, waiting until it is taken before the next is produced.
    At most two items are alive at once: one in ``sink``, one being produced (or
    handed over).

    Errors stop both sides and are raised here as they were raised: one from
    ``items`` (or a ``KeyboardInterrupt``) once the item being written is done,
    without ``sink`` being called again; one from ``sink`` once the item being
    produced is done, without ``items`` being asked for more.

    Args:
        items: the items, in order.
        sink: what is done with each item (say, ``TTree.extend``).
        background: write in a thread; False calls ``sink`` in the calling thread.
        name: the name of the thread.
    """
    if not background:
        for item in items:
            sink(item)
        return
    writer = _Writer(sink, name)
    writer.thread.start()
    try:
        for item in items:
            writer.put(item)
            del item  # the writer alone holds it
            writer.raise_error()  # a failed writer stops the production
        writer.put(_DONE)
        writer.thread.join()
    except BaseException:
        writer.abort()
        raise
    writer.raise_error()
