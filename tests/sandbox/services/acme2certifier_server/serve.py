# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Launcher of acme2certifier's WSGI app for the sandbox (runs with .venv-a2c's Python).

    .venv-a2c/bin/python serve.py --state DIR --config acme_srv.cfg --listen 127.0.0.1:PORT \
        --cert wfe.pem --key wfe.key --http01-port 5002 --dns 127.0.0.1:8053

acme2certifier's own ``share/acme2certifier_wsgi.py`` serves plain HTTP on port 80 with wsgiref.
This serves the same ``application`` with the stdlib only: wsgiref, one thread per request,
TLS with the sandbox CA's certificate. Two launcher settings adapt it to the sandbox, where
every port is shifted and nothing may leave the loopback interface:

* the http-01 port: acme2certifier always validates on port 80; here the validation
  requests go to ``--http01-port`` (the sandbox nginx hosts' http-01 port, 5002 + offset);
* the DNS server: acme2certifier's ``dns_server_list`` takes addresses only (port 53);
  here every resolver of this process asks ``--dns`` (pebble-challtestsrv, 8053 + offset)
  and nothing else, so names resolve exactly as they do for pebble.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import os
import socketserver
import ssl
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer


def _args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--state', required=True, help='state dir of this server (holds the database)')
    parser.add_argument('--config', required=True, help='acme_srv.cfg')
    parser.add_argument('--listen', required=True, help='HOST:PORT')
    parser.add_argument('--cert', required=True)
    parser.add_argument('--key', required=True)
    parser.add_argument('--http01-port', type=int, required=True)
    parser.add_argument('--dns', required=True, help='HOST:PORT of the DNS server')
    return parser.parse_args(argv)


def _sandbox_dns(host, port):
    """Every dnspython resolver of this process asks host:port only (no /etc/resolv.conf)."""
    import dns.resolver  # pylint: disable=import-error

    original_init = dns.resolver.Resolver.__init__

    def init(self, filename='/etc/resolv.conf', configure=True):  # pylint: disable=unused-argument
        original_init(self, filename, configure=False)
        self.port = port
        self.nameservers = [host]

    dns.resolver.Resolver.__init__ = init
    dns.resolver.reset_default_resolver()


def _sandbox_http01_port(port):
    """acme2certifier builds the http-01 URL as http://<pinned address>/...; add the sandbox port."""
    from acme2certifier.acme_srv.helpers import network  # pylint: disable=import-error

    original = network._http_url_host  # pylint: disable=protected-access

    def url_host(host):
        return '%s:%d' % (original(host), port)

    network._http_url_host = url_host  # pylint: disable=protected-access


class _Handler(WSGIRequestHandler):
    def setup(self):
        self.request.do_handshake()  # in this request's thread, so a slow client never blocks accept()
        WSGIRequestHandler.setup(self)

    def address_string(self):
        return self.client_address[0]  # no reverse DNS per request

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stderr.write('%s %s %s\n' % (self.log_date_time_string(), self.address_string(), format % args))


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, tls):
        WSGIServer.__init__(self, address, _Handler)
        self.tls = tls

    def setup_environ(self):
        WSGIServer.setup_environ(self)
        self.base_environ['HTTPS'] = 'on'  # wsgi.url_scheme = https: the URLs in the directory are https

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(30)
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        sys.stderr.write('%s: %s: %s\n' % (client_address[0], type(exc).__name__, exc))


def main(argv=None):
    args = _args(sys.argv[1:] if argv is None else argv)
    os.environ['ACME_SRV_CONFIGFILE'] = args.config
    os.chdir(args.state)
    dns_host, dns_port = args.dns.rsplit(':', 1)
    _sandbox_dns(dns_host, int(dns_port))
    _sandbox_http01_port(args.http01_port)
    # imported only now: the app reads its configuration at import time
    from acme2certifier.share.acme2certifier_wsgi import application  # pylint: disable=import-error
    from acme2certifier.acme_srv.version import __version__  # pylint: disable=import-error

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    host, port = args.listen.rsplit(':', 1)
    server = _Server((host, int(port)), tls)
    server.set_app(application)
    print('acme2certifier %s listening on https://%s:%s (http-01 port %d, DNS %s)'
          % (__version__, host, port, args.http01_port, args.dns), flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
