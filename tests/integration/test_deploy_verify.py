# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_push verification fails closed (issue 11 item 2), against the real sandbox: a verify address that is
a host name (resolved on the controller through /etc/hosts) is checked; an unresolvable name and a closed
verify port restore the previous files, reload, leave no backup and fail the host."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket

import pytest

from test_roles_renew import RENEW, scenario, served, store_fingerprint  # noqa: F401 pylint: disable=unused-import

pytestmark = pytest.mark.timeout(900)

VERIFY_TASK = 'Verify every server name serves the new certificate'


@pytest.fixture
def host_name(sandbox):
    """``web1.<net>.certpilot.test`` -> web1's address in /etc/hosts, scoped to this sandbox's net."""
    address = sandbox['hosts']['web1']['address']
    name = 'web1.n%s.certpilot.test' % address.rsplit('.', 1)[0].replace('.', '-')
    line = '%s %s # certpilot-test\n' % (address, name)
    with open('/etc/hosts') as handle:
        present = line in handle.read()
    if not present:
        with open('/etc/hosts', 'a') as handle:
            handle.write(line)
    assert socket.gethostbyname(name) == address
    yield name
    with open('/etc/hosts') as handle:
        kept = [entry for entry in handle.readlines() if entry != line]
    with open('/etc/hosts', 'w') as handle:
        handle.writelines(kept)


def _closed_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_host_name_verify_address_is_checked(sandbox, run_playbook, scenario, host_name):
    sc = scenario(hosts=('web1',), shared=False)
    result = run_playbook(RENEW, extra_vars=sc.extra_vars(cert_push_verify_address=host_name))
    assert result.rc == 0, result.explain()
    cert = sc.certs[0]
    verify = result.task_results(VERIFY_TASK)['web1']
    # the role asks only for what did not match: nothing came back, and the module names the endpoint it proved
    facts = verify['tls_expiry']
    assert facts['returned']['mode'] == 'mismatches' and facts['results'] == []
    assert facts['returned']['matched'] == ['%s|%s' % (cert['name'], cert['domains'][0])]
    # ...reached through the host name (resolved on the controller to web1's address)
    endpoints = result.task_results('Work out the files, server blocks and endpoints of this host')['web1'][
        'ansible_facts']['_cert_push_endpoints']
    assert [e['address'] for e in endpoints] == [host_name]
    assert all(e['expect']['fingerprint_sha256'] == store_fingerprint(sc.store, cert['name']).replace(':', '').lower()
               for e in endpoints)
    assert served(sandbox, 'web1', cert['domains'][0]) == store_fingerprint(sc.store, cert['name'])


def _deployed_once(run_playbook, scenario):
    """A web1 scenario after a first, successful deploy: (scenario, its certificate, the served fingerprint)."""
    sc = scenario(hosts=('web1',), shared=False)
    first = run_playbook(RENEW, extra_vars=sc.extra_vars())
    assert first.rc == 0, first.explain()
    return sc, sc.certs[0], store_fingerprint(sc.store, sc.certs[0]['name'])


@pytest.mark.parametrize('failure', ['unresolvable', 'closed_port'])
def test_verification_that_cannot_run_restores_and_fails(sandbox, run_playbook, scenario, failure):
    sc, cert, old = _deployed_once(run_playbook, scenario)
    cert_dir = os.path.join(sandbox['hosts']['web1']['cert_dir'], cert['name'])
    with open(os.path.join(cert_dir, 'privkey.pem'), 'rb') as handle:
        old_key = handle.read()
    if failure == 'unresolvable':
        broken = {'cert_push_verify_address': 'nowhere.certpilot.invalid'}
    else:
        broken = {'cert_push_verify_port': _closed_port()}
    result = run_playbook(RENEW, extra_vars=sc.extra_vars(acme_certificates_force=True, **broken))
    assert result.rc != 0
    assert result.failed_hosts() == ['web1'], result.explain()
    assert 'could not be verified (previous files restored and nginx reloaded)' in result.stdout, result.explain()
    if failure == 'unresolvable':
        assert 'nowhere.certpilot.invalid' in result.stdout and 'does not resolve' in result.stdout
    assert store_fingerprint(sc.store, cert['name']) != old  # a new certificate really was deployed, then undone
    assert served(sandbox, 'web1', cert['domains'][0]) == old
    with open(os.path.join(cert_dir, 'privkey.pem'), 'rb') as handle:
        assert handle.read() == old_key
    assert sorted(os.listdir(cert_dir)) == ['chain.pem', 'fullchain.pem', 'privkey.pem']
    conf_dir = sandbox['hosts']['web1']['nginx_conf_dir']
    assert not [n for n in os.listdir(conf_dir) if 'certpilot-backup' in n]


def test_failing_reload_restores_reloads_again_and_fails(sandbox, run_playbook, scenario, tmp_path):
    sc, cert, old = _deployed_once(run_playbook, scenario)
    info = sandbox['hosts']['web1']
    flag = tmp_path / 'reload-failed-once'
    script = tmp_path / 'reload-once.sh'
    # The forward reload fails (after the new files were written); the rollback's reload, the same
    # mechanism, then works: the previous files must be back and served.
    script.write_text('#!/bin/sh\nif [ ! -e %s ]; then touch %s; echo "reload refused" >&2; exit 1; fi\n'
                      'exec %s -c %s -s reload\n' % (flag, flag, info['nginx_binary'], info['nginx_conf']))
    script.chmod(0o755)
    result = run_playbook(RENEW, extra_vars=sc.extra_vars(acme_certificates_force=True,
                                                          cert_push_reload_command=str(script)))
    assert result.rc != 0
    assert result.failed_hosts() == ['web1'], result.explain()
    assert flag.exists()
    assert 'step "Reload nginx once" failed' in result.stdout, result.explain()
    assert 'previous files restored and nginx reloaded' in result.stdout, result.explain()
    assert store_fingerprint(sc.store, cert['name']) != old
    assert served(sandbox, 'web1', cert['domains'][0]) == old
    cert_dir = os.path.join(info['cert_dir'], cert['name'])
    assert sorted(os.listdir(cert_dir)) == ['chain.pem', 'fullchain.pem', 'privkey.pem']
