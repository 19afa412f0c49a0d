"""Input formats fitpipe reads, one module each; see base.py for the interface and registry.py for the list."""
