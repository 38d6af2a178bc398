"""The soak's report: exact and max-stale pollers side by side, each with p50, p99 and requests/s."""

from bench.soak import SoakResult, report


def test_the_soak_reports_exact_and_stale_dashboards_apart() -> None:
    result = SoakResult(
        events_sent=1050,
        distinct=1000,
        accepted=1000,
        duplicates=50,
        stored=1000,
        seconds=10.0,
        samples=[(0.0, 0, 100.0), (5.0, 500, 120.0), (10.0, 1000, 121.0)],
        oldest_age=2,
    )
    # 100 exact reads of 1..100 ms, 40 stale ones of 5 ms and one of 900 ms.
    result.latencies["exact"] = [float(ms) for ms in range(100, 0, -1)]
    result.latencies["max-stale=2"] = [5.0] * 40 + [900.0]
    table, _ = report(result, "sqlite+aiosqlite:///soak.db", 1000)

    assert table.row("dashboard p50 during ingest, exact").app == 50.5
    assert table.row("dashboard p99 during ingest, exact").app == 100.0  # the 100th of 100
    assert table.row("dashboards a second, exact (2 clients)").app == 10.0  # 100 in 10 s
    assert table.row("dashboard p50 during ingest, max-stale=2").app == 5.0
    assert table.row("dashboard p99 during ingest, max-stale=2").app == 900.0
    assert table.row("dashboards a second, max-stale=2 (2 clients)").app == 4.1
    assert table.row("largest age of a max-stale=2 answer").met is True

    result.oldest_age = 3
    table, _ = report(result, "sqlite+aiosqlite:///soak.db", 1000)
    assert table.row("largest age of a max-stale=2 answer").met is False
