"""Several ``ferry serve`` nodes behind a load balancer, linked by Redis.

Set ``FERRY_REDIS_URL`` (and the same database, keys and ``FERRY_REDIS_PREFIX`` on every
node) and each node builds a :class:`~server.nodes.redis_hub.RedisHub` instead of the
in-process :class:`~server.hub.Hub` (imported only then: a single node never loads the
Redis client). What Redis holds, under the prefix::

    <prefix>bus            pub/sub channel: every hint and order, as JSON envelopes
                           (``wire.py``); every node hears everything and ignores its own
    <prefix>bridge:<id>    hash node, since, presence: which node holds the bridge's
                           socket and its last modem report; renewed every 5 s, expires
                           after 15 s (a dead node's entries vanish on their own)
    <prefix>t:<name>:<h>   shared throttles and handshake slots (``limits.py``)

The database stays the truth. A hint is only a wake-up: a missed one costs latency, never
data, because followers catch up from their cursors. So losing Redis degrades, and
nothing is lost or doubled: every node notices (its subscription breaks), polls the
database every 2 s for the accounts its browsers follow (``catchup.py``), wakes its
outbox pumps, checks its bridges for revocation, and limits on its own counts; it
reconnects with backoff, and once subscribed again resynchronises (registry entries,
device views, one more poll) and live push resumes.
"""
