"""Packages: ``agentpod*``, plus the top-level ``templates/`` installed as ``agentpod/templates``
(setuptools cannot express that mapping with ``packages.find`` alone; the rest is in
pyproject.toml)."""

from setuptools import find_namespace_packages, find_packages, setup

TEMPLATES = ["agentpod.templates"] + [
    f"agentpod.templates.{name}" for name in find_namespace_packages("templates")
]

setup(
    packages=find_packages(include=["agentpod*"]) + TEMPLATES,
    package_dir={"agentpod.templates": "templates"},
)
