"""Only what pyproject.toml cannot say: the top-level ``installer/`` (the install playbook) and
``templates/`` ship inside the package as ``agentpod/playbook`` and ``agentpod/templates`` (their
sub-folders as packages of their own, so that setuptools ships them without a warning)."""

from pathlib import Path

from setuptools import find_packages, setup

DATA = {"agentpod.playbook": "installer", "agentpod.templates": "templates"}
SUBDIRS = [
    f"{package}.{sub.name}"
    for package, folder in DATA.items()
    for sub in sorted(Path(folder).iterdir())
    if sub.is_dir()
]

setup(packages=[*find_packages(include=["agentpod*"]), *DATA, *SUBDIRS], package_dir=DATA)
