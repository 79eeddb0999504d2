# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certpilot.tls.alicloud_rotate role / playbook against the fake CAS + ALB + CDN API.

The handshake check needs something that serves what the "cloud" says: ``ListenerTls`` is a small TLS
server that, on every handshake, asks the fake which CAS certificate the ALB listener has as default now
and serves that certificate (looked up by its SHA-256 among the certificates this test made).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import socketserver
import ssl
import sys
import threading
import uuid

import pytest

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fakes')
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)

from alicloud_api.pytest_fixtures import alicloud  # noqa: E402,F401  pylint: disable=unused-import
from slb_api.certs import MiniCa, fingerprint_sha256, key_pem  # noqa: E402
from slb_api.pytest_fixtures import REPO, one_result, slb_run  # noqa: E402,F401  pylint: disable=unused-import

pytestmark = pytest.mark.timeout(600)
PLAYBOOK = os.path.join(REPO, 'playbooks', 'alicloud_rotate.yml')
STOP_TASK = 'Stop when a listener or domain failed, or an endpoint serves another certificate or cannot be reached'
PRUNE_TASK = 'Prune older CAS uploads that nothing uses any more'


def _fp(cert):
    return fingerprint_sha256(cert).replace(':', '')


class Material:
    """The certificates this test made: SHA-256 -> (chain file, key file)."""

    def __init__(self, ca, tmp_path):
        self.ca, self.tmp_path, self.files = ca, tmp_path, {}

    def issue(self, cn, days=90, kind='rsa'):
        cert, key = self.ca.issue(cn, sans=[cn], days=days, kind=kind)
        base = self.tmp_path / ('%s-%s' % (cn, uuid.uuid4().hex[:6]))
        base.mkdir()
        (base / 'fullchain.pem').write_text(self.ca.fullchain(cert))
        (base / 'privkey.pem').write_text(key_pem(key, 'pkcs8'))
        (base / 'privkey.pem').chmod(0o600)
        self.files[_fp(cert)] = (str(base / 'fullchain.pem'), str(base / 'privkey.pem'))
        return cert, str(base)


class ListenerTls:
    """TLS on a loopback port serving the current default certificate of one fake ALB listener
    (or, with ``fixed``, always the certificate of that SHA-256)."""

    def __init__(self, alicloud, material, listener_id=None, fixed=None):
        self.alicloud, self.material, self.listener_id, self.fixed = alicloud, material, listener_id, fixed
        base = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        base.load_cert_chain(*next(iter(material.files.values())))
        base.sni_callback = self._pick
        self.context = base
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    with outer.context.wrap_socket(self.request, server_side=True) as tls:
                        tls.recv(1)
                except (ssl.SSLError, OSError):
                    pass

        self.server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def current_sha256(self):
        if self.fixed:
            return self.fixed
        default = self.alicloud.admin.listener(self.listener_id)['default']
        return self.alicloud.admin.certificate(default.split('-', 1)[0])['Sha2'].lower()

    def _pick(self, sock, server_name, dummy):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.material.files[self.current_sha256()])
        sock.context = ctx

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope='module')
def ca():
    return MiniCa('Alicloud Rotate')


@pytest.fixture
def material(ca, tmp_path):
    return Material(ca, tmp_path)


def _uid():
    return uuid.uuid4().hex[:8]


def _world(alicloud, material, name, cdn_count=2):
    """An old CAS upload (named like the role's default names) used by one ALB listener and CDN domains."""
    old_cert, old_dir = material.issue('%s.example.test' % name, days=30)
    chain, key = material.files[_fp(old_cert)]
    old_name = '%s.example.test-20260101-%s' % (name, _fp(old_cert)[:8])
    old_id = alicloud.admin.seed({'certificates': [{'Cert': open(chain).read(), 'Key': open(key).read(),
                                                    'Name': old_name}]})['certificates'][0]
    lid = alicloud.admin.seed({'listeners': [{'DefaultCertificateId': old_id}]})['listeners'][0]
    domains = ['cdn%d-%s.example.test' % (n, name) for n in range(cdn_count)]
    alicloud.admin.seed({'cdn_domains': [{'DomainName': d, 'CertId': old_id} for d in domains]})
    return old_cert, old_id, lid, domains


def _vars(alicloud, cert_dir, listeners, domains, endpoints, **extra):
    data = {'alicloud_rotate_certificate_src': os.path.join(cert_dir, 'fullchain.pem'),
            'alicloud_rotate_private_key_src': os.path.join(cert_dir, 'privkey.pem'),
            'alicloud_rotate_alb_listeners': listeners, 'alicloud_rotate_cdn_domains': domains,
            'alicloud_rotate_verify_endpoints': endpoints, 'alicloud_rotate_wait_timeout': 30,
            'alicloud_rotate_alicloud_access_key': alicloud.access_key,
            'alicloud_rotate_alicloud_secret_key': alicloud.secret_key,
            'alicloud_rotate_alicloud_region': alicloud.region, 'alicloud_rotate_cas_endpoint': alicloud.endpoint,
            'alicloud_rotate_alb_endpoint': alicloud.endpoint, 'alicloud_rotate_cdn_endpoint': alicloud.endpoint,
            'alicloud_rotate_ca_bundle': alicloud.ca_bundle}
    data.update(extra)
    return data


def _result(run):
    return one_result(run, 'Show the rotation result')['alicloud_rotate_result']


def _ran(run, task_name):
    return any(t['task']['name'].endswith(task_name) for t in run.tasks())


def test_rotate_switches_alb_and_cdn_verifies_prunes_and_converges(alicloud, slb_run, material):
    name = 'rot-%s' % _uid()
    old_cert, old_id, lid, domains = _world(alicloud, material, name)
    tls = ListenerTls(alicloud, material, lid)
    try:
        new_cert, new_dir = material.issue('%s.example.test' % name, days=60)
        endpoints = [{'host': '127.0.0.1', 'port': tls.port, 'server_name': '%s.example.test' % name, 'name': 'alb'}]
        extra = _vars(alicloud, new_dir, [lid], domains, endpoints, alicloud_rotate_prune_keep=1)
        assert tls.current_sha256() == _fp(old_cert)
        first = slb_run(PLAYBOOK, extra_vars=extra)
        assert first.rc == 0, first.explain()
        res = _result(first)
        new_id = res['certificate_id']
        assert res['uploaded'] and new_id != str(old_id) and res['fingerprint_sha256'] == _fp(new_cert)
        assert [s['listener_id'] for s in res['alb']['switched']] == [lid]
        assert res['alb']['switched'][0]['previous_default_certificate_id'] == '%s-%s' % (old_id, alicloud.region)
        assert sorted(s['domain_name'] for s in res['cdn']['switched']) == sorted(domains)
        assert all(s['previous']['certificate_id'] == str(old_id) for s in res['cdn']['switched'])
        assert res['failed'] == []
        assert [(h['target'], h['status']) for h in res['handshakes']] == [('alb', 'ok')]
        assert res['prune_name_prefix'] == '%s.example.test-' % name
        assert res['pruned'] == [str(old_id)]
        # the fake ("the cloud") and the TLS endpoint agree, independently of the role's own result
        assert alicloud.admin.certificate(old_id) is None
        assert alicloud.admin.listener(lid)['default'] == '%s-%s' % (new_id, alicloud.region)
        for domain in domains:
            assert alicloud.admin.cdn_domain(domain)['served_sha256'] == _fp(new_cert)
        assert tls.current_sha256() == _fp(new_cert)

        second = slb_run(PLAYBOOK, extra_vars=extra)
        assert second.rc == 0, second.explain()
        res2 = _result(second)
        assert res2['alb']['switched'] == [] and res2['cdn']['switched'] == [] and res2['pruned'] == []
        assert [u['listener_id'] for u in res2['alb']['unchanged']] == [lid]
        assert second.changed('localhost') == 0, second.explain()
    finally:
        tls.stop()


def test_one_failing_listener_does_not_stop_the_cdn_domains(alicloud, slb_run, material):
    name = 'rotf-%s' % _uid()
    old_cert, old_id, lid, domains = _world(alicloud, material, name)
    new_cert, new_dir = material.issue('%s.example.test' % name)
    missing = 'lsn-missing%s' % _uid()
    run = slb_run(PLAYBOOK, extra_vars=_vars(alicloud, new_dir, [lid, missing], domains + ['gone-%s.example.test' % name], []))
    assert run.rc != 0
    msg = one_result(run, STOP_TASK)['msg']
    assert 'ALB listener %s' % missing in msg and 'CDN domain gone-%s.example.test' % name in msg
    assert 'ResourceNotFound.Listener' in msg and 'InvalidDomain.NotFound' in msg
    res = one_result(run, 'Record which listeners and domains moved')['ansible_facts']['alicloud_rotate_result']
    assert [s['listener_id'] for s in res['alb']['switched']] == [lid]
    assert sorted(s['domain_name'] for s in res['cdn']['switched']) == sorted(domains)
    assert sorted(f['target'] for f in res['failed']) == sorted(['ALB listener %s' % missing,
                                                                 'CDN domain gone-%s.example.test' % name])
    assert all(f['request_id'] for f in res['failed'])
    for domain in domains:  # the listener failure did not stop the CDN domains
        assert alicloud.admin.cdn_domain(domain)['served_sha256'] == _fp(new_cert)
    assert not _ran(run, PRUNE_TASK)
    assert alicloud.admin.certificate(old_id) is not None


def test_handshake_mismatch_and_unreachable_fail_closed(alicloud, slb_run, material):
    name = 'rotm-%s' % _uid()
    old_cert, old_id, lid, domains = _world(alicloud, material, name, cdn_count=1)
    stale = ListenerTls(alicloud, material, fixed=_fp(old_cert))  # an endpoint that still serves the old one
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    try:
        new_cert, new_dir = material.issue('%s.example.test' % name)
        sni = '%s.example.test' % name
        endpoints = [{'host': '127.0.0.1', 'port': stale.port, 'server_name': sni, 'name': 'stale'},
                     {'host': '127.0.0.1', 'port': closed_port, 'server_name': sni, 'name': 'closed'}]
        run = slb_run(PLAYBOOK, extra_vars=_vars(alicloud, new_dir, [lid], domains, endpoints,
                                                 alicloud_rotate_verify_timeout=3))
        assert run.rc != 0
        msg = one_result(run, STOP_TASK)['msg']
        assert 'not verified by handshake' in msg and "'stale'" in msg and "'closed'" in msg
        assert 'mismatch' in msg and 'unreachable' in msg
        assert not _ran(run, PRUNE_TASK)
        assert alicloud.admin.certificate(old_id) is not None
    finally:
        stale.stop()


def test_check_mode_changes_nothing(alicloud, slb_run, material):
    name = 'rotc-%s' % _uid()
    old_cert, old_id, lid, domains = _world(alicloud, material, name)
    new_cert, new_dir = material.issue('%s.example.test' % name)
    # already in CAS: check mode knows the id, asks ALB with DryRun and reads CDN
    chain, key = material.files[_fp(new_cert)]
    new_id = alicloud.admin.seed({'certificates': [{'Cert': open(chain).read(), 'Key': open(key).read(),
                                                    'Name': '%s.example.test-20270101-%s' % (name, _fp(new_cert)[:8])}]})
    new_id = new_id['certificates'][0]
    before = alicloud.admin.state()
    alicloud.admin.clear_calls()
    run = slb_run(PLAYBOOK, extra_vars=_vars(alicloud, new_dir, [lid], domains, []), check=True)
    assert run.rc == 0, run.explain()
    res = _result(run)
    assert res['certificate_id'] == str(new_id) and res['check_mode_pending'] is False
    assert [s['listener_id'] for s in res['alb']['switched']] == [lid]
    assert sorted(s['domain_name'] for s in res['cdn']['switched']) == sorted(domains)
    after = alicloud.admin.state()
    for key in ('certificates', 'listeners', 'cdn_domains'):
        assert after[key] == before[key], key
    mutating = [c for c in alicloud.admin.calls() if c['Action'] in (
        'UploadUserCertificate', 'DeleteUserCertificate', 'SetCdnDomainSSLCertificate', 'UpdateListenerAttribute')]
    assert mutating and all(c['Action'] == 'UpdateListenerAttribute' and c['params'].get('DryRun') == 'true'
                            for c in mutating)
    # a certificate CAS does not have yet: nothing to point at, reported as pending
    newer_cert, newer_dir = material.issue('%s.example.test' % name, days=80)
    run = slb_run(PLAYBOOK, extra_vars=_vars(alicloud, newer_dir, [lid], domains, []), check=True)
    assert run.rc == 0, run.explain()
    assert _result(run)['check_mode_pending'] is True
    assert alicloud.admin.state()['certificates'] == after['certificates']


def test_no_secret_in_vvv_output(alicloud, slb_run, material):
    name = 'rotv-%s' % _uid()
    old_cert, old_id, lid, domains = _world(alicloud, material, name, cdn_count=1)
    new_cert, new_dir = material.issue('%s.example.test' % name)
    key_lines = [line for line in open(os.path.join(new_dir, 'privkey.pem')).read().splitlines()
                 if not line.startswith('-----')]
    run = slb_run(PLAYBOOK, extra_vars=_vars(alicloud, new_dir, [lid], domains, []), extra_args=('-vvv',))
    assert run.rc == 0, run.explain()
    text = run.stdout + run.stderr
    assert alicloud.secret_key not in text
    assert not [line for line in key_lines if line in text]
    assert _result(run)['certificate_id'] in text


def test_docs_playbook_runs_as_written(alicloud, slb_run, material, tmp_path):
    """docs/alibaba.md's rotation playbook, verbatim, with its documented variables pointed at the fakes."""
    from test_docs_examples import yaml_blocks
    first_line = '- name: Rotate the certificate on ALB listeners and CDN domains'
    found = [text for rel, dummy, first, text in yaml_blocks() if rel == 'docs/alibaba.md' and first == first_line]
    assert len(found) == 1, 'docs/alibaba.md no longer has the block starting %r' % first_line
    playbook = tmp_path / 'docs-rotate.yml'
    playbook.write_text(found[0])
    name = 'docs-%s' % _uid()
    old_cert, old_id, lid, domains = _world(alicloud, material, name)
    tls = ListenerTls(alicloud, material, lid)
    try:
        new_cert, new_dir = material.issue('%s.example.test' % name)
        store = os.path.dirname(new_dir)
        extra = _vars(alicloud, new_dir, [lid], domains, [
            {'host': '127.0.0.1', 'port': tls.port, 'server_name': '%s.example.test' % name}],
            alicloud_rotate_store=store, alicloud_rotate_certificate_name=os.path.basename(new_dir))
        for key in ('alicloud_rotate_certificate_src', 'alicloud_rotate_private_key_src'):
            extra.pop(key)  # the documented store + certificate name are used
        run = slb_run(str(playbook), extra_vars=extra)
        assert run.rc == 0, run.explain()
        res = one_result(run, 'Record the handshake results')['ansible_facts']['alicloud_rotate_result']
        assert [h['status'] for h in res['handshakes']] == ['ok']
        assert [s['listener_id'] for s in res['alb']['switched']] == [lid]
        assert sorted(s['domain_name'] for s in res['cdn']['switched']) == sorted(domains)
        assert tls.current_sha256() == _fp(new_cert)
    finally:
        tls.stop()
