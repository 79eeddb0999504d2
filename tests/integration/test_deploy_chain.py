# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_push verifies the served chain as well as the leaf (issue 11 item 2), against the real sandbox: nginx
serving the right leaf with a wrong intermediate is a mismatch, the previous files are restored, nginx is
reloaded, no backup is left and the host fails naming the chain."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test_roles_renew import RENEW, scenario, served, store_fingerprint  # noqa: F401 pylint: disable=unused-import

pytestmark = pytest.mark.timeout(900)

VERIFY_TASK = 'Verify every server name serves the new certificate'


def _impostor_intermediate(store, name):
    """A CA certificate with the subject of the store's real intermediate, but another key: (PEM, SHA-256)."""
    with open(os.path.join(str(store), name, 'fullchain.pem'), 'rb') as handle:
        real = x509.load_pem_x509_certificates(handle.read())[1]
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(real.subject)
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'certpilot test impostor root')]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    return cert.public_bytes(serialization.Encoding.PEM), hashlib.sha256(der).hexdigest()


def _store_chain(store, name):
    with open(os.path.join(str(store), name, 'fullchain.pem'), 'rb') as handle:
        certs = x509.load_pem_x509_certificates(handle.read())
    return [c.fingerprint(hashes.SHA256()).hex() for c in certs[1:]]


def _wrong_chain_reload(tmp_path, info, cert_dir, impostor_pem):
    """(script, flag): a reload command whose first run serves the new leaf with the impostor intermediate.

    That is what a stale or hand-edited chain file does; the rollback's reload, the same mechanism, then
    serves the restored files. ``flag`` exists once the swap happened.
    """
    impostor = tmp_path / 'impostor.pem'
    impostor.write_bytes(impostor_pem)
    flag = tmp_path / 'chain-swapped-once'
    script = tmp_path / 'reload-wrong-chain.sh'
    fullchain = os.path.join(cert_dir, 'fullchain.pem')
    script.write_text(
        '#!/bin/sh\nset -e\n'
        'if [ ! -e {flag} ]; then\n'
        '  touch {flag}\n'
        "  awk '{{print}} /END CERTIFICATE/{{exit}}' {fullchain} > {tmp}/leaf.pem\n"
        '  cat {tmp}/leaf.pem {impostor} > {fullchain}\n'
        'fi\n'
        'exec {nginx} -c {conf} -s reload\n'.format(flag=flag, fullchain=fullchain, tmp=tmp_path, impostor=impostor,
                                                    nginx=info['nginx_binary'], conf=info['nginx_conf']))
    script.chmod(0o755)
    return script, flag


def test_right_leaf_with_a_wrong_chain_is_rolled_back(sandbox, run_playbook, scenario, tmp_path):
    sc = scenario(hosts=('web1',), shared=False)
    first = run_playbook(RENEW, extra_vars=sc.extra_vars())
    assert first.rc == 0, first.explain()
    cert = sc.certs[0]
    old = store_fingerprint(sc.store, cert['name'])
    good = first.task_results(VERIFY_TASK)['web1']['tls_expiry']
    # only what did not match comes back: nothing; the module names the endpoint whose leaf AND chain matched
    assert good['results'] == [] and good['returned']['matched'] == ['%s|%s' % (cert['name'], cert['domains'][0])], \
        first.explain()
    expected = first.task_results('Work out the files, server blocks and endpoints of this host')['web1'][
        'ansible_facts']['_cert_push_endpoints']
    assert [e['expect']['chain_sha256'] for e in expected] == [_store_chain(sc.store, cert['name'])]
    assert expected[0]['expect']['chain_sha256'], 'pebble issues through an intermediate; the chain must not be empty'

    info = sandbox['hosts']['web1']
    cert_dir = os.path.join(info['cert_dir'], cert['name'])
    impostor_pem, impostor_sha = _impostor_intermediate(sc.store, cert['name'])
    script, flag = _wrong_chain_reload(tmp_path, info, cert_dir, impostor_pem)
    result = run_playbook(RENEW, extra_vars=sc.extra_vars(acme_certificates_force=True,
                                                          cert_push_reload_command=str(script)))
    new = store_fingerprint(sc.store, cert['name'])
    assert new != old  # a new certificate really was issued and deployed, then undone
    assert result.rc != 0
    assert result.failed_hosts() == ['web1'], result.explain()
    assert flag.exists()
    checks = result.task_results(VERIFY_TASK)['web1']['tls_expiry']['results']
    assert len(checks) == 1
    # The right leaf was served, with the wrong chain: the module's verdict is a mismatch.
    assert checks[0]['fingerprint_sha256'] == new
    assert checks[0]['served_chain_sha256'] == [impostor_sha]
    assert checks[0]['expect_match'] is False and 'wrong chain' in checks[0]['expect_error'], checks[0]
    assert 'wrong chain' in result.stdout and impostor_sha in result.stdout, result.explain()
    assert 'previous files restored and nginx reloaded' in result.stdout, result.explain()
    # The old certificate is served again, with a chain that validates to pebble's root (served() verifies).
    assert served(sandbox, 'web1', cert['domains'][0]) == old
    assert sorted(os.listdir(cert_dir)) == ['chain.pem', 'fullchain.pem', 'privkey.pem']
    assert not [n for n in os.listdir(info['nginx_conf_dir']) if 'certpilot-backup' in n]


SFTP_PUSH_TASK = 'Push to every host without Python over SFTP (one call, concurrent)'


def test_sftp_right_leaf_with_a_wrong_chain_is_rolled_back(sandbox, run_playbook, sandbox_dns, tmp_store, tmp_path):
    """The same over the sftp transport: sftp_push's own verify step compares the served chain too."""
    from test_roles_sftp import Scenario, sftp_vars  # noqa: E402  pylint: disable=import-outside-toplevel
    sc = Scenario(sandbox, sandbox_dns, tmp_store, hosts=('appliance1',), shared=False)
    try:
        first = run_playbook(RENEW, extra_vars=sftp_vars(sandbox, sc))
        assert first.rc == 0, first.explain()
        cert = sc.certs[0]
        old = store_fingerprint(sc.store, cert['name'])
        host = list(first.task_results(SFTP_PUSH_TASK).values())[0]['hosts']['appliance1']
        assert [v['ok'] for v in host['verified']] == [True]
        assert host['verified'][0]['served_chain_sha256'] == _store_chain(sc.store, cert['name'])
        assert host['verified'][0]['served_chain_sha256'], 'pebble issues through an intermediate'

        info = sandbox['hosts']['appliance1']
        cert_dir = os.path.join(info['cert_dir'], cert['name'])
        impostor_pem, impostor_sha = _impostor_intermediate(sc.store, cert['name'])
        script, flag = _wrong_chain_reload(tmp_path, info, cert_dir, impostor_pem)
        result = run_playbook(RENEW, extra_vars=sftp_vars(sandbox, sc, acme_certificates_force=True,
                                                          cert_push_reload='command',
                                                          cert_push_reload_command=str(script)))
        new = store_fingerprint(sc.store, cert['name'])
        assert new != old
        assert result.rc != 0
        assert flag.exists()
        assert 'wrong chain' in result.stdout and impostor_sha in result.stdout, result.explain()
        push = list(result.task_results(SFTP_PUSH_TASK).values())[0]
        assert push['failed_hosts'] == ['appliance1'], push
        assert push['hosts']['appliance1']['rolled_back'] is True
        assert served(sandbox, 'appliance1', cert['domains'][0]) == old
        assert sorted(n for n in os.listdir(cert_dir) if 'certpilot' in n) == []  # no temporary or backup file left
    finally:
        sc.cleanup(sandbox_dns)
