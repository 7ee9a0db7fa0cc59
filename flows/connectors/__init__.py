"""Thin Bytewax source and sink partitions around pulsearb's plain readers and writers.

Only this package and ``flows/build.py`` import bytewax.
"""
