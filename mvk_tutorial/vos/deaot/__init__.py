"""DeAOT (Yang & Yang, NeurIPS 2022). Book: ch08 "Memory-based VOS and DeAOT"."""
