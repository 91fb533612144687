"""From an accepted frame to every connection that should see it: router, log follower, fan-out, broker, presence."""
