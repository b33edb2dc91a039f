"""The demo's timing helper, on a fake clock: rounds, blocks and the spread."""
import pytest

from gatedrnn import _timing


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_speedup_in_rounds_reports_the_median_and_the_spread(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(_timing.time, "perf_counter", clock.perf_counter)
    monkeypatch.setattr(_timing.time, "sleep", clock.sleep)
    calls = {"fast": 0, "slow": 0}
    # Round r's slow calls take [10, 40, 20, 30, 50][r] ms; fast calls always 1 ms,
    # except a fast call every 4th that hits a busy machine.
    slow_ms = iter([99] + [10] * 3 + [40] * 3 + [20] * 3 + [30] * 3 + [50] * 3)

    def fast():
        calls["fast"] += 1
        clock.now += 0.005 if calls["fast"] % 4 == 0 else 0.001

    def slow():
        calls["slow"] += 1
        clock.now += next(slow_ms) / 1e3

    s = _timing.speedup_in_rounds(fast, slow, rounds=5, fast_repeat=3, slow_repeat=3)
    assert calls == {"fast": 5 * (1 + 3), "slow": 1 + 5 * 3}   # warm-ups: fast per block, slow once
    assert s.fast_seconds == pytest.approx(0.001)   # the median ignores the busy calls
    assert s.slow_seconds == pytest.approx(0.030)
    assert s.ratio == pytest.approx(30.0)
    assert (s.low, s.high) == (pytest.approx(10.0), pytest.approx(50.0))
