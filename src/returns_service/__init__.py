"""returns_service: after-sales returns for online shops."""
