"""Prefect tasks: batch-sized units (a feed, a chunk of URLs) that call the regionwatch library."""
