"""Thin wrappers over AWS APIs: the only modules that call them (botocore, herald.aws.clients)."""
