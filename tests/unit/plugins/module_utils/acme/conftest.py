# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny scripted ACME-like HTTP server on 127.0.0.1 (``fake_acme``) for the unit tests of acme/."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def _b64d(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


class FakeAcme:
    """Serves /dir (plus ``directory_extra``), /nonce and scripted routes; anything else is a 404 malformed.

    ``routes[path]`` is a callable ``(server, method, body, protected, path) -> (status, headers, body)``:
    ``body`` is the parsed JSON request body (the JWS) or None, ``protected`` its decoded protected header or
    None; a path ending in ``*`` matches every path with that prefix. A dict or list body is sent as JSON.
    Every response but /dir carries a fresh Replay-Nonce unless the route sets ``Replay-Nonce: None``;
    ``consume(nonce)`` checks one like a server would. Every request is logged in ``log`` as
    (method, path, protected header or None). ``FakeAcme.problem(type, detail, status)`` builds a problem reply.
    """

    def __init__(self):
        self.routes = {}
        self.log = []
        self.issued = set()
        self.used = set()
        self._counter = itertools.count(1)
        self.lock = threading.Lock()
        self.directory_extra = {}
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.httpd.daemon_threads = True
        self.base = 'http://127.0.0.1:%d' % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return self.base + path

    def new_nonce(self):
        with self.lock:
            nonce = 'n%06d' % next(self._counter)
            self.issued.add(nonce)
            return nonce

    def consume(self, nonce):
        """True when the nonce was issued and not used before (what a real server checks)."""
        with self.lock:
            if nonce in self.issued and nonce not in self.used:
                self.used.add(nonce)
                return True
            return False

    def count(self, method=None, path=None):
        return len([1 for m, p, _h in self.log if (method is None or m == method) and (path is None or p == path)])

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status, headers, body):
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode('utf-8')
                    headers.setdefault('Content-Type', 'application/json')
                body = body or b''
                self.send_response(status)
                if headers.get('Replay-Nonce', '') is not None:
                    headers.setdefault('Replay-Nonce', fake.new_nonce())
                for name, value in headers.items():
                    if value is not None:
                        self.send_header(name, value)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if self.command != 'HEAD':
                    self.wfile.write(body)

            def _handle(self):
                length = int(self.headers.get('Content-Length') or 0)
                raw = self.rfile.read(length) if length else b''
                body, protected = None, None
                if raw:
                    body = json.loads(raw.decode('utf-8'))
                    if isinstance(body, dict) and 'protected' in body:
                        protected = json.loads(_b64d(body['protected']).decode('utf-8'))
                with fake.lock:
                    fake.log.append((self.command, self.path, protected))
                if self.path == '/dir':
                    doc = {'newNonce': fake.url('/nonce'), 'newAccount': fake.url('/new-acct'),
                           'newOrder': fake.url('/new-order'), 'keyChange': fake.url('/key-change'),
                           'meta': {}}
                    doc.update(fake.directory_extra)
                    return self._reply(200, {'Replay-Nonce': None}, doc)
                if self.path == '/nonce':
                    return self._reply(200, {'Cache-Control': 'no-store'}, b'')
                route = fake.routes.get(self.path)
                if route is None:
                    for prefix, candidate in fake.routes.items():
                        if prefix.endswith('*') and self.path.startswith(prefix[:-1]):
                            route = candidate
                            break
                if route is None:
                    return self._reply(404, {'Content-Type': 'application/problem+json'},
                                       {'type': 'urn:ietf:params:acme:error:malformed', 'detail': 'no route'})
                status, headers, out = route(fake, self.command, body, protected, self.path)
                return self._reply(status, dict(headers), out)

            do_GET = do_POST = do_HEAD = _handle

        return Handler


@pytest.fixture
def fake_acme():
    server = FakeAcme()
    yield server
    server.close()


def problem(ptype, detail, status=400, headers=None, **extra):
    doc = {'type': 'urn:ietf:params:acme:error:' + ptype, 'detail': detail, 'status': status}
    doc.update(extra)
    hdrs = {'Content-Type': 'application/problem+json'}
    hdrs.update(headers or {})
    return status, hdrs, doc


FakeAcme.problem = staticmethod(problem)
