"""The business rules of returns, in plain Python.

Facts go in as frozen dataclasses, a verdict comes out. Nothing here may import FastAPI,
SQLAlchemy or pydantic: a test walks the imports to keep it so.
"""
