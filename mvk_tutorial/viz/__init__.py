"""Plots and widgets shared by the chapters."""
