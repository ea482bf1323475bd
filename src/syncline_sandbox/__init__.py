"""Syncline's CleverTap-compatible sandbox server (what it implements: docs/clevertap.md).

Entry points: :func:`syncline_sandbox.app.create_app`, :func:`syncline_sandbox.server.serve`,
:class:`syncline_sandbox.testing.SandboxServer`, ``python -m syncline_sandbox``.
"""
