"""Carriers: their signed tracking events (inbound webhooks at /v1/webhooks/logistics) and
what those events do to the returns a parcel carries."""
