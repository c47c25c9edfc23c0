"""Prefect flows of RegionWatch and its command-line interface."""
