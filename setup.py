"""The one part of the package layout pyproject.toml cannot express.

The watchlist stays in the repository's top-level ``seeds/`` folder (the project layout) and
ships inside the wheel as the ``regionwatch.seeds`` resource package (``regionwatch/seeds/``:
the YAML files of ``seeds/`` and of its sub-folders, e.g. the language packs), read through
``importlib.resources`` (``regionwatch.settings.DEFAULT_SEEDS_DIR``). ``seeds/corpus/`` (the
seed corpus: third-party texts, git-ignored) is no package and never ships. A
``[tool.setuptools.packages.find]`` table cannot gain mapped packages, so package discovery is
here; everything else (metadata, dependencies, package data) is in pyproject.toml.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

SEEDS = Path(__file__).resolve().parent / "seeds"
#: seeds/ sub-folders that never ship
PRIVATE = frozenset({"corpus"})


def seed_packages() -> list[str]:
    """``regionwatch.seeds`` and one package per shipped sub-folder of ``seeds/``."""
    names = ["regionwatch.seeds"]
    for folder in sorted(p for p in SEEDS.rglob("*") if p.is_dir()):
        parts = folder.relative_to(SEEDS).parts
        if parts[0] not in PRIVATE and all(p.isidentifier() for p in parts):
            names.append(".".join(("regionwatch.seeds", *parts)))
    return names


SEED_PACKAGES = seed_packages()

setup(
    packages=[
        # data folders (flows/cli/demo_data, web/templates, web/static) are packages too
        *find_namespace_packages(
            include=["regionwatch*", "flows*", "tasks*", "web*"], exclude=["*.__pycache__"]
        ),
        *SEED_PACKAGES,
    ],
    package_dir={"regionwatch.seeds": "seeds"},
)
