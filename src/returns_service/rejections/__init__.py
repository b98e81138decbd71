"""The standard rejection reasons merchants pick from."""
