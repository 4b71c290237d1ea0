"""The charts of echo_lab.watch.charts: content is checked through artists' gids, not pixels."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from echo_lab import charts  # noqa: E402


@pytest.fixture(autouse=True)
def tidy():
    yield
    plt.close("all")


def by_gid(fig, gid):
    found = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]
    assert found, f"no artist with gid {gid!r}"
    return found[0]


def test_outb_draws_each_server_in_mib_and_the_limit():
    fig = charts.outb({"tutorial's server": [(0.0, 0), (0.5, 2 * 2**20)], "fixed server": [(0.0, 0), (0.5, 2**18)]},
                      limit=2**18)
    line = by_gid(fig, "outb tutorial's server")
    assert list(line.get_ydata()) == [0, 2.0]
    assert list(by_gid(fig, "outb fixed server").get_ydata()) == [0, 0.25]
    assert list(by_gid(fig, "limit").get_ydata()) == [0.25, 0.25]
    assert fig.axes[0].get_ylabel() == "outb (MiB)"


def figures(rate, cpu):
    return {"msgs_per_s": rate, "p50_us": 500.0, "p99_us": 2000.0, "cpu_us_per_msg": cpu}


def test_sweep_has_three_log_panels_and_leaves_out_what_was_not_measured():
    conns = [10, 100, 1000]
    results = {("fixed", n): figures(80_000, 6.0) for n in conns}
    results.update({("threads", n): figures(50_000, float("nan") if n == 100 else 10.0) for n in conns})
    fig = charts.sweep(results, ["fixed", "threads"], conns)
    tput, lat, cpu = fig.axes
    assert list(by_gid(fig, "throughput fixed").get_ydata()) == [80.0, 80.0, 80.0]
    assert list(by_gid(fig, "p99 threads").get_ydata()) == [2.0, 2.0, 2.0]
    threads_cpu = by_gid(fig, "cpu threads")
    assert list(threads_cpu.get_xdata()) == [10, 1000]
    assert not any(math.isnan(y) for y in threads_cpu.get_ydata())
    assert by_gid(fig, "throughput fixed").get_color() == charts.SERVER_COLORS["fixed"]
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    assert lat.get_yscale() == "log" and cpu.get_yscale() == "log" and tput.get_yscale() == "linear"
