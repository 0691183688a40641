from __future__ import annotations

import asyncio

import pytest

from jupyter_huddle.collab.errors import SaveError
from jupyter_huddle.collab.files.saver import SaveScheduler


class Recorder:
    def __init__(self, fail_times: int = 0) -> None:
        self.saves: list[float] = []
        self.fail_times = fail_times
        self.saved = asyncio.Event()

    async def __call__(self) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise SaveError("disk full")
        self.saves.append(asyncio.get_running_loop().time())
        self.saved.set()


async def run_with(scheduler: SaveScheduler):
    return asyncio.create_task(scheduler.run())


async def test_saves_after_quiet_period():
    rec = Recorder()
    saver = SaveScheduler(rec, quiet_s=0.05, max_delay_s=1, retry_delay_s=0.01)
    task = await run_with(saver)
    start = asyncio.get_running_loop().time()
    saver.mark_dirty()
    async with asyncio.timeout(2):
        await rec.saved.wait()
    assert rec.saves[0] - start >= 0.05
    assert not saver.dirty
    task.cancel()


async def test_continuous_edits_still_save_by_the_maximum_delay():
    rec = Recorder()
    saver = SaveScheduler(rec, quiet_s=0.1, max_delay_s=0.3, retry_delay_s=0.01)
    task = await run_with(saver)
    start = asyncio.get_running_loop().time()

    async def typist() -> None:
        while True:
            saver.mark_dirty()
            await asyncio.sleep(0.02)  # the workload: a keystroke every 20 ms

    typing = asyncio.create_task(typist())
    async with asyncio.timeout(2):
        await rec.saved.wait()
    typing.cancel()
    task.cancel()
    assert rec.saves[0] - start < 0.3 + 0.15


async def test_failed_save_stays_dirty_and_is_retried():
    rec = Recorder(fail_times=2)
    saver = SaveScheduler(rec, quiet_s=0.01, max_delay_s=0.02, retry_delay_s=0.01)
    task = await run_with(saver)
    saver.mark_dirty()
    async with asyncio.timeout(3):
        await rec.saved.wait()
    assert not saver.dirty
    assert saver.last_error is None
    task.cancel()


async def test_save_now_reports_failure_and_keeps_changes():
    rec = Recorder(fail_times=1)
    saver = SaveScheduler(rec, quiet_s=10, max_delay_s=10, retry_delay_s=10)
    saver.mark_dirty()
    with pytest.raises(SaveError):
        await saver.save_now()
    assert saver.dirty
    assert saver.last_error == "disk full"
    await saver.save_now()
    assert not saver.dirty


async def test_one_save_at_a_time_and_changes_during_a_save_stay_dirty():
    running = 0
    peak = 0
    gate = asyncio.Event()

    async def slow_save() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1

    saver = SaveScheduler(slow_save, quiet_s=10, max_delay_s=10, retry_delay_s=1)
    saver.mark_dirty()
    first = asyncio.create_task(saver.save_now())
    await asyncio.sleep(0)
    saver.mark_dirty()
    second = asyncio.create_task(saver.save_now())
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(first, second)
    assert peak == 1
    assert not saver.dirty
