# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sandbox slot: the fake Alibaba Cloud SLB API (tests/fakes/slb_api/server.py).

HTTP API on 127.0.0.1:18080 (+ offset); every HTTPS listener of the fake serves TLS
on a port from 18443-18542 (+ offset). The test AccessKey is recorded in sandbox.json.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from service import Service, http_probe

ACCESS_KEY = 'LTAIcertpilotSandbox'
SECRET_KEY = 'sandbox-secret-5f2c0a6e9d1b4e7a'
REGION = 'cn-hangzhou'
API_PORT = 18080
TLS_FIRST = 18443
TLS_LAST = 18542


def _argv(ctx):
    return [ctx.python, ctx.repo_path('tests/fakes/slb_api/server.py'),
            '--listen', '127.0.0.1:%d' % ctx.port(API_PORT),
            '--tls-port-range', '%d-%d' % (ctx.port(TLS_FIRST), ctx.port(TLS_LAST)),
            '--access-key', '%s:%s' % (ACCESS_KEY, SECRET_KEY),
            '--region', REGION,
            '--state', ctx.path('services', 'slb_api', 'state.json'),
            '--workdir', ctx.path('services', 'slb_api', 'keys')]


def _setup(ctx):
    import os
    os.makedirs(ctx.path('services', 'slb_api'), mode=0o700, exist_ok=True)


def _record(ctx):
    base = 'http://127.0.0.1:%d' % ctx.port(API_PORT)
    return {
        'endpoint': base + '/',
        'admin': base + '/_fake',
        'access_key': ACCESS_KEY,
        'secret_key': SECRET_KEY,
        'region': REGION,
        'tls_host': '127.0.0.1',
        'tls_port_range': [ctx.port(TLS_FIRST), ctx.port(TLS_LAST)],
        'state_file': ctx.path('services', 'slb_api', 'state.json'),
    }


SERVICES = [Service(
    name='slb_api',
    argv=_argv,
    setup=_setup,
    ports=lambda ctx: [('127.0.0.1', ctx.port(API_PORT))],
    probe=lambda ctx: http_probe('http://127.0.0.1:%d/_fake/state' % ctx.port(API_PORT)),
    record=_record,
    description='fake Alibaba Cloud SLB API (test double)',
)]
