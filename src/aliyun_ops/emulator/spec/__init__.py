"""The request-parameter specification of the ECS/VPC/CMS actions, derived once from the official metadata.

``spec.json`` (shipped) is the only thing read at run time (by ``emulator.validate``); ``derive.py``
regenerates it from a copy of ``aliyun/aliyun-openapi-meta`` (``python -m aliyun_ops.emulator.spec.derive
<meta dir>``). ``NOTICE`` and ``LICENSE`` keep the Apache-2.0 terms of that source.
"""
