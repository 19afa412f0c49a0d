"""Writers of the synthetic cohort: one module per export format, each laying out one participant's folder."""
