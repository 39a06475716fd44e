"""Recording evidence: segment hash chains and retention (shared by recorders and audits)."""
