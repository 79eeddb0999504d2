# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sandbox slot: the fake Huawei Cloud SCM (CCM) API (tests/fakes/huaweicloud_scm/server.py).

HTTPS on 127.0.0.1:18090 (+ offset) with a certificate of the sandbox CA (``ca/ca.pem``).
The test AK/SK and account id are recorded in sandbox.json.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from service import Service, http_probe

AK = 'CERTPILOTSANDBOXAK01'
SK = 'sandbox-scm-sk-3b7e91c2a4d04f6e'
DOMAIN_ID = 'c3a1f0e9b8d74c2a9e5f60718293a4b5'
REGION = 'ap-southeast-1'
API_PORT = 18090


def _dir(ctx, *parts):
    return ctx.path('services', 'huaweicloud_scm', *parts)


def _argv(ctx):
    return [ctx.python, ctx.repo_path('tests/fakes/huaweicloud_scm/server.py'),
            '--listen', '127.0.0.1:%d' % ctx.port(API_PORT),
            '--access-key', '%s:%s:%s' % (AK, SK, DOMAIN_ID),
            '--state', _dir(ctx, 'state.json'),
            '--tls-cert', _dir(ctx, 'tls.pem'), '--tls-key', _dir(ctx, 'tls.key')]


def _setup(ctx):
    import os
    os.makedirs(_dir(ctx), mode=0o700, exist_ok=True)
    ctx.ca.issue(_dir(ctx, 'tls.pem'), _dir(ctx, 'tls.key'), 'scm.ap-southeast-1.sandbox.test',
                 dns_names=['localhost'], ip_addresses=['127.0.0.1'])


def _record(ctx):
    return {
        'endpoint': 'https://127.0.0.1:%d' % ctx.port(API_PORT),
        'ak': AK,
        'sk': SK,
        'domain_id': DOMAIN_ID,
        'region': REGION,
        'ca_bundle': ctx.ca_bundle,
        'state_file': _dir(ctx, 'state.json'),
    }


SERVICES = [Service(
    name='huaweicloud_scm',
    argv=_argv,
    setup=_setup,
    env={'PYTHONUNBUFFERED': '1'},
    ports=lambda ctx: [('127.0.0.1', ctx.port(API_PORT))],
    probe=lambda ctx: http_probe('https://127.0.0.1:%d/_fake/state' % ctx.port(API_PORT), cafile=ctx.ca_bundle),
    record=_record,
    description='fake Huawei Cloud SCM (CCM) API (test double)',
)]
