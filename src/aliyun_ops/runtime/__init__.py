"""Function Compute entry points.

- ``aliyun_ops.runtime.fc.handler``: the built-in Python runtime's ``handler(event, context)``.
- ``aliyun_ops.runtime.server``: the custom runtime's HTTP server (``serve()``, ``RuntimeServer``).

Both hand the event to ``aliyun_ops.service.handle_event`` through ``runtime.invoke.Runner``.
Nothing heavy is imported here, so the handler's cold start stays short.
"""

from __future__ import annotations
