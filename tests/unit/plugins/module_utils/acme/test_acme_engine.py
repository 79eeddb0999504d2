# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OrderRunner against the scripted server: ARI 'replaces', profiles, check mode, bad tokens."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import json
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.acme import ari
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.order_runner import OrderRunner, normalize_certificates
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey, generate_private_key

pytestmark = pytest.mark.timeout(60)
UTC = datetime.timezone.utc
KEY = AcmeKey.generate('ec256')


def _payload(body):
    text = body['payload']
    return json.loads(base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))) if text else None


class CA:
    def __init__(self, fake, token='tok_1'):
        self.fake = fake
        self.orders = []
        fake.directory_extra.update({'renewalInfo': fake.url('/ari'),
                                     'meta': {'profiles': {'classic': 'the default', 'shortlived': '6 days'}}})
        fake.routes['/new-acct'] = lambda f, m, b, p, path: (200, {'Location': f.url('/acct/1')}, {'status': 'valid'})

        def new_order(f, method, body, protected, path):
            payload = _payload(body)
            self.orders.append(payload)
            return 201, {'Location': f.url('/order/%d' % len(self.orders))}, {
                'status': 'pending', 'expires': '2099-01-01T00:00:00Z', 'identifiers': payload['identifiers'],
                'authorizations': [f.url('/authz/1')], 'finalize': f.url('/finalize/1')}
        fake.routes['/new-order'] = new_order
        fake.routes['/authz/*'] = lambda f, m, b, p, path: (200, {}, {
            'status': 'pending', 'identifier': {'type': 'dns', 'value': 'www.example.com'},
            'challenges': [{'type': 'http-01', 'url': f.url('/chall/1'), 'token': token, 'status': 'pending'}]})
        self.window = ('2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z')
        fake.routes['/ari/*'] = lambda f, m, b, p, path: (200, {'Retry-After': '600', 'Replay-Nonce': None}, {
            'suggestedWindow': {'start': self.window[0], 'end': self.window[1]}})


def _install_cert(store, name, days_left=60, lifetime=90):
    key = generate_private_key('ec256')
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'www.example.com')])
    now = datetime.datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(0x1234).not_valid_before(now - datetime.timedelta(days=lifetime - days_left))
            .not_valid_after(now + datetime.timedelta(days=days_left))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('www.example.com')]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier(b'\x01\x02\x03', None, None), critical=False)
            .sign(key, hashes.SHA256()))
    os.makedirs(os.path.join(store, name))
    with open(os.path.join(store, name, 'cert.pem'), 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    return cert


def _runner(fake, store, **kwargs):
    client = AcmeClient(fake.url('/dir'), verify=False, deadline=Deadline(20))
    return OrderRunner(client, KEY, store, **kwargs)


SPEC = [{'name': 'www', 'domains': ['www.example.com']}]


def test_ari_window_passed_orders_with_replaces(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    cert = _install_cert(store, 'www', days_left=60)
    results, challenges, errors = _runner(fake_acme, store).run(normalize_certificates(SPEC))
    assert errors == []
    assert results['www']['action'] == 'order' and 'ARI' in results['www']['reason']
    assert ca.orders[0]['replaces'] == ari.cert_id(cert)
    assert challenges[0]['token'] == 'tok_1' and challenges[0]['key_authorization'] == 'tok_1.' + KEY.thumbprint
    order = json.load(open(os.path.join(store, 'www', 'order.json')))
    assert order['status'] == 'pending' and order['replaces'] == ari.cert_id(cert)
    assert json.load(open(os.path.join(store, 'www', 'ari.json')))['cert_id'] == ari.cert_id(cert)


def test_ari_window_in_future_means_no_order_and_use_ari_never(fake_acme, tmp_path):
    ca = CA(fake_acme)
    ca.window = ('2099-01-01T00:00:00Z', '2099-01-02T00:00:00Z')
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=60)
    results, _c, errors = _runner(fake_acme, store).run(normalize_certificates(SPEC))
    assert errors == [] and results['www']['action'] == 'none' and ca.orders == []
    ca.window = ('2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z')
    os.unlink(os.path.join(store, 'www', 'ari.json'))
    results, _c, errors = _runner(fake_acme, store, use_ari='never').run(normalize_certificates(SPEC))
    assert results['www']['action'] == 'none' and ca.orders == []


def test_check_mode_creates_nothing(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    results, challenges, errors = _runner(fake_acme, store, check_mode=True).run(normalize_certificates(SPEC))
    assert errors == [] and results['www']['action'] == 'order' and challenges == []
    assert ca.orders == [] and fake_acme.count('POST') == 0
    assert not os.path.exists(store)


def test_profile_sent_and_unknown_profile_refused(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    spec = [{'name': 'a', 'domains': ['www.example.com'], 'profile': 'shortlived'},
            {'name': 'b', 'domains': ['www.example.com'], 'profile': 'tlsserver'}]
    results, _c, errors = _runner(fake_acme, store).run(normalize_certificates(spec))
    assert results['a']['action'] == 'order' and ca.orders[0]['profile'] == 'shortlived'
    assert results['b']['action'] == 'error' and "profile 'tlsserver'" in results['b']['error']
    assert 'classic, shortlived' in results['b']['error'] and len(errors) == 1


def test_malicious_token_is_refused_and_nothing_written(fake_acme, tmp_path):
    CA(fake_acme, token='../../etc/cron.d/x')
    store = str(tmp_path / 'store')
    results, challenges, errors = _runner(fake_acme, store).run(normalize_certificates(SPEC))
    assert results['www']['action'] == 'error' and 'invalid challenge token' in results['www']['error']
    assert challenges == [] and not os.path.exists(os.path.join(store, 'www', 'order.json'))


def test_pending_order_is_resumed_then_abandoned_when_invalid(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    status = {'value': 'pending'}
    fake_acme.routes['/order/*'] = lambda f, m, b, p, path: (200, {}, {
        'status': status['value'], 'expires': '2099-01-01T00:00:00Z', 'authorizations': [f.url('/authz/1')],
        'finalize': f.url('/finalize/1')})
    specs = normalize_certificates(SPEC)
    results, _c, _e = _runner(fake_acme, store).run(specs)
    first_url = results['www']['order_url']
    assert results['www']['action'] == 'order' and len(ca.orders) == 1
    # second run: the stored order is still pending at the CA -> resumed, no new order
    results, challenges, _e = _runner(fake_acme, store).run(specs)
    assert results['www']['action'] == 'resume' and results['www']['order_url'] == first_url
    assert len(ca.orders) == 1 and len(challenges) == 1
    # check mode sees the resume too, without writing
    before = open(os.path.join(store, 'www', 'order.json')).read()
    results, _c, _e = _runner(fake_acme, store, check_mode=True).run(specs)
    assert results['www']['action'] == 'resume'
    assert open(os.path.join(store, 'www', 'order.json')).read() == before
    # the order went invalid at the CA -> a new order replaces it
    status['value'] = 'invalid'
    results, _c, _e = _runner(fake_acme, store).run(specs)
    assert results['www']['action'] == 'order' and len(ca.orders) == 2
    assert results['www']['order_url'] != first_url
    # a changed request abandons the pending order even when nothing else is due
    status['value'] = 'pending'
    changed = normalize_certificates([{'name': 'www', 'domains': ['www.example.com', 'example.com']}])
    results, _c, _e = _runner(fake_acme, store, check_mode=True).run(changed)
    assert results['www']['action'] == 'order' and len(ca.orders) == 2


def _issuer(store, name, directory):
    with open(os.path.join(store, name, 'issuer.json'), 'w') as handle:
        json.dump({'directory': directory}, handle)


def test_certificate_from_another_directory_is_replaced_without_ari(fake_acme, tmp_path):
    ca = CA(fake_acme)
    ca.window = ('2099-01-01T00:00:00Z', '2099-01-02T00:00:00Z')   # ARI would say: not yet
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=80)                        # and so would the lifetime
    _issuer(store, 'www', 'https://acme-staging.example/directory')
    results, _c, errors = _runner(fake_acme, store).run(normalize_certificates(SPEC))
    assert errors == []
    assert results['www']['action'] == 'order'
    assert 'another ACME directory (https://acme-staging.example/directory)' in results['www']['reason']
    # the other CA's certificate is not 'replaced' at this CA, and its ARI was not asked
    assert 'replaces' not in ca.orders[0]
    assert not os.path.exists(os.path.join(store, 'www', 'ari.json'))


def test_certificate_from_this_directory_follows_the_usual_rules(fake_acme, tmp_path):
    ca = CA(fake_acme)
    ca.window = ('2099-01-01T00:00:00Z', '2099-01-02T00:00:00Z')
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=80)
    _issuer(store, 'www', fake_acme.url('/dir') + '/')               # a trailing slash is the same directory
    results, _c, errors = _runner(fake_acme, store).run(normalize_certificates(SPEC))
    assert errors == [] and results['www']['action'] == 'none' and ca.orders == []


@pytest.mark.parametrize('window', [('2026-13-01T00:00:00Z', '2026-12-01T00:00:00Z'), (5, None)])
def test_malformed_ari_falls_back_to_the_lifetime_rule_with_a_warning(fake_acme, tmp_path, window):
    ca = CA(fake_acme)
    ca.window = window
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=10)   # the lifetime rule says: renew now
    runner = _runner(fake_acme, store)
    results, _c, errors = runner.run(normalize_certificates(SPEC))
    assert errors == []
    assert results['www']['action'] == 'order'
    assert 'replaces' not in ca.orders[0], 'no replaces without usable renewal information'
    assert any('ARI' in msg and 'lifetime rule' in msg for msg in runner.warnings)


def test_malformed_ari_with_use_ari_always_is_a_clear_error(fake_acme, tmp_path):
    ca = CA(fake_acme)
    ca.window = ('2026-13-01T00:00:00Z', '2026-12-01T00:00:00Z')
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=10)
    results, _c, errors = _runner(fake_acme, store, use_ari='always').run(normalize_certificates(SPEC))
    assert ca.orders == []
    assert errors and 'RFC 3339' in str(errors)
