# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Example service plugin: a static HTTP server on 127.0.0.1:(8088 + offset).

Not loaded by default (it lives in examples/, not services/). The sandbox
lifecycle test loads it with CERTPILOT_SANDBOX_EXTRA_SERVICES=tests/sandbox/examples
to prove the service-slot API end to end. Copy it to tests/sandbox/services/ as a
starting point for a real service.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from service import Service, http_probe

BASE_PORT = 8088


def _root(ctx):
    return ctx.path('services', 'http_static')


def _setup(ctx):
    # runs before every start: make the document root (the state dir is kept across up/down)
    os.makedirs(_root(ctx), exist_ok=True)
    with open(os.path.join(_root(ctx), 'health'), 'w') as fh:
        fh.write('ok\n')


def _argv(ctx):
    # the state dir appears in the command line (--directory): required by the ownership rule
    return [ctx.python, '-m', 'http.server', '--bind', '127.0.0.1', '--directory', _root(ctx),
            str(ctx.port(BASE_PORT))]


SERVICES = [Service(
    name='http_static',
    description='example static HTTP server',
    argv=_argv,
    setup=_setup,
    ports=lambda ctx: [('127.0.0.1', ctx.port(BASE_PORT))],
    probe=lambda ctx: http_probe('http://127.0.0.1:%d/health' % ctx.port(BASE_PORT), body=b'ok'),
    record=lambda ctx: {'url': 'http://127.0.0.1:%d' % ctx.port(BASE_PORT), 'root': _root(ctx)},
)]
