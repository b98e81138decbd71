"""What an operator sees of the service: request ids, JSON logs, metrics, traces."""
