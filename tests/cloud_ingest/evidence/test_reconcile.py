"""Reconciliation: window deltas of the gateway's counters against what the cloud holds."""

from cloud_ingest.evidence.reconcile import (
    DeviceStretch,
    Snapshot,
    StreamStretch,
    reconcile_gateway,
    unexplained,
)


def test_unexplained_is_what_became_unexplained_in_the_window() -> None:
    assert unexplained(None, -40) == 0  # healthy: acknowledged ≤ stored
    assert unexplained(-10, 25) == 25  # a loss in the window
    assert unexplained(30, 30) == 0  # a loss before the window is not counted again
    assert unexplained(30, 45) == 15


def test_gateway_sums_its_streams_and_balance_holds() -> None:
    a = Snapshot(read=100, published=90, dropped={"buffer_full": 5})
    b = Snapshot(read=400, published=380, dropped={"buffer_full": 12, "disk_error": 1}, skipped_polls=2)
    s1 = StreamStretch(
        devices=[DeviceStretch(device="m1", a=a, b=b, stored=290, rejected=0)], u_a=-10, u_b=-5
    )
    s2 = StreamStretch(
        devices=[
            DeviceStretch(device="m1", a=Snapshot(), b=Snapshot(read=50, published=50), stored=50, rejected=0)
        ],
        u_a=None,
        u_b=0,
    )
    r = reconcile_gateway("gw", [s1, s2], reports_from=None, reports_to=None)
    assert (r.read, r.published, r.stored, r.unexplained) == (350, 340, 340, 0)
    assert r.dropped == {"buffer_full": 7, "disk_error": 1}
    assert (r.at_gateway_start, r.at_gateway_end) == (5, 7)
    assert r.read + r.at_gateway_start - r.at_gateway_end == r.published + sum(r.dropped.values())
    assert r.devices[0].skipped_polls == 2


def test_devices_named_only_when_the_gateway_shows_loss() -> None:
    st = StreamStretch(
        devices=[
            DeviceStretch(device="a", a=Snapshot(), b=Snapshot(read=10, published=10), stored=5, rejected=0)
        ],
        u_a=None,
        u_b=5,
    )
    r = reconcile_gateway("gw", [st], device_unexplained={"a": 5}, reports_from=None, reports_to=None)
    assert r.unexplained == 5 and r.devices[0].unexplained == 5
