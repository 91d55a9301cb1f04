"""neobank_cfn: the neobank platform on AWS, generated as plain CloudFormation."""

__version__ = "0.1.0"
