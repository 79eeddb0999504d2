"""A test double of the Alibaba Cloud SLB (CLB) RPC API 2014-05-15. Never use it for anything but tests."""
