"""The after-sales assistant (售后小助手): each shop's rules for acting on new returns."""
