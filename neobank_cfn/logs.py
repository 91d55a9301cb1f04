"""CloudWatch log groups, made one way: encrypted with the logs key, retention set, kept on delete."""

from __future__ import annotations

from troposphere.logs import LogGroup

from neobank_cfn.tier import TierTemplate


def log_group(tt: TierTemplate, logical: str, name: object | None = None) -> LogGroup:
    """A log group encrypted with ``LogsKeyArn`` and kept ``LogRetentionDays`` (both tier inputs).

    Log groups are audit evidence, so they survive stack deletion and replacement.
    """
    kwargs: dict = {
        "KmsKeyId": tt.ref("LogsKeyArn"),
        "RetentionInDays": tt.ref("LogRetentionDays"),
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
    }
    if name is not None:
        kwargs["LogGroupName"] = name
    return tt.add(LogGroup(logical, **kwargs))
