"""Test-side helpers for the fake CAS + ALB + CDN API: admin client, an in-process instance."""

import json
import ssl
import tempfile
import threading
import urllib.request

from .server import make_server


class Admin:
    """Client of the fake's ``/_fake/`` admin endpoints."""

    def __init__(self, admin_url, cafile=None):
        self.url = admin_url.rstrip('/')
        self.context = ssl.create_default_context(cafile=cafile) if cafile else None

    def _req(self, method, name, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request('%s/%s' % (self.url, name), data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=30, context=self.context) as resp:
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

    def add_access_key(self, access_key, secret, security_token=None):
        payload = {'AccessKeyId': access_key, 'AccessKeySecret': secret}
        if security_token:
            payload['SecurityToken'] = security_token
        return self._req('POST', 'access_keys', payload)

    def listener(self, listener_id):
        return next(item for item in self.state()['listeners'] if item['ListenerId'] == listener_id)

    def cdn_domain(self, name):
        return next(item for item in self.state()['cdn_domains'] if item['DomainName'] == name.lower())

    def certificate(self, cert_id):
        found = [c for c in self.state()['certificates'] if c['Id'] == int(cert_id)]
        return found[0] if found else None


class InProcessFake:
    """The fake on a free loopback port, plain HTTP, in a thread (for unit-level checks). ``stop()`` when done."""

    def __init__(self, access_keys=None, region='cn-hangzhou', configuring_seconds=0.2):
        self.workdir = tempfile.mkdtemp(prefix='fake-alicloud-test-')
        self.httpd = make_server('127.0.0.1:0', access_keys or {'testid': 'testsecret'}, region,
                                 configuring_seconds=configuring_seconds)
        self.fake = self.httpd.fake
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = 'http://127.0.0.1:%d/' % self.httpd.server_address[1]
        self.admin = Admin(self.endpoint + '_fake')

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
