"""Test doubles: scripted backends and worlds that stand in for a model, in one place.

Registered by name in tests (``backends._REGISTRY["name"] = "tests.doubles.<module>:<factory>"``)
or used directly; none of them ships in the package.
"""
