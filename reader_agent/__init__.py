"""The desk card-reader agent: reads ID cards at a station desk and posts them to the server.

Stand-alone on purpose: it imports nothing of the server and speaks plain HTTP
(urllib), so it runs on a desk PC with only Python and, for PC/SC readers, pyscard.
Run it with `python -m reader_agent --help`.
"""

__version__ = "1.0.0"
