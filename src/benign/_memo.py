"""A small cache keyed by the identity of an object that the caller treats as immutable.

Entries hold a weak reference to the object, so a hit is the same object (an ``id`` reused after the object was
collected does not match) and the cache never keeps an object alive.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable, Hashable


class IdentityCache:
    """``get(obj, key, compute)``: ``compute()`` for ``(id(obj), key)``, remembered for the ``size`` most recently used entries while
    ``obj`` lives. Thread-safe (two threads may both compute a missing entry; the results are equal)."""

    def __init__(self, size: int) -> None:
        self._size = int(size)
        self._entries: "OrderedDict[tuple, tuple[weakref.ref, Any]]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, obj: Any, key: Hashable, compute: Callable[[], Any]) -> Any:
        full = (id(obj), key)
        with self._lock:
            hit = self._entries.get(full)
        if hit is not None and hit[0]() is obj:
            with self._lock:
                if full in self._entries:
                    self._entries.move_to_end(full)  # least recently used first out
            return hit[1]
        value = compute()
        with self._lock:
            self._entries[full] = (weakref.ref(obj), value)
            self._entries.move_to_end(full)
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
