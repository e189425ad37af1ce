"""Project-specific lint checks that run beside ruff in ``make lint`` (not part of the deployed code)."""
