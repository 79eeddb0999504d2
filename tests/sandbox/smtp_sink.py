# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SMTP sink of the sandbox (aiosmtpd): every accepted message becomes ``<maildir>/<time>-<id>.eml``.

* ``--port``: plain SMTP, no auth;
* ``--starttls-port``: STARTTLS required, AUTH PLAIN/LOGIN (only after TLS) for
  ``--user`` with the password read from ``--password-file``.

The envelope is recorded as ``X-Sandbox-Mail-From`` / ``X-Sandbox-Rcpt-To`` /
``X-Sandbox-Port`` / ``X-Sandbox-Auth`` headers prepended to the stored message.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import asyncio
import hmac
import os
import signal
import ssl
import sys
import time
import uuid

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class MaildirHandler(object):
    def __init__(self, maildir, port):
        self.maildir = maildir
        self.port = port

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        auth = getattr(session, 'auth_data', None)
        user = auth.login.decode('utf-8', 'replace') if isinstance(auth, LoginPassword) else ''
        headers = (
            'X-Sandbox-Mail-From: %s\r\nX-Sandbox-Rcpt-To: %s\r\nX-Sandbox-Port: %d\r\nX-Sandbox-Auth: %s\r\n'
            % (envelope.mail_from, ', '.join(envelope.rcpt_tos), self.port, user)
        ).encode('utf-8')
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode('utf-8')
        name = '%s-%s.eml' % (time.strftime('%Y%m%dT%H%M%S'), uuid.uuid4().hex[:12])
        tmp = os.path.join(self.maildir, '.%s.tmp' % name)
        with open(tmp, 'wb') as fh:
            fh.write(headers + content)
        os.rename(tmp, os.path.join(self.maildir, name))
        print('stored %s from=%s to=%s port=%d' % (name, envelope.mail_from, envelope.rcpt_tos, self.port), flush=True)
        return '250 Message accepted for delivery'


class Authenticator(object):
    def __init__(self, user, password):
        self.user = user.encode('utf-8')
        self.password = password.encode('utf-8')

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and hmac.compare_digest(auth_data.login, self.user)
              and hmac.compare_digest(auth_data.password, self.password))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--starttls-port', type=int, required=True)
    parser.add_argument('--maildir', required=True)
    parser.add_argument('--cert', required=True)
    parser.add_argument('--key', required=True)
    parser.add_argument('--user', default='certpilot')
    parser.add_argument('--password-file', required=True)
    args = parser.parse_args(argv)

    os.makedirs(args.maildir, exist_ok=True)
    with open(args.password_file) as fh:
        password = fh.read().strip()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def plain_factory():
        return SMTP(MaildirHandler(args.maildir, args.port), hostname='sink.sandbox.test',
                    auth_require_tls=True, loop=loop)

    def tls_factory():
        return SMTP(MaildirHandler(args.maildir, args.starttls_port), hostname='sink.sandbox.test',
                    tls_context=tls, require_starttls=True, auth_required=True, auth_require_tls=True,
                    authenticator=Authenticator(args.user, password), loop=loop)

    servers = [
        loop.run_until_complete(loop.create_server(plain_factory, host=args.host, port=args.port)),
        loop.run_until_complete(loop.create_server(tls_factory, host=args.host, port=args.starttls_port)),
    ]
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(True))
    print('smtp sink on %s:%d (plain) and %s:%d (STARTTLS+AUTH), maildir %s'
          % (args.host, args.port, args.host, args.starttls_port, args.maildir), flush=True)
    loop.run_until_complete(stop)
    for srv in servers:
        srv.close()
    loop.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
