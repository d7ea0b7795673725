"""Provider adapters, one per provider, behind the small interface in `base`.

Each adapter imports its provider SDK; import an adapter only from the worker that uses it.
"""
