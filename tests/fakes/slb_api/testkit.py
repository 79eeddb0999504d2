"""Helpers for tests that run the fake in-process or talk to a running one (test-side only)."""

import json
import ssl
import socket
import tempfile
import threading
import urllib.request

from .server import make_server


class InProcessFake:
    """The fake on free loopback ports, in a thread. ``stop()`` when done."""

    def __init__(self, access_keys=None, tls_ports=None, region='cn-hangzhou'):
        self.workdir = tempfile.mkdtemp(prefix='fake-slb-test-')
        if tls_ports is None:
            tls_ports = _free_port_range(8)
        self.httpd = make_server('127.0.0.1:0', tls_ports, access_keys or {'testid': 'testsecret'}, region,
                                 workdir=self.workdir)
        self.fake = self.httpd.fake
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = 'http://127.0.0.1:%d/' % self.httpd.server_address[1]
        self.admin = self.endpoint + '_fake'

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.fake.shutdown()


def _free_port_range(count):
    """A run of ``count`` ports that are free right now (best effort)."""
    for _attempt in range(50):
        sock = socket.socket()
        sock.bind(('127.0.0.1', 0))
        base = sock.getsockname()[1]
        sock.close()
        if base + count > 65000:
            continue
        ok = True
        for port in range(base, base + count):
            probe = socket.socket()
            try:
                probe.bind(('127.0.0.1', port))
            except OSError:
                ok = False
            finally:
                probe.close()
            if not ok:
                break
        if ok:
            return (base, base + count - 1)
    raise RuntimeError('no free port range')


class Admin:
    """Client of the fake's ``/_fake/`` admin endpoints."""

    def __init__(self, admin_url):
        self.url = admin_url.rstrip('/')

    def _req(self, method, name, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request('%s/%s' % (self.url, name), data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read().decode())

    def state(self):
        return self._req('GET', 'state')

    def calls(self):
        return self._req('GET', 'calls')['calls']

    def clear_calls(self):
        return self._req('POST', 'clear_calls', {})

    def seed(self, payload):
        return self._req('POST', 'seed', payload)

    def faults(self, **kwargs):
        return self._req('POST', 'faults', kwargs)

    def reset(self):
        return self._req('POST', 'reset', {'keep_access_keys': True})

    def add_access_key(self, access_key, secret, security_token=None):
        payload = {'AccessKeyId': access_key, 'AccessKeySecret': secret}
        if security_token:
            payload['SecurityToken'] = security_token
        return self._req('POST', 'access_keys', payload)

    def load_balancer(self, lb_id):
        return next(lb for lb in self.state()['load_balancers'] if lb['LoadBalancerId'] == lb_id)

    def serving_port(self, lb_id, port):
        lb = self.load_balancer(lb_id)
        return next(l['serving_port'] for l in lb['listeners'] if l['ListenerPort'] == port)

    def listener(self, lb_id, port):
        lb = self.load_balancer(lb_id)
        return next(l for l in lb['listeners'] if l['ListenerPort'] == port)


def served_cert_der(port, server_name=None, host='127.0.0.1', timeout=10):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True)
