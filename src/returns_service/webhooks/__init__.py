"""Inbound webhooks: signed carrier tracking events."""
