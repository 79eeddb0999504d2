# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""revocation.py against the scripted FakeAcme: reason codes, kid vs jwk JWS, alreadyRevoked, records, check mode."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import json
import os

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy
from ansible_collections.certpilot.tls.plugins.module_utils.acme import revocation
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey, generate_private_key, private_key_pem
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore

pytestmark = pytest.mark.timeout(60)
UTC = datetime.timezone.utc
ACCOUNT = AcmeKey.generate('ec256')


def _b64d(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def make_cert(name='www.example.test', key=None):
    key = key or generate_private_key('ec256')
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def install(store, name, directory, key=None):
    cert, key = make_cert('%s.example.test' % name, key)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    issuer = json.dumps({'directory': directory, 'serial': '%x' % cert.serial_number}).encode('utf-8')
    store.install(name, {'cert.pem': pem, 'chain.pem': b'', 'fullchain.pem': pem, 'privkey.pem': private_key_pem(key),
                         'issuer.json': issuer})
    return cert, key


class RevokeCA:
    """revokeCert of a CA: checks the JWS signature (kid -> the account key, jwk -> that key) and remembers serials."""

    def __init__(self, fake, answer=None):
        self.fake = fake
        self.answer = answer  # optional callable(serial) -> (status, headers, body) or None
        self.revoked = {}
        self.requests = []
        fake.directory_extra['revokeCert'] = fake.url('/revoke-cert')
        fake.routes['/new-acct'] = lambda f, m, b, p, path: (200, {'Location': f.url('/acct/1')}, {'status': 'valid'})
        fake.routes['/revoke-cert'] = self.revoke

    @staticmethod
    def _verify(body, protected, public_key):
        signature = _b64d(body['signature'])
        data = ('%s.%s' % (body['protected'], body['payload'])).encode('ascii')
        size = len(signature) // 2
        der = encode_dss_signature(int.from_bytes(signature[:size], 'big'), int.from_bytes(signature[size:], 'big'))
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))

    def revoke(self, fake, method, body, protected, path):
        assert fake.consume(protected['nonce'])
        payload = json.loads(_b64d(body['payload']))
        cert = x509.load_der_x509_certificate(_b64d(payload['certificate']))
        if 'jwk' in protected:
            jwk = protected['jwk']
            signer = ec.EllipticCurvePublicNumbers(int.from_bytes(_b64d(jwk['x']), 'big'),
                                                   int.from_bytes(_b64d(jwk['y']), 'big'), ec.SECP256R1()).public_key()
        else:
            assert protected['kid'] == fake.url('/acct/1')
            signer = ACCOUNT.key.public_key()
        try:
            self._verify(body, protected, signer)
        except InvalidSignature:
            return fake.problem('unauthorized', 'bad signature', 403)
        self.requests.append((protected, payload))
        serial = '%x' % cert.serial_number
        if self.answer is not None:
            scripted = self.answer(serial)
            if scripted is not None:
                return scripted
        if serial in self.revoked:
            return fake.problem('alreadyRevoked', 'Certificate has already been revoked', 400)
        self.revoked[serial] = payload.get('reason')
        return 200, {}, b''


@pytest.fixture
def ca(fake_acme):
    return RevokeCA(fake_acme)


def client_for(fake):
    return AcmeClient(fake.url('/dir'), verify=False, deadline=Deadline(20),
                      retry_policy=RetryPolicy(attempts=2, base=0.01, cap=0.05, jitter=0))


# -- reasons ------------------------------------------------------------------------------------------
@pytest.mark.parametrize('value, code', [
    (None, None), ('', None), (0, 0), ('1', 1), ('keyCompromise', 1), ('KEYCOMPROMISE', 1), (3, 3),
    ('superseded', 4), ('cessationOfOperation', 5), ('5', 5), ('privilegeWithdrawn', 9), ('unspecified', 0),
])
def test_allowed_reasons(value, code):
    assert revocation.parse_reason(value) == code


@pytest.mark.parametrize('value, word', [
    (2, 'cACompromise'), ('2', 'cACompromise'), ('cACompromise', 'cACompromise'), (6, 'certificateHold'),
    (7, 'unused'), (8, 'removeFromCRL'), ('removeFromCRL', 'removeFromCRL'), (10, 'aACompromise'),
])
def test_refused_reasons_name_the_code_and_what_is_allowed(value, word):
    with pytest.raises(CertpilotError) as err:
        revocation.parse_reason(value)
    assert word in err.value.msg and 'cannot be requested over ACME' in err.value.msg
    assert '1 (keyCompromise)' in err.value.msg and '9 (privilegeWithdrawn)' in err.value.msg


@pytest.mark.parametrize('value', [11, '42', 'compromised', True, 1.5, -1])
def test_unknown_reasons_are_refused(value):
    with pytest.raises(CertpilotError) as err:
        revocation.parse_reason(value)
    assert 'allowed: 0 (unspecified)' in err.value.msg


def test_refused_reason_fails_before_anything_is_sent(fake_acme, ca, tmp_path):
    with pytest.raises(CertpilotError):
        revocation.Revoker(client_for(fake_acme), ACCOUNT, CertStore(str(tmp_path)), reason='certificateHold')
    assert fake_acme.log == []


def test_payload_leaves_an_unset_reason_out():
    cert, _key = make_cert()
    assert 'reason' not in revocation.revoke_payload(cert, None)
    payload = revocation.revoke_payload(cert, 4)
    assert payload['reason'] == 4
    assert x509.load_der_x509_certificate(_b64d(payload['certificate'])) == cert


# -- the two JWS forms -------------------------------------------------------------------------------
def test_account_key_signs_with_kid(fake_acme, ca, tmp_path):
    store = CertStore(str(tmp_path))
    cert, _key = install(store, 'www', fake_acme.url('/dir'))
    revoker = revocation.Revoker(client_for(fake_acme), ACCOUNT, store, revoke_with='account_key', reason='superseded')
    result = revoker.revoke_stored('www')
    assert result['changed'] is True and result['action'] == 'revoked' and result['revoked'] is True
    protected, payload = ca.requests[0]
    assert protected['kid'] == fake_acme.url('/acct/1') and 'jwk' not in protected
    assert payload['reason'] == 4 and ca.revoked == {'%x' % cert.serial_number: 4}


def test_certificate_key_signs_with_its_jwk_and_needs_no_account(fake_acme, ca, tmp_path):
    store = CertStore(str(tmp_path))
    cert, key = install(store, 'www', fake_acme.url('/dir'))
    revoker = revocation.Revoker(client_for(fake_acme), None, store, revoke_with='certificate_key',
                                 reason='keyCompromise')
    result = revoker.revoke_stored('www')
    assert result['changed'] is True and result['reason'] == 'keyCompromise' and result['reason_code'] == 1
    protected, _payload = ca.requests[0]
    assert 'kid' not in protected and protected['jwk'] == AcmeKey(key).jwk
    assert fake_acme.count(path='/new-acct') == 0, 'no account lookup for a certificate-key revocation'


def test_certificate_key_that_is_not_the_certificates_is_refused_before_sending(fake_acme, ca, tmp_path):
    cert, _key = make_cert()
    other = private_key_pem(generate_private_key('ec256'))
    revoker = revocation.Revoker(client_for(fake_acme), None, None, revoke_with='certificate_key')
    with pytest.raises(CertpilotError) as err:
        revoker.given('cert.pem', cert.public_bytes(serialization.Encoding.PEM), other)
    assert 'does not belong to the certificate' in err.value.msg
    assert ca.requests == [] and fake_acme.count(method='POST') == 0


# -- idempotence -------------------------------------------------------------------------------------
def test_already_revoked_at_the_ca_is_ok_and_not_changed(fake_acme, ca, tmp_path):
    store = CertStore(str(tmp_path))
    cert, _key = install(store, 'www', fake_acme.url('/dir'))
    ca.revoked['%x' % cert.serial_number] = 0  # revoked elsewhere before (another tool, the CA's web site)
    result = revocation.Revoker(client_for(fake_acme), ACCOUNT, store).revoke_stored('www')
    assert result['changed'] is False and result['action'] == 'already revoked' and result['revoked'] is True
    record = json.loads(open(os.path.join(store.current_dir('www'), 'revoked.json')).read())
    assert record['serial'] == '%x' % cert.serial_number and record['already_revoked'] is True


def test_send_revocation_other_problems_are_raised(fake_acme, tmp_path):
    RevokeCA(fake_acme, answer=lambda serial: fake_acme.problem('unauthorized', 'not your certificate', 403))
    cert, _key = make_cert()
    client = client_for(fake_acme)
    with pytest.raises(AcmeProblem) as err:
        revocation.send_revocation(client, cert, 1, account_key=ACCOUNT, account_url=fake_acme.url('/acct/1'))
    assert err.value.is_type('unauthorized')


def test_recorded_revocation_sends_nothing_the_second_time(fake_acme, ca, tmp_path):
    store = CertStore(str(tmp_path))
    install(store, 'www', fake_acme.url('/dir'))
    first = revocation.Revoker(client_for(fake_acme), ACCOUNT, store, reason=5).revoke_stored('www')
    assert first['changed'] is True
    fake_acme.log[:] = []
    client = client_for(fake_acme)
    second = revocation.Revoker(client, ACCOUNT, store, reason=5).revoke_stored('www')
    assert second['changed'] is False and second['action'] == 'none' and second['revoked'] is True
    assert second['reason'] == 'cessationOfOperation' and second['revoked_at'] == first['revoked_at']
    assert fake_acme.log == [] and client.request_count == 0
    assert revocation.stored_revocation(store, 'www')['serial'] == first['serial']


def test_a_record_of_another_serial_is_not_believed(fake_acme, ca, tmp_path):
    """A record left for an older certificate (or copied by hand) never stops revoking the current one."""
    store = CertStore(str(tmp_path))
    cert, _key = install(store, 'www', fake_acme.url('/dir'))
    directory = store.current_dir('www')
    revocation.write_record(directory, {'serial': 'abcdef', 'reason': 'unspecified'})
    assert revocation.stored_revocation(store, 'www') is None
    result = revocation.Revoker(client_for(fake_acme), ACCOUNT, store).revoke_stored('www')
    assert result['changed'] is True and '%x' % cert.serial_number in ca.revoked


def test_a_new_generation_is_not_revoked_by_the_old_record(fake_acme, ca, tmp_path):
    store = CertStore(str(tmp_path))
    install(store, 'www', fake_acme.url('/dir'))
    revocation.Revoker(client_for(fake_acme), ACCOUNT, store).revoke_stored('www')
    assert revocation.stored_revocation(store, 'www') is not None
    install(store, 'www', fake_acme.url('/dir'))  # the replacement
    assert revocation.stored_revocation(store, 'www') is None


# -- check mode, bulk, per-item failures -----------------------------------------------------------------
def test_check_mode_sends_nothing_and_writes_nothing(fake_acme, ca, tmp_path):
    store = CertStore(str(tmp_path))
    install(store, 'www', fake_acme.url('/dir'))
    client = client_for(fake_acme)
    for revoke_with in revocation.REVOKE_WITH:
        result = revocation.Revoker(client, ACCOUNT, store, revoke_with=revoke_with, check_mode=True).revoke_stored('www')
        assert result['changed'] is True and result['action'] == 'would revoke' and result['revoked'] is False
    assert fake_acme.log == [] and client.request_count == 0
    assert not os.path.exists(os.path.join(store.current_dir('www'), 'revoked.json'))


def test_bulk_one_bad_name_never_stops_the_others(fake_acme, tmp_path):
    refused = set()
    ca = RevokeCA(fake_acme, answer=lambda serial: fake_acme.problem('unauthorized', 'no', 403)
                  if serial in refused else None)
    store = CertStore(str(tmp_path))
    certs = dict((name, install(store, name, fake_acme.url('/dir'))[0]) for name in ('a', 'b', 'c', 'd'))
    refused.add('%x' % certs['c'].serial_number)
    os.makedirs(os.path.join(str(tmp_path), 'empty'))
    revoker = revocation.Revoker(client_for(fake_acme), ACCOUNT, store)
    results = revoker.run(['a', 'missing', 'b', '../etc', 'c', 'empty', 'd', 'a'], concurrency=3)
    assert list(results) == ['a', 'missing', 'b', '../etc', 'c', 'empty', 'd']
    assert sorted(revoker.failed) == ['../etc', 'c', 'empty', 'missing']
    assert 'no such certificate' in revoker.failed['missing']['msg']
    assert 'invalid certificate name' in revoker.failed['../etc']['msg']
    assert 'no certificate for it yet' in revoker.failed['empty']['msg']
    assert revoker.failed['c']['reason'] == 'ca-problem' and revoker.failed['c']['stage'] == 'revoke'
    assert revoker.failed['c']['problem']['type'] == 'urn:ietf:params:acme:error:unauthorized'
    assert sorted(ca.revoked) == sorted('%x' % certs[n].serial_number for n in ('a', 'b', 'd'))
    for name in ('a', 'b', 'd'):
        assert results[name]['changed'] is True
    assert results['c']['action'] == 'error' and results['c']['changed'] is False


def test_certificate_of_another_directory_is_refused(fake_acme, ca, tmp_path):
    store = CertStore(str(tmp_path))
    install(store, 'www', 'https://acme-staging.example.test/dir')
    revoker = revocation.Revoker(client_for(fake_acme), ACCOUNT, store)
    revoker.run(['www'])
    assert 'issued by https://acme-staging.example.test/dir' in revoker.failed['www']['msg']
    assert ca.requests == []


# -- acme_order after a revocation -------------------------------------------------------------------------
def test_order_renews_a_revoked_certificate_with_a_new_key_even_with_reuse_key(fake_acme, tmp_path):
    from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.acme.test_finalizer import KEY, StatefulCA
    from ansible_collections.certpilot.tls.plugins.module_utils.acme.finalizer import Finalizer
    from ansible_collections.certpilot.tls.plugins.module_utils.acme.order_runner import OrderRunner, normalize_certificates
    StatefulCA(fake_acme)
    ca = RevokeCA(fake_acme)
    store = CertStore(str(tmp_path / 'store'))
    specs = normalize_certificates([{'name': 'www', 'domains': ['www.example.com'], 'reuse_key': True}])
    results, _chals, errors = OrderRunner(client_for(fake_acme), KEY, store).run(specs)
    assert errors == [] and results['www']['action'] == 'order'
    assert Finalizer(client_for(fake_acme), KEY, store).run(['www'])[1] == []
    old_key = store.read('www', 'privkey.pem')
    # not due: a fresh certificate, reuse_key set
    results, _chals, _errors = OrderRunner(client_for(fake_acme), KEY, store).run(specs)
    assert results['www']['action'] == 'none', results

    revoked = revocation.Revoker(client_for(fake_acme), None, store, revoke_with='certificate_key',
                                 reason='keyCompromise').revoke_stored('www')
    assert revoked['changed'] is True and len(ca.revoked) == 1
    runner = OrderRunner(client_for(fake_acme), KEY, store)
    results, _chals, errors = runner.run(specs)
    assert errors == [] and results['www']['action'] == 'order'
    assert 'revoked (keyCompromise' in results['www']['reason']
    assert any('reuse_key is set but the current certificate was revoked' in w for w in runner.warnings)
    assert store.load_order('www')['reuse_key'] is False
    assert store.read('www', 'pending', 'privkey.pem') not in (None, old_key)
    assert Finalizer(client_for(fake_acme), KEY, store).run(['www'])[1] == []
    new_key = store.read('www', 'privkey.pem')
    assert new_key != old_key
    assert revocation.stored_revocation(store, 'www') is None, 'the new certificate is not the revoked one'


def test_flat_layout_is_migrated_first_so_the_record_is_in_the_generation(fake_acme, ca, tmp_path):
    store = CertStore(str(tmp_path))
    cert, key = make_cert('old.example.test')
    folder = os.path.join(str(tmp_path), 'old')
    os.makedirs(folder)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    for fname, data in (('cert.pem', pem), ('fullchain.pem', pem), ('chain.pem', b''),
                        ('privkey.pem', private_key_pem(key))):
        with open(os.path.join(folder, fname), 'wb') as handle:
            handle.write(data)
    assert store.current_generation('old') is None
    result = revocation.Revoker(client_for(fake_acme), ACCOUNT, store).revoke_stored('old')
    assert result['changed'] is True
    assert store.current_generation('old') is not None
    assert os.path.isfile(os.path.join(store.current_dir('old'), 'revoked.json'))
    assert revocation.stored_revocation(store, 'old')['serial'] == '%x' % cert.serial_number


def test_a_missing_account_is_looked_up_once_and_named_for_every_certificate(fake_acme, ca, tmp_path):
    fake_acme.routes['/new-acct'] = lambda f, m, b, p, path: f.problem('accountDoesNotExist', 'no such account')
    store = CertStore(str(tmp_path))
    for name in ('a', 'b', 'c'):
        install(store, name, fake_acme.url('/dir'))
    revoker = revocation.Revoker(client_for(fake_acme), ACCOUNT, store)
    revoker.run(['a', 'b', 'c'], concurrency=3)
    assert sorted(revoker.failed) == ['a', 'b', 'c']
    assert all('no ACME account exists' in entry['msg'] for entry in revoker.failed.values())
    assert fake_acme.count(path='/new-acct') == 1 and ca.requests == []


def test_an_imported_certificate_is_not_sent_to_the_acme_ca(fake_acme, ca, tmp_path):
    store = CertStore(str(tmp_path))
    cert, key = make_cert('www.example.test')
    pem = cert.public_bytes(serialization.Encoding.PEM)
    store.install('www', {'cert.pem': pem, 'chain.pem': b'', 'fullchain.pem': pem, 'privkey.pem': private_key_pem(key),
                          'issuer.json': json.dumps({'kind': 'import', 'source': 'DigiCert'}).encode('utf-8')})
    revoker = revocation.Revoker(client_for(fake_acme), ACCOUNT, store)
    revoker.run(['www'])
    assert 'imported from DigiCert' in revoker.failed['www']['msg'] and 'revoke it at its source' in revoker.failed['www']['msg']
    assert ca.requests == []
