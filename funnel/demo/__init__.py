"""Demo and scale data, identical for the same seed."""
