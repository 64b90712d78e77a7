"""`make bench`: performance figures, one JSON line each, with a baseline measured in the same run."""
