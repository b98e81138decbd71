"""Webhook subscriptions: who wants which events, at which URL."""
