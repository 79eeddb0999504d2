"""Fake Alibaba Cloud CAS (2020-04-07) + ALB (2020-06-16) APIs sharing one state store (test double)."""
