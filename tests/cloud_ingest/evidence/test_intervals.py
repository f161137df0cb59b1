from cloud_ingest.evidence.intervals import ceil_to, clip, expand, floor_to, intersect, merge, subtract, total


def test_merge_sorts_joins_and_drops_empty() -> None:
    assert merge([(5, 7), (0, 2), (2, 3), (4, 4), (6, 9)]) == [(0, 3), (5, 9)]
    assert merge([(0, 2), (3, 4)], join_within=1) == [(0, 4)]


def test_subtract_cuts_holes_and_edges() -> None:
    assert subtract([(0, 10)], [(2, 3), (5, 7), (9, 12)]) == [(0, 2), (3, 5), (7, 9)]
    assert subtract([(0, 10)], []) == [(0, 10)]
    assert subtract([(0, 10)], [(-5, 20)]) == []


def test_intersect_and_clip() -> None:
    assert intersect([(0, 5), (8, 12)], [(3, 10)]) == [(3, 5), (8, 10)]
    assert clip([(0, 5), (8, 12)], 4, 9) == [(4, 5), (8, 9)]


def test_total_counts_overlaps_once() -> None:
    assert total([(0, 5), (3, 8)]) == 8


def test_rounding_and_expand() -> None:
    assert (floor_to(125, 60), ceil_to(125, 60), ceil_to(120, 60)) == (120, 180, 120)
    assert expand([(61, 62), (130, 170)], 60) == [(60, 120), (120, 180)] or expand(
        [(61, 62), (130, 170)], 60
    ) == [(60, 180)]
    assert expand([(61, 62), (130, 170)], 60) == [(60, 180)]
