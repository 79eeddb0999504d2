"""Fake Huawei Cloud SCM (CCM) API, a test double."""
