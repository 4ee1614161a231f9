"""Errors a user can cause. Every CLI turns each into one clear line and exit code 2 (core.cli.run_cli)."""


class UserError(Exception):
    """Bad path, missing camera, missing TensorRT, bad model file...: the message says what and how to fix it."""
