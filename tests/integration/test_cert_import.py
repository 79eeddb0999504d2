# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_import (issue 16 item 2): a certificate of an internal CA, imported into the store, deployed by cert_push
over real SSH to the sandbox's web1 and served by its nginx; a second run changes nothing."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import json
import os

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

import helpers
from test_docs_examples import module_examples  # noqa: E402
from test_roles_renew import scenario  # noqa: F401  pylint: disable=unused-import

pytestmark = pytest.mark.timeout(600)

PLAYBOOK = r'''
- name: Import into the store
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Import the internal CA's certificates
      certpilot.tls.cert_import:
        store: "{{ cert_push_store }}"
        certificates: "{{ import_certificates }}"
        ca_bundle: "{{ corp_root }}"
        system_roots: false
      register: imported

- name: Deploy from the store
  hosts: web1
  gather_facts: false
  roles:
    - role: certpilot.tls.cert_push
      vars:
        cert_push_certificates: "{{ push_certificates }}"
'''


def _issue(cn, issuer=None, ca=False, dns=(), days=90):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer[0].subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return cert, key


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key, password=None):
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def _task(res, name):
    return res.task_results(name)['localhost']


def test_imported_certificate_is_deployed_and_served_then_nothing_changes(sandbox, run_playbook, scenario, tmp_path):
    sc = scenario(hosts=('web1',), shared=False)
    cert_name, domain = sc.certs[0]['name'], sc.certs[0]['domains'][0]
    root = _issue('corp root %s' % sc.tag, ca=True, days=3650)
    inter = _issue('corp inter %s' % sc.tag, issuer=root, ca=True, days=1000)
    leaf = _issue(domain, issuer=inter, dns=[domain])
    incoming = tmp_path / 'incoming'
    incoming.mkdir()
    # the vendor's drop: leaf, chain with the root, and an encrypted key, in separate files
    (incoming / 'leaf.crt').write_bytes(_pem(leaf[0]))
    (incoming / 'chain.pem').write_bytes(_pem(root[0]) + _pem(inter[0]))
    (incoming / 'leaf.key').write_bytes(_key_pem(leaf[1], b'k3y-pass'))
    (tmp_path / 'corp-root.pem').write_bytes(_pem(root[0]))
    extra = sc.extra_vars(
        corp_root=str(tmp_path / 'corp-root.pem'),
        import_certificates=[{'name': cert_name, 'source': 'corp internal CA (pki@corp.test)', 'domains': [domain],
                              'directory': str(incoming), 'passphrase': 'k3y-pass'}],
        push_certificates=[{'name': cert_name, 'domains': [domain], 'hosts': ['web1']}])

    first = run_playbook(PLAYBOOK, extra_vars=extra)
    assert first.rc == 0, first.explain()
    result = _task(first, 'Import the internal CA\'s certificates')
    item = result['certificates'][cert_name]
    assert item['action'] == 'imported' and item['root_left_out'] == 'CN=corp root %s' % sc.tag
    assert 'k3y-pass' not in first.stdout and 'PRIVATE KEY' not in first.stdout
    want = leaf[0].fingerprint(hashes.SHA256()).hex()
    info = sandbox['hosts']['web1']
    served = hashlib.sha256(helpers.tls_peer_cert(info['address'], info['https_port'], domain)).hexdigest()
    assert served == want, 'web1 serves the imported certificate for %s' % domain
    with open(os.path.join(str(sc.store), cert_name, 'issuer.json')) as handle:
        assert json.load(handle)['source'] == 'corp internal CA (pki@corp.test)'

    second = run_playbook(PLAYBOOK, extra_vars=extra)
    assert second.rc == 0, second.explain()
    assert _task(second, 'Import the internal CA\'s certificates')['certificates'][cert_name]['action'] == 'unchanged'
    assert (second.changed('localhost'), second.changed('web1')) == (0, 0), second.explain()


def test_a_bad_certificate_fails_by_name_and_the_good_one_is_still_imported(sandbox, run_playbook, tmp_path):
    root = _issue('corp root bad', ca=True, days=3650)
    good = _issue('good.corp.test', issuer=root, dns=['good.corp.test'])
    expired_cert, expired_key = _issue('old.corp.test', issuer=root, dns=['old.corp.test'], days=-1)
    (tmp_path / 'corp-root.pem').write_bytes(_pem(root[0]))
    p12 = tmp_path / 'good.p12'
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b'good', good[1], good[0], [root[0]],
                                                          serialization.BestAvailableEncryption(b'p12-pass')))
    store = tmp_path / 'store'
    extra = {'cert_push_store': str(store), 'corp_root': str(tmp_path / 'corp-root.pem'), 'push_certificates': [],
             'import_certificates': [
                 {'name': 'old', 'source': 'corp', 'pem_content': [(_pem(expired_cert) + _key_pem(expired_key)).decode()]},
                 {'name': 'good', 'source': 'corp', 'pkcs12_path': str(p12), 'passphrase': 'p12-pass'}]}
    res = run_playbook(PLAYBOOK, extra_vars=extra, extra_args=('--limit', 'localhost'))
    assert res.rc != 0
    result = _task(res, 'Import the internal CA\'s certificates')
    assert result['failed_certificates'] == ['old']
    assert 'expired at' in result['certificates']['old']['msg']
    assert result['certificates']['good']['action'] == 'imported'
    assert os.path.isfile(os.path.join(str(store), 'good', 'current', 'fullchain.pem'))
    assert not os.path.exists(os.path.join(str(store), 'old', 'current'))
    assert 'p12-pass' not in res.stdout and 'PRIVATE KEY' not in res.stdout


def test_module_examples_run_as_written(sandbox, run_playbook, tmp_path):
    """The EXAMPLES, with only their paths pointed at a temporary directory (each path must occur)."""
    text = module_examples('cert_import')
    base = str(tmp_path)
    for old in ('/var/lib/certpilot/store', '/srv/incoming', '/etc/pki/corp-root.pem'):
        assert old in text, 'cert_import EXAMPLES no longer contain %r: update this test' % old
        text = text.replace(old, base + old)
    tasks = yaml.safe_load(text)
    for task in tasks:
        assert task.pop('delegate_to', 'acme1.example.com') == 'acme1.example.com'
        task.pop('run_once', None)
    root = _issue('example corp root', ca=True, days=3650)
    os.makedirs(base + '/etc/pki')
    with open(base + '/etc/pki/corp-root.pem', 'wb') as handle:
        handle.write(_pem(root[0]))
    www = _issue('www.example.com', issuer=root, dns=['www.example.com', 'example.com'])
    os.makedirs(base + '/srv/incoming/www')
    for fname, data in (('www.crt', _pem(www[0])), ('chain.pem', b''), ('www.key', _key_pem(www[1]))):
        with open(base + '/srv/incoming/www/' + fname, 'wb') as handle:
            handle.write(data or _pem(root[0]))  # the vendor's "chain" file holds just the root here
    intranet = _issue('intranet.example.com', issuer=root, dns=['intranet.example.com'])
    with open(base + '/srv/incoming/intranet.p12', 'wb') as handle:
        handle.write(pkcs12.serialize_key_and_certificates(b'i', intranet[1], intranet[0], [root[0]],
                                                           serialization.BestAvailableEncryption(b'vault-pass')))
    shop = _issue('shop.example.com', issuer=root, dns=['shop.example.com'])
    os.makedirs(base + '/srv/incoming/shop')
    with open(base + '/srv/incoming/shop/shop.pem', 'wb') as handle:
        handle.write(_pem(shop[0]) + _key_pem(shop[1]))
    playbook = yaml.safe_dump([{'name': 'cert_import EXAMPLES', 'hosts': 'localhost', 'connection': 'local',
                                'gather_facts': False, 'tasks': tasks}])
    # the third example trusts only the system roots: it must fail on the private root, naming it
    res = run_playbook(playbook, extra_vars={'vault_intranet_p12_passphrase': 'vault-pass'})
    assert res.rc != 0
    first = _task(res, tasks[0]['name'])
    assert first.get('failed') is not True, res.explain()
    assert sorted(first['certificates']) == ['intranet', 'www']
    assert all(first['certificates'][n]['action'] == 'imported' for n in ('www', 'intranet'))
    last = _task(res, tasks[1]['name'])
    assert last['failed_certificates'] == ['shop'] and 'the chain does not verify' in last['certificates']['shop']['msg']


def test_renew_job_imports_orders_deploys_and_names_a_failed_import_last(sandbox, run_playbook, scenario, tmp_path):
    """renew.yml with renew_imports: the imported certificate is deployed without an ACME order, the ACME one is
    issued, and a broken import fails the run at the end, by name, after the others are served."""
    from test_roles_renew import RENEW, served
    sc = scenario(hosts=('web1', 'web2'), shared=False)
    acme_cert, imported = sc.certs_of('web1')[0], sc.certs_of('web2')[0]
    root = _issue('corp root %s' % sc.tag, ca=True, days=3650)
    leaf = _issue(imported['domains'][0], issuer=root, dns=imported['domains'])
    (tmp_path / 'corp-root.pem').write_bytes(_pem(root[0]))
    bad = {'name': '%s-bad' % sc.tag, 'domains': ['%s-bad.example.test' % sc.tag], 'hosts': ['web1']}
    extra = sc.extra_vars(
        renew_certificates=sc.certs + [bad],
        renew_imports=[
            {'name': imported['name'], 'source': 'corp CA', 'pem_content': [(_pem(leaf[0]) + _key_pem(leaf[1])).decode()]},
            {'name': bad['name'], 'source': 'corp CA', 'pem_content': [_pem(leaf[0]).decode()]}],  # no key
        renew_imports_ca_bundle=str(tmp_path / 'corp-root.pem'))
    res = run_playbook(RENEW, extra_vars=extra)
    assert res.rc != 0
    final = res.task_results('Fail with one line naming every failed certificate and why')['localhost']
    assert final['msg'].startswith('1 certificate failed: %s: ' % bad['name']) and 'no private key' in final['msg']
    info = sandbox['hosts']['web2']
    got = hashlib.sha256(helpers.tls_peer_cert(info['address'], info['https_port'], imported['domains'][0])).hexdigest()
    assert got == leaf[0].fingerprint(hashes.SHA256()).hex(), 'web2 serves the imported certificate'
    assert served(sandbox, 'web1', acme_cert['domains'][0]), 'web1 serves its ACME certificate'
    acme = res.task_results('Order what is due (all certificates at once)')['localhost']
    assert sorted(acme['certificates']) == [acme_cert['name']], 'only the ACME certificate reaches acme_order'
