"""Thin wrappers over AWS APIs: the only modules that use boto3."""
