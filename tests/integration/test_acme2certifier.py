# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our ACME modules against a second, independent ACME server: acme2certifier (openssl CA handler).

acme2certifier offers what the sandbox's pebble 2.4 lacks: renewal information (ARI, RFC 9773)
and certificate profiles. The slot (tests/sandbox/services/acme2certifier.py) configures two
profiles, ``classic`` (90 days, the default) and ``shortlived`` (6 days), and an ARI window that
starts at 85 % of the lifetime acme2certifier recorded for a certificate. To move one
certificate's window, a test changes that record (``issue_uts``/``expire_uts`` in its
database), then checks that the server really answers with the new window before relying on it.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import json
import os
import sqlite3
import ssl
import uuid
from urllib.request import urlopen

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.certpilot.tls.plugins.module_utils.acme.ari import cert_id
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore

from acme_store_util import account_task, acme_play, finalize_task, order_task, task, tracking  # noqa: E402  (tests/integration is on sys.path)

pytestmark = pytest.mark.timeout(600)  # two or three playbook runs each; slow only on a loaded machine

_FILES = (('webroot', '"{{ webroot }}"'), ('challenges', '"{{ order.challenges }}"'))
PLAYBOOK = acme_play('ACME issuance at acme2certifier', [
    account_task(('contact', '["mailto:pki@example.test"]'), register='account'),  # acme2certifier requires a contact
    order_task(),
    task('Challenge files', 'certpilot.tls.acme_http01_files', _FILES),
    finalize_task(register='finalize'),
    task('Remove the challenge files', 'certpilot.tls.acme_http01_files', _FILES + (('state', 'absent'),)),
], timeout=120)


@pytest.fixture(scope='module')
def a2c(sandbox):
    """sandbox.json's record of acme2certifier (fails clearly when the slot is missing)."""
    data = sandbox.get('services', {}).get('acme2certifier')
    if not data:
        pytest.fail('the sandbox has no acme2certifier service (tests/sandbox/services/acme2certifier.py); '
                    'run tests/tools/bootstrap.sh a2c and sandbox.py up', pytrace=False)
    return data


@pytest.fixture
def run_playbook(run_playbook, sandbox):
    """The conftest ``run_playbook``; removes the challenge files this test published, even when it fails."""
    yield from tracking(run_playbook, sandbox)


def _vars(sandbox, a2c, tmp_path, certificates):
    return {
        'acme_directory': a2c['directory'],
        'acme_ca_bundle': a2c['ca_bundle'],
        'account_key': str(tmp_path / 'account.key'),
        'store': str(tmp_path / 'store'),
        'certificates': certificates,
        'webroot': sandbox['hosts']['web1']['webroot'],
    }


def _names(tag):
    base = '%s-%s.example.test' % (tag, uuid.uuid4().hex[:8])
    return [base, 'www.' + base]


def _run(run_playbook, extra, what):
    res = run_playbook(PLAYBOOK, extra_vars=extra)
    assert res.rc == 0, '%s: %s' % (what, res.explain())
    return res


def _load(path):
    with open(path, 'rb') as handle:
        return x509.load_pem_x509_certificates(handle.read())


def _lifetime(cert):
    return cert.not_valid_after_utc - cert.not_valid_before_utc


def _db(a2c):
    return sqlite3.connect(a2c['ari']['database'], timeout=10)


def _a2c_cert_row(a2c, cert):
    """acme2certifier's record of ``cert``: (issue_uts, expire_uts), found by its DER."""
    raw = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode('ascii')
    with _db(a2c) as conn:
        rows = conn.execute('SELECT issue_uts, expire_uts FROM certificate WHERE cert_raw = ?', (raw,)).fetchall()
    assert len(rows) == 1, 'acme2certifier has %d records of serial %x' % (len(rows), cert.serial_number)
    return rows[0]


def _move_ari_window(a2c, cert, start, end):
    """Make acme2certifier suggest [start, end] for ``cert`` (window start = issue + pct * lifetime)."""
    pct = a2c['ari']['renewal_threshold_percent'] / 100.0
    end_uts = int(end.timestamp())
    issue_uts = int(round((start.timestamp() - pct * end_uts) / (1 - pct)))
    raw = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode('ascii')
    with _db(a2c) as conn:
        changed = conn.execute('UPDATE certificate SET issue_uts = ?, expire_uts = ? WHERE cert_raw = ?',
                               (issue_uts, end_uts, raw)).rowcount
    assert changed == 1


def _renewal_info(a2c, cert):
    """The server's own ARI answer for ``cert``: (start, end) as aware datetimes."""
    tls = ssl.create_default_context(cafile=a2c['ca_bundle'])
    with urlopen(a2c['directory'], context=tls, timeout=10) as resp:
        base = json.load(resp)['renewalInfo'].rstrip('/')
    with urlopen('%s/%s' % (base, cert_id(cert)), context=tls, timeout=10) as resp:
        window = json.load(resp)['suggestedWindow']

    def parse(text):
        return datetime.datetime.strptime(text.replace('Z', '+0000'), '%Y-%m-%dT%H:%M:%S%z')
    return parse(window['start']), parse(window['end'])


def _account_orders(a2c, account_url):
    """(profile, cahandler) of every order acme2certifier holds for the account at ``account_url``."""
    name = account_url.rstrip('/').rsplit('/', 1)[-1]
    with _db(a2c) as conn:
        return conn.execute('SELECT orders.profile, orders.cahandler FROM orders JOIN account '
                            'ON orders.account_id = account.id WHERE account.name = ?', (name,)).fetchall()


def _issued(finalize):
    """Names of the certificates acme_finalize installed."""
    return sorted(name for name, result in finalize['certificates'].items() if result.get('changed'))


def _issue(run_playbook, extra, what='first issuance'):
    res = _run(run_playbook, extra, what)
    order = res.task_results('Order')['localhost']
    finalize = res.task_results('Finalize')['localhost']
    return res, order, finalize


def test_issue_end_to_end_http01(sandbox, a2c, run_playbook, tmp_path):
    names = _names('a2c-issue')
    extra = _vars(sandbox, a2c, tmp_path, [{'name': 'site', 'domains': names}])
    _res, order, finalize = _issue(run_playbook, extra)
    assert order['certificates']['site']['action'] == 'order', order
    assert _issued(finalize) == ['site'], finalize
    out = finalize['certificates']['site']
    chain = _load(out['fullchain_path'])
    leaf = chain[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)
    with open(out['key_path'], 'rb') as handle:
        key = serialization.load_pem_private_key(handle.read(), None)
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    # signed by acme2certifier's issuing CA, which chains to its root (not pebble's)
    issuing = _load(a2c['intermediates'][0])[0]
    root = _load(a2c['roots'][0])[0]
    assert len(chain) >= 2 and chain[1] == issuing
    leaf.verify_directly_issued_by(issuing)
    issuing.verify_directly_issued_by(root)
    # the default profile applies when none is asked for
    assert abs(_lifetime(leaf) - datetime.timedelta(days=a2c['profiles'][a2c['default_profile']]['validity_days'])) \
        < datetime.timedelta(minutes=5)
    # the key authorization was really fetched from the sandbox nginx (web1's http-01 port) by acme2certifier
    with open(os.path.join(sandbox['hosts']['web1']['logs'], 'access.log')) as handle:
        fetched = [line for line in handle if '/.well-known/acme-challenge/' in line and 'acme2certifier' in line]
    tokens = [ch['token'] for ch in order['challenges']]
    assert len(tokens) == 2 and all(any(t in line for line in fetched) for t in tokens), fetched[-5:]
    challenge_dir = os.path.join(extra['webroot'], '.well-known', 'acme-challenge')
    assert not any(os.path.exists(os.path.join(challenge_dir, t)) for t in tokens), 'the challenge files are removed'

    # a second run has nothing to do
    again = _run(run_playbook, extra, 'second run')
    assert again.task_results('Order')['localhost']['certificates']['site']['action'] == 'none'
    assert _issued(again.task_results('Finalize')['localhost']) == []


def test_ari_window_in_the_future_does_not_renew(sandbox, a2c, run_playbook, tmp_path):
    extra = _vars(sandbox, a2c, tmp_path, [{'name': 'site', 'domains': _names('a2c-future')}])
    _res, _order, finalize = _issue(run_playbook, extra)
    leaf = _load(finalize['certificates']['site']['cert_path'])[0]
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = _renewal_info(a2c, leaf)
    assert now < start < end, 'acme2certifier suggests a window in the future for a new certificate'

    again = _run(run_playbook, extra, 'run with the ARI window in the future')
    result = again.task_results('Order')['localhost']['certificates']['site']
    assert result['action'] == 'none', result
    assert 'ARI' in result['reason'], result
    assert _issued(again.task_results('Finalize')['localhost']) == []
    cached = CertStore(extra['store']).load_json('site', 'ari.json')
    assert cached['cert_id'] == cert_id(leaf)
    assert cached['window'] == [start.strftime('%Y-%m-%dT%H:%M:%SZ'), end.strftime('%Y-%m-%dT%H:%M:%SZ')]


def test_ari_window_in_the_past_renews_with_replaces(sandbox, a2c, run_playbook, tmp_path):
    extra = _vars(sandbox, a2c, tmp_path, [{'name': 'site', 'domains': _names('a2c-past')}])
    _res, _order, finalize = _issue(run_playbook, extra)
    old = _load(finalize['certificates']['site']['cert_path'])[0]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    _move_ari_window(a2c, old, now - datetime.timedelta(days=3), now - datetime.timedelta(hours=1))
    start, end = _renewal_info(a2c, old)
    assert start < end < now, 'the server must now suggest a window in the past: %s - %s' % (start, end)
    assert old.not_valid_after_utc - now > datetime.timedelta(days=80), 'the certificate itself is still young'

    renewed = _run(run_playbook, extra, 'run with the ARI window in the past')
    result = renewed.task_results('Order')['localhost']['certificates']['site']
    assert result['action'] == 'order', result
    assert 'ARI' in result['reason'], result
    stored = CertStore(extra['store']).load_order('site')
    assert stored['url'] == result['order_url']
    assert stored['replaces'] == cert_id(old), 'the new order must carry replaces=<the old certificate id>'
    fin = renewed.task_results('Finalize')['localhost']
    assert _issued(fin) == ['site'], fin
    new = _load(fin['certificates']['site']['cert_path'])[0]
    assert new.serial_number != old.serial_number
    assert _a2c_cert_row(a2c, new)[1] > int(now.timestamp()) + 80 * 86400


def test_profile_is_honoured(sandbox, a2c, run_playbook, tmp_path):
    assert sorted(a2c['profiles']) == ['classic', 'shortlived']
    extra = _vars(sandbox, a2c, tmp_path, [
        {'name': 'short', 'domains': _names('a2c-short'), 'profile': 'shortlived'},
        {'name': 'classic', 'domains': _names('a2c-classic'), 'profile': 'classic'},
    ])
    res, order, finalize = _issue(run_playbook, extra)
    assert _issued(finalize) == ['classic', 'short'], finalize
    for name, profile in (('short', 'shortlived'), ('classic', 'classic')):
        leaf = _load(finalize['certificates'][name]['cert_path'])[0]
        want = datetime.timedelta(days=a2c['profiles'][profile]['validity_days'])
        assert abs(_lifetime(leaf) - want) < datetime.timedelta(minutes=5), (name, _lifetime(leaf))
    # the server recorded each order with its profile and signed it with that profile's CA handler
    account_url = res.task_results('Account')['localhost']['account_uri']
    assert sorted(_account_orders(a2c, account_url)) == [('classic', 'classic'), ('shortlived', 'shortlived')]
    assert order['certificates']['short']['action'] == 'order'


def test_unknown_profile_fails_clearly_before_any_order(sandbox, a2c, run_playbook, tmp_path):
    extra = _vars(sandbox, a2c, tmp_path, [{'name': 'typo', 'domains': _names('a2c-typo'), 'profile': 'shortlivd'}])
    res = run_playbook(PLAYBOOK, extra_vars=extra)
    assert res.rc != 0, res.explain()
    order = res.task_results('Order')['localhost']
    assert order.get('failed') is True, order
    text = json.dumps(order)
    assert "does not offer the profile 'shortlivd'" in text, text
    assert 'classic, shortlived' in text, 'the error names the offered profiles: %s' % text
    assert 'Traceback' not in text
    account_url = res.task_results('Account')['localhost']['account_uri']
    assert _account_orders(a2c, account_url) == [], 'no order may reach the CA'
    assert CertStore(extra['store']).load_order('typo') is None
