# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import ari
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import generate_private_key

pytestmark = pytest.mark.timeout(60)
UTC = datetime.timezone.utc
AKI = bytes.fromhex('69885B6B87464041E1B37B847BA0AE2CDE01C8D4')


def _cert(serial=0x87654321, aki=AKI):
    key = generate_private_key('ec256')
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'ari.example.com')])
    now = datetime.datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(serial).not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=89)))
    if aki is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
    return builder.sign(key, hashes.SHA256())


def test_cert_id_rfc9773_example():
    # RFC 9773 section 4.1: AKI 69:88:5B:..:D4, serial 00:87:65:43:21
    assert ari.cert_id(_cert()) == 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE'


def test_cert_id_serial_without_high_bit_and_missing_aki():
    assert ari.cert_id(_cert(serial=0x1234)).endswith('.EjQ')
    with pytest.raises(CertpilotError, match='Authority Key Identifier'):
        ari.cert_id(_cert(aki=None))


def test_parse_time_variants():
    assert ari.parse_time('2025-01-02T04:00:00Z') == datetime.datetime(2025, 1, 2, 4, tzinfo=UTC)
    assert ari.parse_time('2025-01-02T06:30:00.5+02:30') == datetime.datetime(2025, 1, 2, 4, 0, 0, 500000, tzinfo=UTC)
    with pytest.raises(CertpilotError):
        ari.parse_time('yesterday')


def test_pick_time_is_inside_the_window():
    start = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    end = start + datetime.timedelta(days=2)
    rng = random.Random(7)
    picks = [ari.pick_time(start, end, rng) for dummy in range(200)]
    assert all(start <= p <= end for p in picks)
    assert len(set(picks)) > 150, 'the time is random, not always the start'


def _serve(fake, window_start, window_end, retry_after='3600'):
    fake.directory_extra['renewalInfo'] = fake.url('/ari/')

    def renewal(fake_, method, body, protected, path):
        assert method == 'GET'
        return 200, {'Retry-After': retry_after, 'Replay-Nonce': None}, {
            'suggestedWindow': {'start': window_start, 'end': window_end},
            'explanationURL': 'https://ca.example/why'}
    fake.routes['/ari/*'] = renewal


def test_window_in_the_past_means_renew_now_and_cache_until_retry_after(fake_acme):
    now = datetime.datetime.now(UTC)
    _serve(fake_acme, ari.parse_time('2020-01-01T00:00:00Z').isoformat(), '2020-01-02T00:00:00Z')
    client = AcmeClient(fake_acme.url('/dir'), verify=False, deadline=Deadline(10))
    cert = _cert()
    renew_at, expl, doc, fetched = ari.renewal_info(client, cert, None, now)
    assert fetched and renew_at <= now and expl == 'https://ca.example/why'
    assert fake_acme.count('GET', '/ari/' + ari.cert_id(cert)) == 1
    # stored with whole seconds (timeutil.iso_z), so at most one second earlier than asked
    assert datetime.timedelta(seconds=3599) < ari.parse_time(doc['valid_until']) - now <= datetime.timedelta(seconds=3600)
    # cached: no request within Retry-After, same chosen time
    again, _e, _d, fetched = ari.renewal_info(client, cert, doc, now + datetime.timedelta(seconds=60))
    assert not fetched and again == renew_at
    assert fake_acme.count('GET') == 2  # directory + one renewalInfo
    # after Retry-After it asks again, keeping the chosen time for the same window
    later, _e, _d, fetched = ari.renewal_info(client, cert, doc, now + datetime.timedelta(seconds=3601))
    assert fetched and later == renew_at


def test_window_in_the_future_means_later(fake_acme):
    now = datetime.datetime.now(UTC)
    start, end = now + datetime.timedelta(days=30), now + datetime.timedelta(days=32)
    _serve(fake_acme, start.isoformat().replace('+00:00', 'Z'), end.isoformat().replace('+00:00', 'Z'))
    client = AcmeClient(fake_acme.url('/dir'), verify=False, deadline=Deadline(10))
    renew_at, _expl, _doc, _fetched = ari.renewal_info(client, _cert(), None, now)
    assert start <= renew_at <= end


def test_broken_window_is_an_error(fake_acme):
    _serve(fake_acme, '2025-01-02T00:00:00Z', '2025-01-01T00:00:00Z')
    client = AcmeClient(fake_acme.url('/dir'), verify=False, deadline=Deadline(10))
    with pytest.raises(CertpilotError, match='ends before it starts'):
        ari.renewal_info(client, _cert(), None)


@pytest.mark.parametrize('text', ['2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01T25:00:00Z',
                                  '2026-01-01T00:00:00+99:00', '\u0662026-01-01T00:00:00Z', 5, None, ['x']])
def test_parse_time_refuses_impossible_or_non_ascii_dates_with_a_clear_error(text):
    with pytest.raises(CertpilotError, match='invalid RFC 3339 timestamp'):
        ari.parse_time(text)


@pytest.mark.parametrize('doc', ['a string', {'suggestedWindow': 'x'}, {'suggestedWindow': {'start': 1, 'end': 2}},
                                 {'suggestedWindow': {'start': '2026-13-01T00:00:00Z', 'end': '2026-12-01T00:00:00Z'}}])
def test_malformed_renewal_info_is_a_certpilot_error(doc):
    with pytest.raises(CertpilotError):
        ari.parse_renewal_info(doc)
