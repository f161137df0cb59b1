from cloud_ingest.evidence.render import table, width


def test_double_width_characters_align() -> None:
    assert width("设备 device") == 11
    lines = table(["设备 device", "n"], [["灌装线", 1], ["mixer", 22]]).splitlines()
    starts = [width(line) - width(line.split()[-1]) for line in lines]
    assert starts == [13, 13, 13, 13]  # the second column starts at the same display column
