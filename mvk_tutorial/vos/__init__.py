"""Part II: video object segmentation (chapters 7-8)."""
