# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the module_utils unit tests (tls and notify): a test PKI and tiny TCP servers."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import PKI, TinyServer


@pytest.fixture(scope='session')
def pki():
    return PKI()


@pytest.fixture
def tiny_server():
    servers = []

    def make(script, host='127.0.0.1'):
        server = TinyServer(script, host)
        servers.append(server)
        return server
    yield make
    for server in servers:
        server.close()
