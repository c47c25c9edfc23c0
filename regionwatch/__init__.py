"""RegionWatch: news monitoring for the security of Russia's neighbourhood.

The library: every pipeline stage as plain functions over typed records. It never imports
Prefect; flows and tasks compose it.
"""

__version__ = "0.1.0"
