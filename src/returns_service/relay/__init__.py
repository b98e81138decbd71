"""The relay: drains the outbox into signed webhook deliveries, retried until they land."""
