"""The root template: one nested stack per tier, wired from the contracts.

Each ``TemplateURL`` is an ``Fn::Sub`` over the ``TemplatesBucket`` and ``TemplatesPrefix``
parameters, so the file can be uploaded to the console as it is; ``local_urls`` gives relative paths
instead (what ``aws cloudformation package`` and cfn-lint's cross-template checks take).
"""

from __future__ import annotations

from troposphere import GetAtt, Output, Ref, Sub, Template
from troposphere.cloudformation import Stack

from neobank_cfn import __version__
from neobank_cfn.parameters import Param
from neobank_cfn.tags import standard_tags
from neobank_cfn.tier import TEMPLATE_VERSION, interface, waiver
from neobank_cfn.wiring import Wiring

TEMPLATES_BUCKET = Param(
    "TemplatesBucket",
    "S3 bucket holding the nested tier templates (upload the templates/ folder to it first).",
    allowed_pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
    constraint="an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens",
    label="Templates bucket",
    group="Templates location",
)
TEMPLATES_PREFIX = Param(
    "TemplatesPrefix",
    "Key prefix of the tier templates in the bucket, ending in '/' (empty for the bucket root).",
    default="",
    allowed_pattern=r"^([A-Za-z0-9!_.*'()-]+/)*$",
    constraint="empty, or path segments each ending in '/', e.g. neobank/v1/",
    label="Templates key prefix",
    group="Templates location",
)
LOCATION_PARAMS = (TEMPLATES_BUCKET, TEMPLATES_PREFIX)


def template_url(filename: str, local: bool) -> object:
    """Where the root finds a tier template: S3 URL from parameters, or a relative path."""
    if local:
        return filename
    return Sub("https://${TemplatesBucket}.s3.${AWS::Region}.${AWS::URLSuffix}/${TemplatesPrefix}" + filename)


def root_params(wiring: Wiring, local: bool) -> tuple[Param, ...]:
    """Parameters of the root template (the location parameters only when URLs are built from them)."""
    return (() if local else LOCATION_PARAMS) + wiring.root_params


def build_root(wiring: Wiring, fmt: str, local_urls: bool = False) -> Template:
    """The root template for ``wiring``, pointing at tier files of format ``fmt``."""
    t = Template(Description=f"neobank_cfn {__version__} root: the neobank platform, one nested stack per tier.")
    t.set_version(TEMPLATE_VERSION)
    params = root_params(wiring, local_urls)
    for param in params:
        t.add_parameter(param.to_parameter())
    for rule in wiring.root_rules():
        t.add_rule(rule.name, rule.to_cfn())
    t.set_metadata({"AWS::CloudFormation::Interface": interface(params)})
    for tier in wiring.order:
        nested = {}
        for param in tier.all_inputs:
            producer = wiring.source(tier, param.name)
            nested[param.name] = GetAtt(producer.logical_id, f"Outputs.{param.name}") if producer else Ref(param.name)
        # Deleting a tier stack is safe: its stateful resources carry their own Retain/Snapshot policies.
        stack = t.add_resource(
            Stack(
                tier.logical_id,
                TemplateURL=template_url(tier.filename(fmt), local_urls),
                Parameters=nested,
                Tags=standard_tags(Tier=tier.name),
                DeletionPolicy="Delete",
                UpdateReplacePolicy="Delete",
            )
        )
        if local_urls:
            stack.Metadata = waiver(
                "W3002", "Relative TemplateURL on purpose: this variant is for `aws cloudformation package`."
            )
        for output in tier.outputs:
            if output.expose:
                t.add_output(
                    Output(
                        output.name,
                        Description=output.description,
                        Value=GetAtt(tier.logical_id, f"Outputs.{output.name}"),
                    )
                )
    return t
