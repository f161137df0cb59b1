"""One subscription per session, run through the raw service interface (``Client.uaclient``)
so notifications reach us as plain (handle, RawValue) pairs, without a task or object per
change: the collector drains them with `Subscription.changes`."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from typing import Any

from collectors.base import DeviceUnreachable
from collectors.opcua.convert import RawValue
from collectors.opcua.items import MonitorSpec
from collectors.opcua.uaclient.api import code_name, ua
from collectors.opcua.uaclient.nodes import raw_of, resolve_all, unknown_namespace
from collectors.opcua.uaclient.session import UaSession

_DEADBAND = {"absolute": 1, "percent": 2}
_FILTER_REFUSED = (
    "BadMonitoredItemFilterUnsupported",
    "BadFilterNotAllowed",
    "BadDeadbandFilterInvalid",
    "BadMonitoredItemFilterInvalid",
)
_ITEMS_PER_REQUEST = 1000


class Subscription:
    """Monitored items of one session; `changes` raises DeviceUnreachable once it is lost."""

    def __init__(self, session: UaSession) -> None:
        self.session = session
        self.filter_fallbacks: list[int] = []  # handles whose deadband the server refused
        self._id: int | None = None
        self._pending: list[tuple[int, RawValue]] = []
        self._wake = asyncio.Event()
        session.when_lost(self._wake.set)

    async def create(self, specs: Sequence[MonitorSpec], *, publishing_ms: float) -> dict[int, RawValue]:
        """Create the subscription and its monitored items; returns the items the server
        refused (handle -> status). A refused deadband is retried without a filter."""
        s = self.session
        keepalive = max(1, math.ceil(10_000 / publishing_ms))
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=publishing_ms,
            RequestedLifetimeCount=keepalive * 6,
            RequestedMaxKeepAliveCount=keepalive,
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
        )
        result = await s.call(s.client.uaclient.create_subscription(params, self._on_publish), "subscribe")
        self._id = result.SubscriptionId
        s.subscription_ids.append(result.SubscriptionId)
        failed: dict[int, RawValue] = {}
        todo = []
        for spec, nid in zip(specs, resolve_all([sp.node for sp in specs], s.namespaces), strict=True):
            if nid is None:
                failed[spec.handle] = unknown_namespace()
            else:
                todo.append((spec, nid))
        retry = await self._create_items(todo, failed, with_filter=True)
        if retry:
            self.filter_fallbacks = [sp.handle for sp, _ in retry]
            await self._create_items(retry, failed, with_filter=False)
        return failed

    async def _create_items(
        self, items: list[tuple[MonitorSpec, ua.NodeId]], failed: dict[int, RawValue], *, with_filter: bool
    ) -> list[tuple[MonitorSpec, ua.NodeId]]:
        s = self.session
        retry = []
        for start in range(0, len(items), _ITEMS_PER_REQUEST):
            chunk = items[start : start + _ITEMS_PER_REQUEST]
            params = ua.CreateMonitoredItemsParameters()
            params.SubscriptionId = self._id
            params.TimestampsToReturn = ua.TimestampsToReturn.Both
            params.ItemsToCreate = [_item_request(sp, nid, with_filter=with_filter) for sp, nid in chunk]
            results = await s.call(s.client.uaclient.create_monitored_items(params), "subscribe")
            for (spec, nid), res in zip(chunk, results, strict=True):
                code = res.StatusCode.value
                if res.StatusCode.is_good():
                    continue
                if with_filter and spec.deadband_type != "none" and code_name(code) in _FILTER_REFUSED:
                    retry.append((spec, nid))
                else:
                    failed[spec.handle] = RawValue(value=None, code=code, code_name=code_name(code),
                                                   source_ts=None, server_ts=None)
        return retry

    def _on_publish(self, result: ua.PublishResult) -> None:
        for notif in result.NotificationMessage.NotificationData or []:
            if isinstance(notif, ua.DataChangeNotification):
                self._pending.extend((item.ClientHandle, raw_of(item.Value)) for item in notif.MonitoredItems)
            elif isinstance(notif, ua.StatusChangeNotification) and not notif.Status.is_good():
                self.session.mark_lost(f"subscription ended by {code_name(notif.Status.value)}")
        self._wake.set()

    async def changes(self, *, timeout: float) -> list[tuple[int, RawValue]]:
        """Notifications since the last call, waiting up to ``timeout`` for the first;
        raises DeviceUnreachable once the session is gone."""
        lost = self.session.lost
        if not self._pending and lost is None:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # not wait_for: 3.11's may drop a cancel
                    await self._wake.wait()
            lost = self.session.lost
        if lost is not None and not self._pending:
            raise DeviceUnreachable(f"{self.session.where}: {lost}")
        out, self._pending = self._pending, []
        return out


def _item_request(spec: MonitorSpec, nid: ua.NodeId, *, with_filter: bool) -> ua.MonitoredItemCreateRequest:
    flt: Any = None
    if with_filter and spec.deadband_type != "none":
        flt = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValue,
                                  DeadbandType=_DEADBAND[spec.deadband_type],
                                  DeadbandValue=spec.deadband_value)
    params = ua.MonitoringParameters(ClientHandle=spec.handle, SamplingInterval=spec.sampling_ms,
                                     Filter=flt, QueueSize=spec.queue_size, DiscardOldest=True)
    target = ua.ReadValueId(NodeId=nid, AttributeId=ua.AttributeIds.Value)
    return ua.MonitoredItemCreateRequest(ItemToMonitor=target, MonitoringMode=ua.MonitoringMode.Reporting,
                                         RequestedParameters=params)
