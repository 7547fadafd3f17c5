"""Part III: CLIP retrieval and known-item search (chapter 10)."""
