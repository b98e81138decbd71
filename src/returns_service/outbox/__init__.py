"""The transactional outbox: every change of a return becomes an event for subscribers."""
