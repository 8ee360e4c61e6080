"""Doing jobs: the write-before-send create path, reuse, waiting, pacing, quotes and batches.

Uses the client and the store; knows nothing of notebooks, widgets or pandas.
"""
