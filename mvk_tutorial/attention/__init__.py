"""Part I: attention for vision (chapters 1-6)."""
