"""Where model work runs (api._compute): on the event loop while it is short, on the model
thread otherwise, never both at once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from omotenashi.api import _compute
from omotenashi.api._compute import compute, kind


def _where() -> str:
    return threading.current_thread().name


def _burn(ms: float) -> str:
    """Spend ``ms`` of this thread's CPU time; returns where it ran."""
    end = time.thread_time() + ms / 1000.0
    while time.thread_time() < end:
        pass
    return _where()


@pytest.fixture
def limit(monkeypatch):
    monkeypatch.setenv("OMOTENASHI_INLINE_MS", "2")
    monkeypatch.delenv("OMOTENASHI_MODEL_THREADS", raising=False)
    _compute.configure()
    yield 2.0
    monkeypatch.delenv("OMOTENASHI_INLINE_MS")
    _compute.configure()


def test_short_work_moves_onto_the_loop_and_long_work_off_it(limit):
    async def main():
        loop_thread = _where()
        first = await compute(_burn, 0.1)  # nothing measured: the thread (it may build caches)
        short = [await compute(_burn, 0.1) for _ in range(3)]
        long_one = await compute(_burn, 30)  # runs on the loop: the mean was short
        after_long = await compute(_burn, 0.1)  # the mean is now above 2 ms
        settles = [await compute(_burn, 0.1) for _ in range(40)]
        return loop_thread, first, short, long_one, after_long, settles

    loop_thread, first, short, long_one, after_long, settles = asyncio.run(main())
    assert first.startswith("omotenashi-model") and first != loop_thread
    assert short == [loop_thread] * 3
    assert long_one == loop_thread
    assert after_long.startswith("omotenashi-model")
    # 30 ms weighted 0.1 decays below 2 ms within a few dozen short calls, and stays there
    assert settles[-1] == loop_thread and settles[0].startswith("omotenashi-model")
    back = settles.index(loop_thread)
    assert all(w == loop_thread for w in settles[back:])


def test_work_on_the_loop_lets_the_loop_take_a_turn_first(limit):
    """A call that runs on the loop first lets the loop run what is ready (on uvloop, reading
    and starting the requests already in), then runs; the order of the calls is kept."""

    async def main():
        await compute([].append, 0)  # a kind's first call goes to the thread; later ones
        await compute(_where)  # run on the loop
        order = []
        loop = asyncio.get_running_loop()
        loop.call_soon(order.append, "ready before")
        await compute(order.append, "work")
        calls = [compute(order.append, i) for i in range(3)]
        await asyncio.gather(*calls)
        return order, _where(), await compute(_where)

    order, loop_thread, where = asyncio.run(main())
    assert order == ["ready before", "work", 0, 1, 2]
    assert where == loop_thread


def test_zero_sends_everything_to_the_thread(monkeypatch):
    monkeypatch.setenv("OMOTENASHI_INLINE_MS", "0")
    _compute.configure()
    try:

        async def main():
            return [await compute(_where) for _ in range(5)], _where()

        where, loop_thread = asyncio.run(main())
        assert all(w.startswith("omotenashi-model") and w != loop_thread for w in where)
    finally:
        monkeypatch.delenv("OMOTENASHI_INLINE_MS")
        _compute.configure()


def test_while_the_thread_works_short_calls_wait_for_it_then_run_on_the_loop(limit):
    """A short call that arrives while a call is on the thread waits until the thread has
    finished (never on the loop beside it), then runs on the loop; meanwhile nothing more is
    sent to the thread, so it empties."""
    log: list[tuple[str, str]] = []
    release = threading.Event()

    def slow_on_thread():
        log.append(("thread starts", _where()))
        release.wait(5)
        log.append(("thread ends", _where()))

    def short_call():
        log.append(("short call", _where()))

    async def main():
        load = _compute._load()
        load.cpu_ms[kind(slow_on_thread)] = 10.0  # long work: it goes to the thread
        held = asyncio.ensure_future(compute(slow_on_thread))
        while not log:
            await asyncio.sleep(0.001)
        load.cpu_ms[kind(short_call)] = 0.1  # short, but the thread is busy: wait for it
        queued = [asyncio.ensure_future(compute(short_call)) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert [event for event, _ in log] == ["thread starts"]  # nothing beside the thread
        assert load.on_threads == 1  # and nothing sent behind it
        release.set()
        await asyncio.gather(held, *queued)
        return _where()

    loop_thread = asyncio.run(main())
    assert [event for event, _ in log] == ["thread starts", "thread ends"] + ["short call"] * 3
    assert log[0][1].startswith("omotenashi-model")
    assert all(where == loop_thread for _, where in log[2:])


def test_a_waiting_short_call_goes_to_the_thread_when_the_mean_turns_long(limit):
    """A call waiting for the thread to finish (the mean was short) looks again each time one
    of the thread's calls ends: when the mean has turned long it queues on the thread, instead
    of waiting for a thread that a stream of long calls keeps busy for as long as it lasts."""
    release = threading.Event()
    stream_done: list[int] = []

    async def stream(load):
        for i in range(40):  # always a call on the thread, and the mean kept long
            load.cpu_ms[kind(_burn)] = 50.0
            await compute(_burn, 1)
            stream_done.append(i)

    def hold():
        release.wait(5)

    async def main():
        load = _compute._load()
        load.cpu_ms[kind(hold)] = 10.0
        held = asyncio.ensure_future(compute(hold))
        while not load.on_threads:
            await asyncio.sleep(0.001)
        load.cpu_ms[kind(_where)] = 0.1  # short: the next call waits for the thread
        waiting = asyncio.ensure_future(compute(_where))
        await asyncio.sleep(0.02)
        assert not waiting.done()
        load.cpu_ms[kind(_where)] = 50.0
        streams = [asyncio.ensure_future(stream(load)) for _ in range(2)]
        await asyncio.sleep(0.01)
        release.set()
        where = await waiting
        finished_before = len(stream_done)
        await asyncio.gather(held, *streams)
        return where, _where(), finished_before

    where, loop_thread, finished_before = asyncio.run(main())
    assert where.startswith("omotenashi-model") and where != loop_thread
    assert finished_before < 10  # it did not wait for the stream to end (80 calls)


def test_a_load_sustained_from_its_start_moves_onto_the_loop(limit):
    """32 callers at once from the start, each calling again as soon as answered (a load
    generator's connections): the first calls go to the thread (nothing is measured yet), and
    once the mean is known to be short the rest run on the loop, the thread's few calls done.
    (Sending calls to the thread while it had any kept it busy for as long as the load
    lasted.)"""
    done: list[str] = []

    async def caller():
        for _ in range(20):
            done.append(await compute(_burn, 0.2))

    async def main():
        await asyncio.gather(*(caller() for _ in range(32)))
        return _where()

    loop_thread = asyncio.run(main())
    assert len(done) == 640
    on_thread = [w for w in done if w != loop_thread]
    assert len(on_thread) <= 32  # the first burst, before the first call was measured
    assert done[-320:] == [loop_thread] * 320


def test_errors_pass_through_either_way(limit):
    def fails():
        raise ValueError("bad request")

    async def main():
        for _ in range(3):  # first on the thread, then on the loop
            with pytest.raises(ValueError, match="bad request"):
                await compute(fails)
        return _compute._load().cpu_ms.get(kind(fails))

    assert asyncio.run(main()) is not None  # refusals count as work


@pytest.mark.parametrize("bad", ["-1", "soon", "inf"])
def test_a_bad_inline_limit_is_refused(monkeypatch, bad):
    monkeypatch.setenv("OMOTENASHI_INLINE_MS", bad)
    with pytest.raises(Exception, match="OMOTENASHI_INLINE_MS"):
        _compute.configure()
    monkeypatch.delenv("OMOTENASHI_INLINE_MS")
    _compute.configure()


@pytest.mark.parametrize(("on_server", "limit_ms"), [(False, _compute.INLINE_MS), (True, 0.0)])
def test_short_work_runs_on_the_loop_by_default_on_an_embedded_store_only(
    monkeypatch, on_server, limit_ms
):
    """Unset, the limit is 2 ms on an embedded store (model work moves onto the loop once the
    first call is measured) and 0 on a database server, whose round trips would stall the loop
    (all work on the thread); ``serve --loop auto`` picks the loop to match."""
    monkeypatch.delenv("OMOTENASHI_INLINE_MS", raising=False)
    _compute.configure(on_server=on_server)
    try:
        assert _compute._INLINE_MS == limit_ms

        async def main():
            return [await compute(_where) for _ in range(4)], _where()

        where, loop_thread = asyncio.run(main())
        assert where[0].startswith("omotenashi-model")  # nothing measured yet
        if on_server:
            assert all(w.startswith("omotenashi-model") for w in where)
        else:
            assert where[1:] == [loop_thread] * 3
        assert _compute.auto_loop(on_server) == ("uvloop" if on_server else "asyncio")
        monkeypatch.setenv("OMOTENASHI_INLINE_MS", "0" if not on_server else "2")
        assert _compute.auto_loop(on_server) == ("asyncio" if on_server else "uvloop")
    finally:
        monkeypatch.delenv("OMOTENASHI_INLINE_MS", raising=False)
        _compute.configure()


def test_each_kind_of_work_has_its_own_mean(limit):
    """Long work of one kind (a page of the access log) goes to the thread from its first call
    on, however short the answers on the loop are; and a bound method of any instance is one
    kind."""

    class Log:
        def entries(self):
            return _burn(5)

    async def main():
        short = [await compute(_where) for _ in range(4)]  # on the loop after the first
        logs = [await compute(Log().entries) for _ in range(3)]  # two instances, one kind
        after = await compute(_where)
        return short, logs, after, _where(), _compute._load().cpu_ms

    short, logs, after, loop_thread, means = asyncio.run(main())
    assert short[1:] == [loop_thread] * 3
    assert all(w.startswith("omotenashi-model") for w in logs)
    assert after == loop_thread  # the log's mean is its own
    assert means[kind(Log.entries)] >= 4.0 and means[kind(_where)] < 2.0
    assert kind(Log().entries) == kind(Log().entries) == kind(Log.entries)
    assert kind([].append) == kind([].append)  # builtin methods too: the means stay few
