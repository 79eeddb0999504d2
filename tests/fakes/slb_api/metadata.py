"""A fake ECS instance metadata service (hardened mode) for credential tests. Test double."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class MetadataHandler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def _send(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        meta = self.server.meta
        if self.path != '/latest/api/token' or not self.headers.get('X-aliyun-ecs-metadata-token-ttl-seconds'):
            return self._send(400, 'bad token request')
        meta['token_requests'] += 1
        return self._send(200, meta['token'])

    def do_GET(self):
        meta = self.server.meta
        prefix = '/latest/meta-data/ram/security-credentials/'
        if self.headers.get('X-aliyun-ecs-metadata-token') != meta['token']:
            return self._send(401, 'missing or wrong metadata token')
        if not self.path.startswith(prefix):
            return self._send(404, 'not found')
        role = self.path[len(prefix):]
        if role != meta['role']:
            return self._send(404, 'not found')
        meta['credential_requests'] += 1
        return self._send(200, json.dumps({
            'AccessKeyId': meta['access_key'], 'AccessKeySecret': meta['secret'],
            'SecurityToken': meta['security_token'], 'Expiration': '2099-01-01T00:00:00Z',
            'LastUpdated': '2026-01-01T00:00:00Z', 'Code': 'Success'}))


def start_metadata(role, access_key, secret, security_token, token='meta-token-123'):
    """Start on a free loopback port; returns (httpd, base_url). Call httpd.shutdown() when done."""
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), MetadataHandler)
    httpd.daemon_threads = True
    httpd.meta = {'role': role, 'access_key': access_key, 'secret': secret, 'security_token': security_token,
                  'token': token, 'token_requests': 0, 'credential_requests': 0}
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, 'http://127.0.0.1:%d' % httpd.server_address[1]
