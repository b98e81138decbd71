"""What merchants watch: statistics of returns, kept as rollups beside the rows."""
