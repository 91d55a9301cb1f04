"""The standard tags (Application, Environment, CostCenter, Owner), applied to every taggable resource."""

from __future__ import annotations

from troposphere import AWSObject, Ref, Tags, Template

STANDARD_TAG_KEYS = ("Application", "Environment", "CostCenter", "Owner")

# Resources whose tag property is not called "Tags".
_TAG_PROPERTY = {"AWS::Cognito::UserPool": "UserPoolTags"}


def standard_tags(**extra: object) -> Tags:
    """The standard tags as a troposphere ``Tags`` list, plus any ``extra`` tags (e.g. Name)."""
    return Tags(**{key: Ref(key) for key in STANDARD_TAG_KEYS}, **extra)


def apply_standard_tags(template: Template) -> None:
    """Add the standard tags to every resource in ``template`` that supports tags.

    Tags a resource already has (a Name tag, say) are kept; the standard keys are added after them.
    """
    for resource in template.resources.values():
        if isinstance(resource, AWSObject):
            _tag(resource)


def _tag(resource: AWSObject) -> None:
    prop = _TAG_PROPERTY.get(resource.resource_type, "Tags")
    if prop not in resource.props:
        return
    expected_type = resource.props[prop][0]
    existing = resource.properties.get(prop)
    if expected_type is dict:
        merged = dict(existing or {})
        for key in STANDARD_TAG_KEYS:
            merged.setdefault(key, Ref(key))
        resource.properties[prop] = merged
        return
    tags = standard_tags()
    if isinstance(existing, Tags):
        have = {tag["Key"] for tag in existing.tags if isinstance(tag, dict)}
        tags = Tags()
        tags.tags = list(existing.tags) + [tag for tag in standard_tags().tags if tag["Key"] not in have]
    resource.properties[prop] = tags
