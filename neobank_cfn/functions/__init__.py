"""Lambda function source, kept as real Python files and inlined into templates with ``Code.ZipFile``.

Each module here is one function's whole deployment package: it may import only the standard library
and boto3 (which the Lambda Python runtime provides), and its handler is ``index.handler`` because
CloudFormation writes inline code to a file called ``index``.
"""

from __future__ import annotations

from importlib import resources

HANDLER = "index.handler"


def source(name: str) -> str:
    """The source text of function module ``name`` (e.g. ``partner_authorizer``), as shipped."""
    return resources.files(__name__).joinpath(f"{name}.py").read_text(encoding="utf-8")
