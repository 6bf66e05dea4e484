"""Live events for the station desks: `publish(channel, event)` and `subscribe(channel)`.

Without REDIS_URL the events travel through in-process queues, which reach only the
clients of the same server process. With REDIS_URL they travel through Redis pub/sub,
so a card read received by one worker reaches the desk pages held open by every other.
Events are small JSON objects without personal data: a desk page that gets one fetches
the details through its own authenticated, scoped request.
"""

import json
import logging
import queue
import threading

from flask import current_app

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "binhai:"
_broker_lock = threading.Lock()


def station_channel(station_id):
    """Return the channel of one station's desks."""
    return f"{CHANNEL_PREFIX}station:{int(station_id)}"


class LocalBroker:
    """Fans events out to subscribers of this process through bounded queues."""

    name = "local"
    queue_size = 256

    def __init__(self):
        self._lock = threading.Lock()
        self._subscribers = {}

    def publish(self, channel, event):
        with self._lock:
            targets = list(self._subscribers.get(channel, ()))
        for target in targets:
            try:
                target.put_nowait(event)
            except queue.Full:
                # A client that stopped reading loses events rather than stalling the publisher.
                log.warning("event subscriber on %s is not reading; event dropped", channel)
        return len(targets)

    def subscribe(self, channel, timeout):
        """Yield None once subscribed, then each event, or None after `timeout` seconds of silence."""
        inbox = queue.Queue(maxsize=self.queue_size)
        with self._lock:
            self._subscribers.setdefault(channel, set()).add(inbox)
        try:
            yield None
            while True:
                try:
                    yield inbox.get(timeout=timeout)
                except queue.Empty:
                    yield None
        finally:
            with self._lock:
                listeners = self._subscribers.get(channel)
                if listeners is not None:
                    listeners.discard(inbox)
                    if not listeners:
                        del self._subscribers[channel]

    def subscriber_count(self, channel):
        with self._lock:
            return len(self._subscribers.get(channel, ()))


class RedisBroker:
    """Carries events between server processes through Redis pub/sub."""

    name = "redis"

    def __init__(self, url):
        import redis

        self._redis = redis
        self.client = redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)

    def publish(self, channel, event):
        try:
            return self.client.publish(channel, json.dumps(event, ensure_ascii=False))
        except self._redis.RedisError as error:
            # The read itself is stored; the desk catches up on its next refresh.
            log.warning("could not publish event on %s: %s", channel, type(error).__name__)
            return 0

    def subscribe(self, channel, timeout):
        """Yield None once Redis confirmed the subscription, then each event, or None after silence."""
        pubsub = self.client.pubsub()
        try:
            pubsub.subscribe(channel)
            self._wait_for_confirmation(pubsub)
            yield None
            while True:
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
                if message is None or message.get("type") != "message":
                    yield None
                    continue
                try:
                    yield json.loads(message["data"])
                except (TypeError, ValueError):
                    log.warning("ignored a malformed event on %s", channel)
        finally:
            pubsub.close()

    @staticmethod
    def _wait_for_confirmation(pubsub, attempts=50):
        # Until Redis confirms, a PUBLISH from another connection could miss this subscriber.
        for _ in range(attempts):
            message = pubsub.get_message(timeout=0.1)
            if message and message.get("type") == "subscribe":
                return
        raise RuntimeError("Redis did not confirm the subscription")


def make_broker(redis_url=None):
    return RedisBroker(redis_url) if redis_url else LocalBroker()


def broker(app=None):
    """Return the app's broker, created on first use from REDIS_URL."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("binhai_events")
    if found is None:
        with _broker_lock:
            found = app.extensions.get("binhai_events")
            if found is None:
                found = app.extensions["binhai_events"] = make_broker(app.config.get("REDIS_URL"))
    return found


def publish(channel, event):
    """Send `event` (a JSON-serialisable dict) to every subscriber of `channel`; return how many."""
    return broker().publish(channel, event)


def subscribe(channel, timeout=None):
    """Return a generator: None once subscribed, then events, and None after each quiet `timeout`."""
    if timeout is None:
        timeout = current_app.config["SSE_HEARTBEAT_SECONDS"]
    return broker().subscribe(channel, timeout)
