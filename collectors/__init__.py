"""Protocol collectors: one subpackage per protocol behind the interface in ``base``.

A protocol is one line in the registry (`device_profiles.protocols`) and a package here whose
``plugin.py`` says how to build its collector, check its options and discover a device (see
README.md, "How to add a protocol"); `make_collector` picks the package by the profile's
protocol and imports it only then.
"""

from __future__ import annotations

from collectors.base import Collector, CollectorError, DeviceUnreachable, ReadFailed
from collectors.registry import make_collector
from wire.sample import Quality, Sample

__all__ = [
    "Collector",
    "CollectorError",
    "DeviceUnreachable",
    "Quality",
    "ReadFailed",
    "Sample",
    "make_collector",
]
