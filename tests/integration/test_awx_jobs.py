# -*- coding: utf-8 -*-
# Copyright: certpilot maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""certpilot.tls.renew as a nightly AWX job (docs/awx.md), run through ansible-runner like AWX runs it.

Every job gets a fresh private data dir that is removed afterwards; the credentials are the documented
credential types of docs/awx/ injected as AWX injects them; only the store (the "persistent volume",
renew_acme_host: localhost) survives between jobs.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import glob
import hashlib
import os
import re
import socket
import ssl
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import awx_runner
from ansible_collections.certpilot.tls.plugins.module_utils.acme.account import Account
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey
from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline

pytestmark = pytest.mark.timeout(900)

RENEW_JOB = "---\n- name: Nightly certificates\n  ansible.builtin.import_playbook: certpilot.tls.renew\n"
EXPIRY_JOB = "---\n- name: Expiry report\n  ansible.builtin.import_playbook: certpilot.tls.expiry_report\n"
WEB = ('web1', 'web2')
PEM_BODY = re.compile(r'-----BEGIN [A-Z ]*PRIVATE KEY-----')


def _pem_body(pem):
    """The base64 lines of a PEM block, joined: what a leak would contain even re-wrapped or escaped."""
    lines = [line for line in pem.strip().splitlines() if not line.startswith('-----')]
    return lines[1] if len(lines) > 2 else lines[0]


def _account_key_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _expired_certificate(path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'expired.example.test')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=100)).not_valid_after(now - datetime.timedelta(days=10))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(u'expired.example.test')]), critical=False)
            .sign(key, hashes.SHA256()))
    with open(path, 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))


def _orders(sandbox, directory, key_pem):
    client = AcmeClient(directory, verify=sandbox['acme']['ca_bundle'], deadline=Deadline(60))
    account = Account(client, AcmeKey.from_pem(key_pem.encode())).find()
    assert account is not None, 'no ACME account for the injected key'
    urls, page, seen = [], account.data['orders'], set()
    while page and page not in seen:
        seen.add(page)
        resp = client.post_as_get(page)
        urls.extend(resp.json.get('orders') or [])
        nxt = resp.links('next')
        page = nxt[0] if nxt else None
    return sorted(urls)


def _served(sandbox, host, server_name):
    info = sandbox['hosts'][host]
    ctx = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH)
    ctx.load_verify_locations(cadata=''.join(open(p).read() for p in sandbox['acme_eab']['roots']))
    with socket.create_connection((info['address'], info['https_port']), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def _store_fingerprint(store, name):
    with open(os.path.join(store, name, 'fullchain.pem')) as handle:
        pem = handle.read()
    first = pem[:pem.index('-----END CERTIFICATE-----') + len('-----END CERTIFICATE-----')] + '\n'
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


class Nightly(object):
    """The job template of docs/awx/job_template_renew.yml, pointed at the sandbox."""

    def __init__(self, sandbox, dns, root):
        self.sandbox = sandbox
        self.tag = 'awx' + uuid.uuid4().hex[:6]
        self.store = str(root / 'volume' / 'store')       # the persistent volume
        self.report_dir = str(root / 'volume' / 'report')
        os.makedirs(self.store, mode=0o700)
        self.jobs = root / 'jobs'
        self.jobs.mkdir()
        self.dns = dns
        self.names = []
        self.certs = []
        for host in WEB:
            name = '%s-%s.example.test' % (self.tag, host)
            dns.add_a(name, sandbox['hosts'][host]['address'])
            self.names.append(name)
            self.certs.append({'name': '%s-%s' % (self.tag, host), 'domains': [name], 'hosts': [host]})
        eab_kid, eab_key = sorted(sandbox['acme_eab']['keys'].items())[0]
        self.account_key = _account_key_pem()
        self.secrets = {
            'account key': _pem_body(self.account_key),
            'EAB HMAC key': eab_key,
            'SMTP password': sandbox['smtp']['password'],
            'Alibaba secret': sandbox['services']['slb_api']['secret_key'],
        }
        self.credentials = [
            awx_runner.Credential('credential_type_acme_account_eab.yml', account_key=self.account_key,
                                  eab_kid=eab_kid, eab_hmac_key=eab_key),
            awx_runner.Credential('credential_type_smtp.yml', host=sandbox['smtp']['host'],
                                  username=sandbox['smtp']['user'], password=sandbox['smtp']['password']),
            awx_runner.Credential('credential_type_alicloud.yml',
                                  access_key=sandbox['services']['slb_api']['access_key'],
                                  secret_key=sandbox['services']['slb_api']['secret_key'],
                                  region=sandbox['services']['slb_api']['region']),
        ]

    def extra_vars(self, **overrides):
        smtp = self.sandbox['smtp']
        job = {
            'renew_web_hosts': ':'.join(WEB),
            'renew_acme_host': 'localhost',
            'renew_become': False,
            'renew_certificates': self.certs,
            # The report rewrites its files and mails on every run (a change each night): the nightly
            # renew jobs below run without it, the expiry test with it.
            'renew_expiry_report': False,
            'expiry_report_fail_on': 'error',
            'expiry_report_dir': self.report_dir,
            'expiry_report_files': [os.path.join(self.store, c['name'], 'fullchain.pem') for c in self.certs],
            'expiry_report_ca_bundle': self.sandbox['acme_eab']['roots'][0],
            'expiry_report_mail_port': smtp['starttls_port'],
            'expiry_report_mail_ca_bundle': smtp['ca'],
            'expiry_report_mail_to': ['ops@example.test'],
            'expiry_report_mail_from': 'certpilot@example.test',
            'acme_certificates_directory': self.sandbox['acme_eab']['directory'],
            'acme_certificates_ca_bundle': self.sandbox['acme_eab']['ca_bundle'],
            'acme_certificates_store': self.store,
            'acme_certificates_terms_agreed': True,
            'acme_certificates_webroot_var': 'sandbox_webroot',
            'nginx_webroot_path': '{{ sandbox_webroot }}',
            'nginx_webroot_snippet': False,
            'nginx_webroot_http_port': '{{ sandbox_http_port }}',
            'nginx_webroot_https_port': '{{ sandbox_https_port }}',
            'nginx_webroot_listen_address': '{{ sandbox_address }}',
            'nginx_webroot_server_names': self.names,
            'nginx_webroot_conf_dir': '{{ sandbox_nginx_conf_dir }}',
            'nginx_webroot_http_conf_name': 'certpilot-%s-http.conf' % self.tag,
            'nginx_webroot_binary': '{{ sandbox_nginx_binary }}',
            'nginx_webroot_conf': '{{ sandbox_nginx_conf }}',
            'nginx_webroot_reload_command': '{{ sandbox_nginx_binary }} -c {{ sandbox_nginx_conf }} -s reload',
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
        job.update(overrides)
        return job

    def run(self, playbook=RENEW_JOB, **overrides):
        return awx_runner.run_job(self.sandbox, self.jobs, playbook, self.extra_vars(**overrides), self.credentials)

    def orders(self):
        return _orders(self.sandbox, self.sandbox['acme_eab']['directory'], self.account_key)

    def pushed_key_bodies(self):
        bodies = {}
        for path in glob.glob(os.path.join(self.store, '**', '*.pem'), recursive=True):
            with open(path) as handle:
                text = handle.read()
            if PEM_BODY.search(text):
                bodies['key ' + os.path.relpath(path, self.store)] = _pem_body(text)
        return bodies

    def assert_no_secret(self, result):
        secrets = dict(self.secrets)
        secrets.update(self.pushed_key_bodies())
        assert len(secrets) > len(self.secrets), 'no pushed key found in the store to look for'
        for what, secret in sorted(secrets.items()):
            found = result.find_secret(secret)
            assert found is None, '%s appears in job event %s' % (what, found[0])
        for name, text in sorted(result.raw_events.items()):
            assert not PEM_BODY.search(text), 'a private key PEM is in job event %s' % name

    def cleanup(self):
        for cert in self.certs:
            for host in WEB:
                info = self.sandbox['hosts'][host]
                path = os.path.join(info['nginx_conf_dir'], 'certpilot-%s.conf' % cert['name'])
                if os.path.exists(path):
                    os.unlink(path)
        for host in WEB:
            info = self.sandbox['hosts'][host]
            http = os.path.join(info['nginx_conf_dir'], 'certpilot-%s-http.conf' % self.tag)
            if os.path.exists(http):
                os.unlink(http)
            os.system('%s -c %s -s reload >/dev/null 2>&1' % (info['nginx_binary'], info['nginx_conf']))
        for name in self.names:
            try:
                self.dns.clear_a(name)
            except Exception:  # pylint: disable=broad-except
                pass


@pytest.fixture
def nightly(sandbox, sandbox_dns, tmp_path):
    job = Nightly(sandbox, sandbox_dns, tmp_path)
    yield job
    job.cleanup()


def test_nightly_job_issues_then_changes_nothing(sandbox, nightly):
    first = nightly.run()
    assert first.status == 'successful', first.explain()
    for cert in nightly.certs:
        host = cert['hosts'][0]
        assert _served(sandbox, host, cert['domains'][0]) == _store_fingerprint(nightly.store, cert['name'])
    nightly.assert_no_secret(first)
    orders = nightly.orders()
    assert len(orders) == len(nightly.certs)
    # Nothing of job 1's private data dir is left: job 2 starts from the store alone.
    assert os.listdir(str(nightly.jobs)) == []

    second = nightly.run()
    assert second.status == 'successful', second.explain()
    for host in list(WEB) + ['localhost']:
        assert second.changed(host) == 0, '%s changed in job 2\n%s' % (host, second.explain())
    assert nightly.orders() == orders, 'job 2 sent a new order to the CA'
    nightly.assert_no_secret(second)


def test_expired_endpoint_turns_the_job_red(sandbox, nightly, tmp_path):
    expired = str(tmp_path / 'expired.pem')
    _expired_certificate(expired)
    # The documented renew job (expiry_report_fail_on: error), after a green first job.
    assert nightly.run().status == 'successful'
    mails_before = set(os.listdir(sandbox['smtp']['maildir']))
    renew = nightly.run(renew_expiry_report=True, expiry_report_files=[expired])
    assert renew.status == 'failed', renew.explain()
    failures = [e['event_data'].get('res', {}).get('msg', '') for e in renew.events if e.get('event') == 'runner_on_failed']
    assert len(failures) == 1 and 'expired' in failures[0], renew.explain()
    assert os.listdir(nightly.report_dir), 'the report is not in the documented report directory'
    mails = set(os.listdir(sandbox['smtp']['maildir'])) - mails_before
    assert mails, 'the report was not mailed with the injected SMTP credential'
    nightly.assert_no_secret(renew)


def test_expiry_report_job_is_red_on_expired_by_default(sandbox, tmp_path):
    # The expiry report playbook as its own scheduled job (docs/awx/job_template_expiry_report.yml),
    # with the playbook's defaults: red on an expired certificate.
    expired = str(tmp_path / 'expired.pem')
    _expired_certificate(expired)
    jobs = tmp_path / 'jobs'
    jobs.mkdir()
    report = awx_runner.run_job(sandbox, jobs, EXPIRY_JOB,
                                {'expiry_report_files': [expired], 'expiry_report_dir': str(tmp_path / 'report')})
    assert report.status == 'failed', 'certpilot.tls.expiry_report ends green with an expired certificate\n' + report.explain()


def test_failed_push_turns_the_job_red(sandbox, nightly):
    # web2's nginx test fails: the push to web2 fails, web1 still gets its certificate, the job is red.
    result = nightly.run()
    assert result.status == 'successful', result.explain()
    nightly.certs.append({'name': nightly.tag + '-late', 'domains': [nightly.names[1]], 'hosts': ['web2']})
    broken = awx_runner.run_job(sandbox, nightly.jobs, RENEW_JOB,
                                dict(nightly.extra_vars(), cert_push_nginx_binary='/bin/false'), nightly.credentials)
    assert broken.status == 'failed', broken.explain()
    assert broken.failed_hosts() == ['web2'], broken.explain()
    nightly.assert_no_secret(broken)


def test_limit_without_the_acme_host_fails_clearly(sandbox, nightly):
    result = awx_runner.run_job(sandbox, nightly.jobs, RENEW_JOB, nightly.extra_vars(), nightly.credentials, limit='web1')
    assert result.status == 'failed'
    messages = [e['event_data'].get('res', {}).get('msg', '') for e in result.events if e.get('event') == 'runner_on_failed']
    assert any("is not in this run" in m for m in messages), result.explain()
    assert not os.listdir(nightly.store) or nightly.orders() == [], 'a limited job ordered something'
