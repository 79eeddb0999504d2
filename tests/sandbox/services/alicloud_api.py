# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sandbox slot: the fake Alibaba Cloud CAS + ALB + CDN API (tests/fakes/alicloud_api/server.py).

HTTPS on 127.0.0.1:18100 (+ offset) with a certificate of the sandbox CA for ``localhost``, so modules
reach it by host name (``https://localhost:<port>/``). The test AccessKey is recorded in sandbox.json.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from service import Service, http_probe

ACCESS_KEY = 'LTAIcertpilotCasAlb'
SECRET_KEY = 'sandbox-cas-alb-secret-8d41c7e2b5a9'
REGION = 'cn-hangzhou'
API_PORT = 18100


def _dir(ctx, *parts):
    return ctx.path('services', 'alicloud_api', *parts)


def _argv(ctx):
    return [ctx.python, ctx.repo_path('tests/fakes/alicloud_api/server.py'),
            '--listen', '127.0.0.1:%d' % ctx.port(API_PORT),
            '--access-key', '%s:%s' % (ACCESS_KEY, SECRET_KEY),
            '--region', REGION,
            '--state', _dir(ctx, 'state.json'),
            '--tls-cert', _dir(ctx, 'tls.pem'), '--tls-key', _dir(ctx, 'tls.key')]


def _setup(ctx):
    import os
    os.makedirs(_dir(ctx), mode=0o700, exist_ok=True)
    ctx.ca.issue(_dir(ctx, 'tls.pem'), _dir(ctx, 'tls.key'), 'alicloud-api.sandbox.test',
                 dns_names=['localhost'], ip_addresses=['127.0.0.1'])


def _record(ctx):
    return {
        'endpoint': 'https://localhost:%d/' % ctx.port(API_PORT),
        'access_key': ACCESS_KEY,
        'secret_key': SECRET_KEY,
        'region': REGION,
        'ca_bundle': ctx.ca_bundle,
        'state_file': _dir(ctx, 'state.json'),
    }


SERVICES = [Service(
    name='alicloud_api',
    argv=_argv,
    setup=_setup,
    env={'PYTHONUNBUFFERED': '1'},
    ports=lambda ctx: [('127.0.0.1', ctx.port(API_PORT))],
    probe=lambda ctx: http_probe('https://127.0.0.1:%d/_fake/state' % ctx.port(API_PORT), cafile=ctx.ca_bundle),
    record=_record,
    description='fake Alibaba Cloud CAS + ALB + CDN API (test double)',
)]
