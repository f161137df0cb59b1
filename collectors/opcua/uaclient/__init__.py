"""The asyncua boundary of the collector, by concern:

    api.py           the only module importing asyncua: the names used, the version, error conversion
    session.py       one session: security policy, user token, server trust, bounded service calls
    nodes.py         node ids against the namespace array, DataValue -> RawValue, batched Read
    subscription.py  one subscription of monitored items, notifications as (handle, RawValue)
    browse.py        the address space for discover

Everything it hands out is ours (`RawValue`, `BrowsedVariable`, collector errors); nothing
outside this subpackage imports asyncua on the client side.
"""
