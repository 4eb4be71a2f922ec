"""A realistic synthetic support history for demos, benchmarks and tests.

Not part of the product's analytics: `supportbot demo-data` writes it into the event log,
and reports read it like any other history.
"""
