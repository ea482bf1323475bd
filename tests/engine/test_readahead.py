"""ReadAhead: items in order from a thread of their own, a bounded number ahead; the producer's
error raised in the consumer as the same exception; closing stops and joins the producer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from syncline.engine.readahead import ReadAhead


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_items_come_in_order_from_another_thread_and_the_thread_ends() -> None:
    made_on: set[int] = set()

    def source() -> Iterator[int]:
        for i in range(50):
            made_on.add(threading.get_ident())
            yield i

    with ReadAhead(source, name="t-order") as items:
        assert list(items) == list(range(50))
    assert made_on and threading.get_ident() not in made_on
    assert not _threads("t-order")


def _until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_never_more_than_ahead_items_beyond_the_one_taken() -> None:
    produced = 0

    def source() -> Iterator[int]:
        nonlocal produced
        for i in range(10):
            produced += 1
            yield i

    with ReadAhead(source, ahead=2, name="t-ahead") as items:
        it = iter(items)
        assert next(it) == 0
        _until(lambda: produced >= 3)  # the two items ahead of item 0 ...
        time.sleep(0.2)
        assert produced == 3  # ... and no more until one is taken
        assert next(it) == 1
        _until(lambda: produced >= 4)
        time.sleep(0.2)
        assert produced == 4


class Boom(Exception):
    pass


def test_the_producers_error_is_raised_in_the_consumer_after_the_items_before_it() -> None:
    error = Boom("chunk 3 could not be read")
    closed_on: list[int] = []

    def source() -> Iterator[int]:
        try:
            yield 1
            yield 2
            raise error
        finally:
            closed_on.append(threading.get_ident())

    got: list[int] = []
    with pytest.raises(Boom) as raised, ReadAhead(source, name="t-error") as items:
        for i in items:
            got.append(i)
    assert raised.value is error  # the very exception, not a wrapper
    assert got == [1, 2]
    assert closed_on and closed_on[0] != threading.get_ident()  # closed where it was opened
    assert not _threads("t-error")


def test_closing_early_stops_the_producer_and_closes_its_iterator_on_its_thread() -> None:
    produced = 0
    closed_on: list[int] = []

    def source() -> Iterator[int]:
        nonlocal produced
        try:
            while True:
                produced += 1
                yield produced
        finally:
            closed_on.append(threading.get_ident())

    with ReadAhead(source, name="t-close") as items:
        for i in items:
            if i == 3:
                break
    assert not _threads("t-close")  # joined when the `with` ended
    assert produced <= 4  # the one taken and at most one ahead: not the endless rest
    assert closed_on and closed_on[0] != threading.get_ident()


def test_an_error_in_the_consumer_stops_the_producer_too() -> None:
    def source() -> Iterator[int]:
        yield from range(1_000_000)

    with pytest.raises(KeyError), ReadAhead(source, name="t-consumer-error") as items:
        for i in items:
            if i == 5:
                raise KeyError(i)
    assert not _threads("t-consumer-error")


def test_closing_without_reading_ends_the_thread() -> None:
    with ReadAhead(lambda: iter(range(10)), name="t-unread"):
        pass
    assert not _threads("t-unread")
