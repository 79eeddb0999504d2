# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certpilot.tls.acme_revoke and the revoke_and_replace playbook against the sandbox's pebble.

What pebble says is the truth here: its management API (``/cert-status-by-serial/<serial>``) must report
a certificate revoked (with the reason we sent) after the module says so, and valid when it must not have
been touched. "Nothing sent" is checked in pebble's own request log (``POST /revoke-cert`` lines).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import shutil
import subprocess
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import helpers
from acme_store_util import acme_play, public_key_der, tracking  # noqa: E402  (tests/integration is on sys.path)
from revoke_util import ISSUE, Pebble  # noqa: E402

pytestmark = pytest.mark.timeout(600)

# module_defaults through the action group: acme_revoke is a member of group/certpilot.tls.acme
REVOKE = acme_play('Revoke', ['    - name: Revoke\n'
                              '      certpilot.tls.acme_revoke: "{{ revoke_args }}"\n'
                              '      register: revoked\n'], timeout=120, account_key=False)


@pytest.fixture
def run_playbook(run_playbook, sandbox):
    """The conftest ``run_playbook``; removes the challenge files the Order task published, even on failure."""
    yield from tracking(run_playbook, sandbox)


@pytest.fixture
def pebble(sandbox):
    return Pebble(sandbox)


class Issued(object):
    """Certificates issued into a fresh store of this test, by one account."""

    def __init__(self, sandbox, run_playbook, tmp_path, count):
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.tag = 'rv' + uuid.uuid4().hex[:8]
        self.store = str(tmp_path / 'store')
        self.account_key = str(tmp_path / 'account.key')
        self.names = ['%s-%d' % (self.tag, index) for index in range(count)]
        # the sandbox DNS answers every unknown name with web1's address, whose webroot gets the files
        certificates = [{'name': n, 'domains': ['%s.example.test' % n]} for n in self.names]
        self.vars = {'acme_directory': sandbox['acme']['directory'], 'acme_ca_bundle': sandbox['acme']['ca_bundle'],
                     'account_key': self.account_key, 'store': self.store, 'certificates': certificates,
                     'webroot': sandbox['hosts']['web1']['webroot']}
        res = run_playbook(ISSUE, extra_vars=self.vars)
        assert res.rc == 0, res.explain()
        self.serials = dict((n, self.cert(n).serial_number) for n in self.names)

    def path(self, name, fname):
        return os.path.join(self.store, name, fname)

    def cert(self, name):
        with open(self.path(name, 'cert.pem'), 'rb') as handle:
            return x509.load_pem_x509_certificate(handle.read())

    def serial(self, name):
        return '%x' % self.serials[name]

    def record(self, name):
        path = os.path.join(os.path.realpath(os.path.join(self.store, name, 'current')), 'revoked.json')
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            return json.load(handle)

    def revoke(self, run_playbook, check=False, **args):
        extra = dict(self.vars, revoke_args=args)
        res = run_playbook(REVOKE, extra_vars=extra, check=check)
        return res, res.task_results('Revoke')['localhost']


def test_by_account_key_then_a_second_run_sends_nothing(sandbox, run_playbook, pebble, tmp_path):
    issued = Issued(sandbox, run_playbook, tmp_path, 1)
    name = issued.names[0]
    assert pebble.status(issued.serial(name))['Status'] == 'Valid'
    res, out = issued.revoke(run_playbook, store=issued.store, names=[name], account_key_src=issued.account_key,
                             reason='superseded')
    assert res.rc == 0, res.explain()
    assert out['changed'] is True and out['revoked'] == [name] and out['failed_certificates'] == {}
    result = out['certificates'][name]
    assert result['action'] == 'revoked' and result['serial'] == issued.serial(name)
    assert result['revoked_with'] == 'account_key' and result['reason_code'] == 4
    status = pebble.status(issued.serial(name))
    assert status['Status'] == 'Revoked' and status['Reason'] == 4, status
    assert issued.record(name)['serial'] == issued.serial(name)

    before = pebble.revoke_requests()
    res, again = issued.revoke(run_playbook, store=issued.store, names=[name], account_key_src=issued.account_key,
                               reason='superseded')
    assert res.rc == 0, res.explain()
    assert res.stats['localhost']['changed'] == 0, res.explain()
    assert again['certificates'][name]['action'] == 'none' and again['already_revoked'] == [name]
    assert again['http_requests'] == 0
    assert pebble.revoke_requests() == before, 'the second run sent a revokeCert request'


def test_by_certificate_key_without_any_account_key_then_already_revoked(sandbox, run_playbook, pebble, tmp_path):
    issued = Issued(sandbox, run_playbook, tmp_path, 1)
    name = issued.names[0]
    res, out = issued.revoke(run_playbook, store=issued.store, names=[name], revoke_with='certificate_key',
                             reason='keyCompromise')
    assert res.rc == 0, res.explain()
    assert out['changed'] is True and out['certificates'][name]['revoked_with'] == 'certificate_key'
    status = pebble.status(issued.serial(name))
    assert status['Status'] == 'Revoked' and status['Reason'] == 1, status
    with open(issued.path(name, 'privkey.pem')) as handle:
        key_text = handle.read()
    assert key_text.strip().splitlines()[1] not in res.stdout + res.stderr

    # the same certificate given as files: nothing recorded for those, pebble answers alreadyRevoked
    before = pebble.revoke_requests()
    res, again = issued.revoke(run_playbook, certificate_path=os.path.realpath(issued.path(name, 'cert.pem')),
                               private_key_content=key_text, revoke_with='certificate_key', reason=1)
    assert res.rc == 0, res.explain()
    label = os.path.realpath(issued.path(name, 'cert.pem'))
    assert again['changed'] is False and again['certificates'][label]['action'] == 'already revoked', res.explain()
    assert pebble.revoke_requests() > before  # more than one when pebble refused a nonce (badNonce is retried)
    assert key_text.strip().splitlines()[1] not in res.stdout + res.stderr


def test_bulk_with_one_bad_name_revokes_the_others_and_fails_naming_it(sandbox, run_playbook, pebble, tmp_path):
    issued = Issued(sandbox, run_playbook, tmp_path, 3)
    bad = issued.tag + '-missing'
    names = [issued.names[0], bad] + issued.names[1:]
    res, out = issued.revoke(run_playbook, store=issued.store, names=names, account_key_src=issued.account_key,
                             reason=5, concurrency=2)
    assert res.rc != 0, res.explain()
    assert bad in out['msg'] and out['msg'].startswith('1 of 4 certificates failed'), out['msg']
    assert sorted(out['failed_certificates']) == [bad]
    assert sorted(out['revoked']) == sorted(issued.names)
    for name in issued.names:
        status = pebble.status(issued.serial(name))
        assert status['Status'] == 'Revoked' and status['Reason'] == 5, (name, status)


def test_another_accounts_key_is_refused_by_the_ca_and_reported_by_name(sandbox, run_playbook, pebble, tmp_path):
    """pebble refuses a revocation signed by an account that neither ordered the certificate nor holds its names."""
    mine = Issued(sandbox, run_playbook, tmp_path / 'a', 2)
    other = Issued(sandbox, run_playbook, tmp_path / 'b', 1)
    res, out = mine.revoke(run_playbook, store=mine.store, names=mine.names, account_key_src=other.account_key,
                           fail_on_error=False)
    assert res.rc == 0, res.explain()
    assert sorted(out['failed_certificates']) == sorted(mine.names)
    for name in mine.names:
        entry = out['failed_certificates'][name]
        assert entry['reason'] == 'ca-problem' and entry['stage'] == 'revoke', entry
        assert entry['problem']['type'].startswith('urn:ietf:params:acme:error:'), entry
        assert pebble.status(mine.serial(name))['Status'] == 'Valid'
        assert mine.record(name) is None
    assert any('failed' in w for w in res.task_results('Revoke')['localhost'].get('warnings', [])), res.explain()


def test_check_mode_sends_nothing_and_records_nothing(sandbox, run_playbook, pebble, tmp_path):
    issued = Issued(sandbox, run_playbook, tmp_path, 2)
    before = pebble.revoke_requests()
    for revoke_with in ('account_key', 'certificate_key'):
        res, out = issued.revoke(run_playbook, check=True, store=issued.store, names=issued.names,
                                 account_key_src=issued.account_key, revoke_with=revoke_with, reason='keyCompromise')
        assert res.rc == 0, res.explain()
        assert out['changed'] is True and sorted(out['revoked']) == sorted(issued.names)
        assert all(r['action'] == 'would revoke' for r in out['certificates'].values())
        assert out['http_requests'] == 0
    assert pebble.revoke_requests() == before
    for name in issued.names:
        assert pebble.status(issued.serial(name))['Status'] == 'Valid'
        assert issued.record(name) is None


def test_refused_reason_sends_nothing(sandbox, run_playbook, pebble, tmp_path):
    issued = Issued(sandbox, run_playbook, tmp_path, 1)
    before = pebble.revoke_requests()
    res, out = issued.revoke(run_playbook, store=issued.store, names=issued.names, account_key_src=issued.account_key,
                             reason='2')
    assert res.rc != 0 and 'cACompromise' in out['msg'], res.explain()
    assert pebble.revoke_requests() == before
    assert pebble.status(issued.serial(issued.names[0]))['Status'] == 'Valid'


# -- the playbook ---------------------------------------------------------------------------------------------
RENEW = os.path.join(helpers.REPO, 'playbooks', 'renew.yml')
REPLACE = os.path.join(helpers.REPO, 'playbooks', 'revoke_and_replace.yml')


def _served(sandbox, host, server_name):
    """The certificate ``host`` serves for ``server_name`` (TLS handshake)."""
    info = sandbox['hosts'][host]
    return x509.load_der_x509_certificate(helpers.tls_peer_cert(info['address'], info['https_port'], server_name))


def _pem_cert(path):
    with open(path, 'rb') as handle:
        return x509.load_pem_x509_certificate(handle.read())


def _key_der(path):
    with open(path, 'rb') as handle:
        return public_key_der(serialization.load_pem_private_key(handle.read(), None))


class Site(object):
    """Two certificates served by web1 (only one of them is replaced), their store and playbook variables."""

    def __init__(self, sandbox, dns, tmp_path):
        self.sandbox = sandbox
        self.dns = dns
        self.tag = 'rr' + uuid.uuid4().hex[:8]
        self.store = str(tmp_path / 'store')
        os.makedirs(self.store)
        self.address = sandbox['hosts']['web1']['address']
        self.certs = []
        for suffix in ('bad', 'keep'):
            domain = '%s-%s.example.test' % (self.tag, suffix)
            dns.add_a(domain, self.address)
            # reuse_key on the compromised one: the playbook (and acme_order) must generate a new key all the same
            self.certs.append({'name': '%s-%s' % (self.tag, suffix), 'domains': [domain], 'hosts': ['web1'],
                               'reuse_key': suffix == 'bad'})
        self.bad, self.keep = self.certs[0]['name'], self.certs[1]['name']
        self.cleanup_names = [c['domains'][0] for c in self.certs]

    def domain(self, name):
        return [c for c in self.certs if c['name'] == name][0]['domains'][0]

    def extra_vars(self, **more):
        out = {
            'renew_web_hosts': 'web1', 'renew_acme_host': 'localhost', 'renew_become': False,
            'renew_certificates': self.certs,
            'acme_certificates_directory': self.sandbox['acme']['directory'],
            'acme_certificates_ca_bundle': self.sandbox['acme']['ca_bundle'],
            'acme_certificates_store': self.store,
            'acme_certificates_account_key_src': os.path.join(self.store, 'account.key'),
            'acme_certificates_terms_agreed': True,
            'acme_certificates_webroot_var': 'sandbox_webroot',
            'nginx_webroot_path': '{{ sandbox_webroot }}', 'nginx_webroot_snippet': False,
            'nginx_webroot_http_port': '{{ sandbox_http_port }}', 'nginx_webroot_https_port': '{{ sandbox_https_port }}',
            'nginx_webroot_listen_address': '{{ sandbox_address }}',
            'nginx_webroot_server_names': [c['domains'][0] for c in self.certs],
            'nginx_webroot_conf_dir': '{{ sandbox_nginx_conf_dir }}',
            'nginx_webroot_http_conf_name': 'certpilot-%s-http.conf' % self.tag,
            'nginx_webroot_binary': '{{ sandbox_nginx_binary }}', 'nginx_webroot_conf': '{{ sandbox_nginx_conf }}',
            'nginx_webroot_reload_command': '{{ sandbox_nginx_binary }} -c {{ sandbox_nginx_conf }} -s reload',
            'cert_push_store': self.store, 'cert_push_dest_dir': '{{ sandbox_cert_dir }}',
            'cert_push_nginx_binary': '{{ sandbox_nginx_binary }}', 'cert_push_nginx_conf': '{{ sandbox_nginx_conf }}',
            'cert_push_nginx_conf_dir': '{{ sandbox_nginx_conf_dir }}',
            'cert_push_reload_command': '{{ sandbox_nginx_binary }} -c {{ sandbox_nginx_conf }} -s reload',
            'cert_push_vhost': True, 'cert_push_https_port': '{{ sandbox_https_port }}',
            'cert_push_listen_address': '{{ sandbox_address }}', 'cert_push_verify_address': '{{ sandbox_address }}',
        }
        out.update(more)
        return out

    def cleanup(self):
        info = self.sandbox['hosts']['web1']
        for path in [os.path.join(info['nginx_conf_dir'], 'certpilot-%s.conf' % c['name']) for c in self.certs] + \
                [os.path.join(info['nginx_conf_dir'], 'certpilot-%s-http.conf' % self.tag)]:
            if os.path.exists(path):
                os.unlink(path)
        for cert in self.certs:
            shutil.rmtree(os.path.join(info['cert_dir'], cert['name']), ignore_errors=True)
        for name in self.cleanup_names:
            self.dns.clear_a(name)
        subprocess.run([info['nginx_binary'], '-c', info['nginx_conf'], '-s', 'reload'], check=False,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)


@pytest.fixture
def site(sandbox, sandbox_dns, tmp_path):
    made = Site(sandbox, sandbox_dns, tmp_path)
    yield made
    made.cleanup()


@pytest.mark.timeout(900)
def test_revoke_and_replace_serves_a_new_key_and_never_the_old_one(sandbox, run_playbook, pebble, site):
    first = run_playbook(RENEW, extra_vars=site.extra_vars())
    assert first.rc == 0, first.explain()
    old = dict((c['name'], _pem_cert(os.path.join(site.store, c['name'], 'cert.pem'))) for c in site.certs)
    old_key = _key_der(os.path.join(site.store, site.bad, 'privkey.pem'))
    assert _served(sandbox, 'web1', site.domain(site.bad)) == old[site.bad]
    old_serial = '%x' % old[site.bad].serial_number

    # --check: nothing revoked, issued or deployed, nothing sent to pebble
    before = pebble.revoke_requests()
    check = run_playbook(REPLACE, extra_vars=site.extra_vars(revoke_and_replace_names=[site.bad]), check=True)
    assert check.rc == 0, check.explain()
    assert check.task_results('Revoke the current certificate of each name (recorded in the store)')['localhost'][
        'certificates'][site.bad]['action'] == 'would revoke'
    assert pebble.revoke_requests() == before
    assert pebble.status(old_serial)['Status'] == 'Valid'
    assert _pem_cert(os.path.join(site.store, site.bad, 'cert.pem')) == old[site.bad]

    res = run_playbook(REPLACE, extra_vars=site.extra_vars(revoke_and_replace_names=[site.bad]))
    assert res.rc == 0, res.explain()
    # the old certificate is revoked at the CA, for keyCompromise, signed with its own key
    status = pebble.status(old_serial)
    assert status['Status'] == 'Revoked' and status['Reason'] == 1, status
    revoked = res.task_results('Revoke the current certificate of each name (recorded in the store)')['localhost']
    assert revoked['certificates'][site.bad]['revoked_with'] == 'certificate_key'
    # a new certificate with a new key is in the store, valid at the CA, and is what web1 serves
    new = _pem_cert(os.path.join(site.store, site.bad, 'cert.pem'))
    assert new.serial_number != old[site.bad].serial_number
    assert public_key_der(new) != public_key_der(old[site.bad]), 'the replacement reuses the revoked key'
    assert _key_der(os.path.join(site.store, site.bad, 'privkey.pem')) != old_key
    assert pebble.status('%x' % new.serial_number)['Status'] == 'Valid'
    served = _served(sandbox, 'web1', site.domain(site.bad))
    assert served == new, 'web1 does not serve the replacement'
    assert public_key_der(served) != old_key
    deployed = os.path.join(sandbox['hosts']['web1']['cert_dir'], site.bad, 'privkey.pem')
    assert _key_der(deployed) == public_key_der(new) != old_key
    # no generation of the store holds the revoked key as its current key except the revoked one's own
    generations = os.path.join(site.store, site.bad, 'generations')
    current = os.path.basename(os.path.realpath(os.path.join(site.store, site.bad, 'current')))
    assert _key_der(os.path.join(generations, current, 'privkey.pem')) != old_key
    # the other certificate is untouched: same certificate, still valid, still served
    keep = _pem_cert(os.path.join(site.store, site.keep, 'cert.pem'))
    assert keep == old[site.keep]
    assert pebble.status('%x' % keep.serial_number)['Status'] == 'Valid'
    assert _served(sandbox, 'web1', site.domain(site.keep)) == keep
    assert hashlib.sha256(public_key_der(new)).hexdigest() != revoked['certificates'][site.bad]['public_key_sha256']


def test_revoke_and_replace_refuses_an_unknown_name_before_revoking(sandbox, run_playbook, pebble, site):
    before = pebble.revoke_requests()
    res = run_playbook(REPLACE, extra_vars=site.extra_vars(revoke_and_replace_names=[site.bad, 'nope']))
    assert res.rc != 0
    assert 'unknown: nope' in res.stdout, res.explain()
    assert pebble.revoke_requests() == before
    assert not os.path.exists(os.path.join(site.store, site.bad))


@pytest.mark.timeout(900)
def test_revoke_and_replace_names_a_certificate_it_could_not_replace(sandbox, run_playbook, sandbox_dns, pebble, site):
    first = run_playbook(RENEW, extra_vars=site.extra_vars())
    assert first.rc == 0, first.explain()
    old = _pem_cert(os.path.join(site.store, site.bad, 'cert.pem'))
    # the replacement also names a new domain that resolves to web3, which does not serve web1's challenge files:
    # its validation fails (a new identifier, so pebble cannot reuse an earlier authorization for it)
    extra = '%s-extra.example.test' % site.tag
    sandbox_dns.add_a(extra, sandbox['hosts']['web3']['address'])
    site.certs[0]['domains'].append(extra)
    site.cleanup_names.append(extra)
    res = run_playbook(REPLACE, extra_vars=site.extra_vars(revoke_and_replace_names=[site.bad],
                                                           cert_push_verify=False))
    assert res.rc != 0, res.explain()
    failure = res.task_results('Fail with one line per certificate that failed')['localhost']
    assert '%s: not replaced: the store still holds a certificate with the revoked key' % site.bad in failure['msg'], \
        failure['msg']
    assert pebble.status('%x' % old.serial_number)['Status'] == 'Revoked'
    assert _pem_cert(os.path.join(site.store, site.bad, 'cert.pem')) == old


PUSH = '''
- name: Push only
  hosts: web1
  gather_facts: false
  tasks:
    - name: Push
      ansible.builtin.include_role:
        name: certpilot.tls.cert_push
      vars:
        cert_push_certificates: "{{ renew_certificates }}"
'''


@pytest.mark.timeout(900)
def test_a_revoked_certificate_is_never_pushed_the_others_are(sandbox, run_playbook, pebble, site):
    """Revoked and not replaced yet (acme_revoke alone): cert_push pushes the other certificate of the host and
    fails naming the revoked one, whose files never reach a host that lacks them."""
    first = run_playbook(RENEW, extra_vars=site.extra_vars())
    assert first.rc == 0, first.explain()
    revoke_vars = {'acme_directory': sandbox['acme']['directory'], 'acme_ca_bundle': sandbox['acme']['ca_bundle'],
                   'revoke_args': {'store': site.store, 'names': [site.bad], 'revoke_with': 'certificate_key',
                                   'reason': 'keyCompromise'}}
    revoked = run_playbook(REVOKE, extra_vars=revoke_vars)
    assert revoked.rc == 0, revoked.explain()
    assert revoked.task_results('Revoke')['localhost']['revoked'] == [site.bad]

    # web1 as a host that never had the revoked certificate, and lost the files of the other one
    info = sandbox['hosts']['web1']
    os.unlink(os.path.join(info['nginx_conf_dir'], 'certpilot-%s.conf' % site.bad))
    shutil.rmtree(os.path.join(info['cert_dir'], site.bad))
    keep_dir = os.path.join(info['cert_dir'], site.keep)
    for fname in os.listdir(keep_dir):
        os.unlink(os.path.join(keep_dir, fname))

    res = run_playbook(PUSH, extra_vars=site.extra_vars())
    assert res.rc != 0, res.explain()
    assert res.stats['web1']['failures'] == 1, res.explain()
    failed = [line for line in res.stdout.splitlines() if 'not pushed, revoked in the store' in line]
    assert failed and site.bad in failed[0] and 'keyCompromise' in failed[0] and site.keep not in failed[0], res.stdout[-3000:]
    # the other certificate was pushed, reloaded and verified; nothing of the revoked one reached web1
    keep = _pem_cert(os.path.join(site.store, site.keep, 'cert.pem'))
    assert _pem_cert(os.path.join(keep_dir, 'fullchain.pem')) == keep
    assert _served(sandbox, 'web1', site.domain(site.keep)) == keep
    assert not os.path.exists(os.path.join(info['cert_dir'], site.bad))
    assert not os.path.exists(os.path.join(info['nginx_conf_dir'], 'certpilot-%s.conf' % site.bad))

    # the nightly renew replaces it (a new key), and then it is pushed again
    again = run_playbook(RENEW, extra_vars=site.extra_vars())
    assert again.rc == 0, again.explain()
    new = _pem_cert(os.path.join(site.store, site.bad, 'cert.pem'))
    assert _served(sandbox, 'web1', site.domain(site.bad)) == new
    assert pebble.status('%x' % new.serial_number)['Status'] == 'Valid'
