"""Errors a user can fix: each carries one line that says what is wrong and how to fix it."""


class UserError(Exception):
    """A mistake in the user's input (configuration, parameters, command-line options)."""


class WiringError(UserError):
    """The tiers' contracts cannot be wired into one root template."""


class ContractError(Exception):
    """A tier's template does not match its declared contract (a bug in a tier, not user input)."""
