"""The one part of the package layout pyproject.toml cannot express.

The watchlist stays in the repository's top-level ``seeds/`` folder (the project layout) and
ships inside the wheel as ``regionwatch/seeds/`` package data, read through
``importlib.resources`` (``regionwatch.settings.DEFAULT_SEEDS_DIR``). ``packages`` from a
``[tool.setuptools.packages.find]`` table cannot gain a mapped package, so discovery is here:
everything else (metadata, dependencies, package data) is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        # data folders (flows/cli/demo_data, web/templates, web/static) are packages too
        *find_namespace_packages(
            include=["regionwatch*", "flows*", "tasks*", "web*"], exclude=["*.__pycache__"]
        ),
        "regionwatch.seeds",
    ],
    package_dir={"regionwatch.seeds": "seeds"},
)
