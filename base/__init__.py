"""The bottom layer: what every other package shares and nothing below it provides.

Imports point down only (``ops -> flows -> sinks -> schemas -> base``, checked by tests/test_layering.py):
:mod:`base.errors` (the error family), :mod:`base.trace` (trace stage names and hops), :mod:`base.paths` (the
checkout and the state directory), :mod:`base.venues` (AlphaPulse venue ids, which the archive names).
"""
