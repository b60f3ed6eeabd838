"""Only what pyproject.toml cannot say: the top-level ``installer/`` (the install playbook) and
``templates/`` ship inside the package as ``agentpod/playbook`` and ``agentpod/templates``."""

from setuptools import find_packages, setup

DATA = {"agentpod.playbook": "installer", "agentpod.templates": "templates"}

setup(packages=[*find_packages(include=["agentpod*"]), *DATA], package_dir=DATA)
