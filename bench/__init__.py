"""The district-scale benchmark: `python -m bench --help`."""
