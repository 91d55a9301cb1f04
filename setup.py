"""Packaging for neobank_cfn: the neobank platform on AWS, generated as plain CloudFormation."""

from setuptools import find_packages, setup

setup(
    name="neobank-cfn",
    version="0.1.0",
    description="Generates the neobank platform's CloudFormation templates (troposphere + awacs).",
    packages=find_packages(include=["neobank_cfn", "neobank_cfn.*"]),
    package_data={"neobank_cfn": ["functions/*.py"]},
    python_requires=">=3.10",
    install_requires=[
        "troposphere>=4.8,<5",
        "awacs>=2.4,<3",
        "cfn-lint>=1.30,<2",
        "click>=8.1,<9",
        "PyYAML>=6,<7",
        "boto3>=1.34,<2",
    ],
    extras_require={
        "test": ["pytest>=8,<10", "moto[s3,sqs,secretsmanager,cloudformation]>=5,<6", "ruff>=0.6,<1"],
    },
    entry_points={"console_scripts": ["neobank-cfn=neobank_cfn.cli:main"]},
)
