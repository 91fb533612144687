"""Token buckets: the one rate-limiting rule, used for messages and for login attempts."""

from time import monotonic


class TokenBuckets:
    """One bucket per key, refilled at `rate` tokens a second up to `burst`.

    Buckets that have refilled completely hold no information and are dropped
    now and then, so memory follows active keys, not every key ever seen.
    """

    def __init__(self, rate, burst):
        self.rate = rate
        self.burst = burst
        self._buckets = {}  # key -> (tokens, when they were counted)
        self._sweep_at = 1024

    def _level(self, key, now):
        tokens, then = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - then) * self.rate)

    def take(self, key):
        """Take one token for `key`; False (and nothing taken) when the bucket is empty."""
        now = monotonic()
        tokens = self._level(key, now)
        if tokens < 1:
            return False
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) >= self._sweep_at:
            self._sweep(now)
        return True

    def give_back(self, key):
        """Return the token `take` just took for `key`: what it was taken for was refused."""
        if key in self._buckets:
            tokens, then = self._buckets[key]
            self._buckets[key] = (min(self.burst, tokens + 1), then)

    def wait(self, key):
        """Seconds until `key` has a token again (0 when it has one now)."""
        tokens = self._level(key, monotonic())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _sweep(self, now):
        self._buckets = {key: (tokens, then) for key, (tokens, then) in self._buckets.items()
                         if tokens + (now - then) * self.rate < self.burst}
        self._sweep_at = max(1024, 2 * len(self._buckets))
