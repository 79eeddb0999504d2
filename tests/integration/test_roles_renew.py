# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/renew.yml with the roles nginx_webroot, acme_certificates, cert_push against the sandbox.

Every test uses its own store, certificate names and DNS names, and removes its nginx files afterwards,
so that it does not disturb the other tests sharing the sandbox.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import uuid

import pytest

import helpers

RENEW = os.path.join(helpers.REPO, 'playbooks', 'renew.yml')
WEB = ('web1', 'web2', 'web3')

pytestmark = pytest.mark.timeout(900)


def served(sandbox, host, server_name, verify=True):
    """(fingerprint, DER) of what ``host`` serves for ``server_name``, validated against pebble's roots."""
    info = sandbox['hosts'][host]
    if verify:
        ctx = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH)
        ctx.load_verify_locations(cadata=''.join(open(p).read() for p in sandbox['acme']['roots']))
        with socket.create_connection((info['address'], info['https_port']), timeout=10) as sock:
            with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
    else:
        der = helpers.tls_peer_cert(info['address'], info['https_port'], server_name)
    return hashlib.sha256(der).hexdigest()


def store_fingerprint(store, name):
    with open(os.path.join(str(store), name, 'fullchain.pem')) as handle:
        pem = handle.read()
    first = pem[:pem.index('-----END CERTIFICATE-----') + len('-----END CERTIFICATE-----')] + '\n'
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


def nginx_reload(sandbox, host):
    info = sandbox['hosts'][host]
    subprocess.run([info['nginx_binary'], '-c', info['nginx_conf'], '-s', 'reload'], check=False,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)


class Scenario(object):
    """Extra vars for one test: unique certificate and DNS names, its own store."""

    def __init__(self, sandbox, dns, store, hosts=WEB, shared=True):
        self.sandbox = sandbox
        self.tag = 'r' + uuid.uuid4().hex[:8]
        self.store = store
        self.certs = []
        self.dns_names = []
        for host in hosts:
            name = '%s-%s.example.test' % (self.tag, host)
            dns.add_a(name, sandbox['hosts'][host]['address'])
            self.dns_names.append(name)
            self.certs.append({'name': '%s-%s' % (self.tag, host), 'domains': [name], 'hosts': [host]})
        if shared:
            name = '%s-shared.example.test' % self.tag
            dns.add_a(name, sandbox['hosts'][hosts[0]]['address'])
            self.dns_names.append(name)
            self.certs.append({'name': '%s-shared' % self.tag, 'domains': [name], 'hosts': list(hosts)})
        self.hosts = list(hosts)

    def certs_of(self, host):
        return [c for c in self.certs if host in c['hosts']]

    def extra_vars(self, **overrides):
        demo = {
            'renew_web_hosts': ':'.join(self.hosts),
            'renew_acme_host': 'localhost',
            'renew_become': False,
            'renew_certificates': self.certs,
            'acme_certificates_directory': self.sandbox['acme']['directory'],
            'acme_certificates_ca_bundle': self.sandbox['acme']['ca_bundle'],
            'acme_certificates_store': str(self.store),
            'acme_certificates_account_key_src': os.path.join(str(self.store), 'account.key'),
            'acme_certificates_terms_agreed': True,
            'acme_certificates_webroot_var': 'sandbox_webroot',
            'nginx_webroot_path': '{{ sandbox_webroot }}',
            'nginx_webroot_snippet': False,
            'nginx_webroot_http_port': '{{ sandbox_http_port }}',
            'nginx_webroot_https_port': '{{ sandbox_https_port }}',
            'nginx_webroot_listen_address': '{{ sandbox_address }}',
            'nginx_webroot_server_names': self.dns_names,
            'nginx_webroot_conf_dir': '{{ sandbox_nginx_conf_dir }}',
            'nginx_webroot_http_conf_name': 'certpilot-%s-http.conf' % self.tag,
            'nginx_webroot_binary': '{{ sandbox_nginx_binary }}',
            'nginx_webroot_conf': '{{ sandbox_nginx_conf }}',
            'nginx_webroot_reload_command': '{{ sandbox_nginx_binary }} -c {{ sandbox_nginx_conf }} -s reload',
            'cert_push_store': str(self.store),
            'cert_push_dest_dir': '{{ sandbox_cert_dir }}',
            'cert_push_nginx_binary': '{{ sandbox_nginx_binary }}',
            'cert_push_nginx_conf': '{{ sandbox_nginx_conf }}',
            'cert_push_nginx_conf_dir': '{{ sandbox_nginx_conf_dir }}',
            'cert_push_reload_command': '{{ sandbox_nginx_binary }} -c {{ sandbox_nginx_conf }} -s reload',
            'cert_push_vhost': True,
            'cert_push_https_port': '{{ sandbox_https_port }}',
            'cert_push_listen_address': '{{ sandbox_address }}',
            'cert_push_verify_address': '{{ sandbox_address }}',
        }
        demo.update(overrides)
        return demo

    def cleanup(self, dns):
        for host in self.hosts:
            info = self.sandbox['hosts'][host]
            changed = False
            for cert in self.certs_of(host):
                path = os.path.join(info['nginx_conf_dir'], 'certpilot-%s.conf' % cert['name'])
                if os.path.exists(path):
                    os.unlink(path)
                    changed = True
                shutil.rmtree(os.path.join(info['cert_dir'], cert['name']), ignore_errors=True)
            http = os.path.join(info['nginx_conf_dir'], 'certpilot-%s-http.conf' % self.tag)
            if os.path.exists(http):
                os.unlink(http)
                changed = True
            if changed:
                nginx_reload(self.sandbox, host)
        for name in self.dns_names:
            try:
                dns.clear_a(name)
            except Exception:  # pylint: disable=broad-except
                pass


@pytest.fixture
def scenario(sandbox, sandbox_dns, tmp_store):
    made = []

    def make(**kwargs):
        item = Scenario(sandbox, sandbox_dns, tmp_store, **kwargs)
        made.append(item)
        return item
    yield make
    for item in made:
        item.cleanup(sandbox_dns)


def assert_serving_store(sandbox, sc, hosts=None):
    for host in hosts or sc.hosts:
        for cert in sc.certs_of(host):
            want = store_fingerprint(sc.store, cert['name'])
            for name in cert['domains']:
                assert served(sandbox, host, name) == want, '%s does not serve %s for %s' % (host, cert['name'], name)


def test_renew_three_hosts_then_nothing_then_forced(sandbox, run_playbook, scenario):
    sc = scenario()
    first = run_playbook(RENEW, extra_vars=sc.extra_vars())
    assert first.rc == 0, first.explain()
    assert_serving_store(sandbox, sc)
    for host in WEB:
        mode = os.stat(os.path.join(sandbox['hosts'][host]['cert_dir'], sc.certs_of(host)[0]['name'], 'privkey.pem')).st_mode
        assert mode & 0o777 == 0o600
    # no challenge file is left behind in any webroot
    for host in WEB:
        challenge_dir = os.path.join(sandbox['hosts'][host]['webroot'], '.well-known', 'acme-challenge')
        ours = [f for f in os.listdir(challenge_dir) if sc.tag in f]
        assert ours == []
    before = dict((c['name'], store_fingerprint(sc.store, c['name'])) for c in sc.certs)

    names = sorted(c['name'] for c in sc.certs)
    summary = first.task_results('Summarise what the ACME step did')['localhost']['msg']
    assert summary[0].startswith('%d certificates: %d issued, 0 due, 0 failed' % (len(names), len(names))), summary
    assert summary[1:] == ['%s: issued' % name for name in names]

    second = run_playbook(RENEW, extra_vars=sc.extra_vars())
    assert second.rc == 0, second.explain()
    for host in list(WEB) + ['localhost']:
        assert second.changed(host) == 0, '%s changed on the second run\n%s' % (host, second.explain())
    # a night with nothing to do prints one line, not one per certificate
    assert second.task_results('Summarise what the ACME step did')['localhost']['msg'] == [
        '%d certificates: 0 issued, 0 due, 0 failed, %d up to date' % (len(names), len(names))]

    forced = run_playbook(RENEW, extra_vars=sc.extra_vars(acme_certificates_force=True))
    assert forced.rc == 0, forced.explain()
    for cert in sc.certs:
        assert store_fingerprint(sc.store, cert['name']) != before[cert['name']]
    assert_serving_store(sandbox, sc)


def test_check_mode_changes_nothing(sandbox, run_playbook, scenario):
    sc = scenario(hosts=('web1', 'web2'), shared=False)
    result = run_playbook(RENEW, extra_vars=sc.extra_vars(), check=True)
    assert result.rc == 0, result.explain()
    for host in sc.hosts:
        info = sandbox['hosts'][host]
        for cert in sc.certs_of(host):
            assert not os.path.exists(os.path.join(info['cert_dir'], cert['name']))
            assert not os.path.exists(os.path.join(info['nginx_conf_dir'], 'certpilot-%s.conf' % cert['name']))
        assert not os.path.exists(os.path.join(info['nginx_conf_dir'], 'certpilot-%s-http.conf' % sc.tag))
    # no order was created: nothing about these certificates in the store
    for cert in sc.certs:
        path = os.path.join(str(sc.store), cert['name'])
        assert not os.path.exists(os.path.join(path, 'order.json')) and not os.path.exists(os.path.join(path, 'cert.pem'))


def test_one_host_down_others_finish_then_converge(sandbox, run_playbook, scenario):
    sc = scenario(shared=False)
    try:
        stop = helpers.sandbox_cli(['host-stop', 'web3'])
        assert stop.returncode == 0, stop.stdout
        down = run_playbook(RENEW, extra_vars=sc.extra_vars())
        assert down.rc != 0
        assert 'web3' in down.failed_hosts(), down.explain()
        assert 'web1' not in down.failed_hosts() and 'web2' not in down.failed_hosts(), down.explain()
        try:
            assert_serving_store(sandbox, sc, hosts=['web1', 'web2'])
        except (OSError, AssertionError) as exc:
            raise AssertionError('%s\n%s' % (exc, down.explain(200)))
    finally:
        start = helpers.sandbox_cli(['host-start', 'web3'])
    assert start.returncode == 0, start.stdout
    again = run_playbook(RENEW, extra_vars=sc.extra_vars())
    assert again.rc == 0, again.explain()
    assert_serving_store(sandbox, sc)


def test_nginx_test_failure_keeps_old_certificate(sandbox, run_playbook, scenario):
    sc = scenario(hosts=('web1', 'web2'), shared=False)
    first = run_playbook(RENEW, extra_vars=sc.extra_vars())
    assert first.rc == 0, first.explain()
    old = dict((c['name'], store_fingerprint(sc.store, c['name'])) for c in sc.certs)
    web2_cert = sc.certs_of('web2')[0]
    key_path = os.path.join(sandbox['hosts']['web2']['cert_dir'], web2_cert['name'], 'privkey.pem')
    with open(key_path, 'rb') as handle:
        old_key = handle.read()
    # A renewal whose server block nginx rejects on web2 only (an impossible listen address).
    broken = sc.extra_vars(acme_certificates_force=True,
                           cert_push_listen_address="{{ '203.0.113.256' if inventory_hostname == 'web2' else sandbox_address }}")
    result = run_playbook(RENEW, extra_vars=broken)
    assert result.rc != 0
    assert result.failed_hosts() == ['web2'], result.explain()
    assert 'previous files were restored' in result.stdout and '203.0.113.256' in result.stdout, result.explain()
    # web2 keeps serving the old certificate and has its old files and a valid configuration
    assert served(sandbox, 'web2', web2_cert['domains'][0]) == old[web2_cert['name']]
    with open(key_path, 'rb') as handle:
        assert handle.read() == old_key
    # the rollback leaves no backup copies (of the key or anything else) behind
    assert sorted(os.listdir(os.path.dirname(key_path))) == ['chain.pem', 'fullchain.pem', 'privkey.pem']
    info = sandbox['hosts']['web2']
    test = subprocess.run([info['nginx_binary'], '-t', '-q', '-c', info['nginx_conf']], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=30, check=False)
    assert test.returncode == 0, test.stdout
    # web1 got the renewal
    web1_cert = sc.certs_of('web1')[0]
    assert served(sandbox, 'web1', web1_cert['domains'][0]) == store_fingerprint(sc.store, web1_cert['name'])
    assert store_fingerprint(sc.store, web1_cert['name']) != old[web1_cert['name']]


def test_wrong_certificate_served_rolls_back_and_reloads(sandbox, run_playbook, scenario):
    sc = scenario(hosts=('web1', 'web2'), shared=False)
    first = run_playbook(RENEW, extra_vars=sc.extra_vars())
    assert first.rc == 0, first.explain()
    web1_cert = sc.certs_of('web1')[0]
    old = store_fingerprint(sc.store, web1_cert['name'])
    cert_dir = os.path.join(sandbox['hosts']['web1']['cert_dir'], web1_cert['name'])
    with open(os.path.join(cert_dir, 'privkey.pem'), 'rb') as handle:
        old_key = handle.read()
    # web1's check looks at web2, which serves another certificate: after the reload the new
    # certificate seems not to be served, so web1 must put the previous files back and reload again.
    wrong = sc.extra_vars(acme_certificates_force=True,
                          cert_push_verify_address="{{ hostvars['web2'].sandbox_address if inventory_hostname == 'web1'"
                                                   " else sandbox_address }}")
    result = run_playbook(RENEW, extra_vars=wrong)
    assert result.rc != 0
    assert result.failed_hosts() == ['web1'], result.explain()
    assert 'previous files restored and nginx reloaded' in result.stdout, result.explain()
    assert served(sandbox, 'web1', web1_cert['domains'][0]) == old
    with open(os.path.join(cert_dir, 'privkey.pem'), 'rb') as handle:
        assert handle.read() == old_key
    # the restore renamed the backups back: nothing left over
    assert sorted(os.listdir(cert_dir)) == ['chain.pem', 'fullchain.pem', 'privkey.pem']
    # web2 took its renewal
    web2_cert = sc.certs_of('web2')[0]
    assert served(sandbox, 'web2', web2_cert['domains'][0]) == store_fingerprint(sc.store, web2_cert['name'])
