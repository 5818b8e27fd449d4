"""aliyun-ops: keep Alibaba Cloud spot ECS instances alive across reclaims."""

__version__ = "0.1.0"
