# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sftp transport: renew.yml pushes to appliance1 (no Python) with certpilot.tls.sftp_push; host keys are enforced."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from test_roles_renew import RENEW, Scenario, assert_serving_store

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def appliance_scenario(sandbox, sandbox_dns, tmp_store):
    sc = Scenario(sandbox, sandbox_dns, tmp_store, hosts=('appliance1',), shared=False)
    yield sc
    sc.cleanup(sandbox_dns)


def sftp_vars(sandbox, sc, **extra):
    values = sc.extra_vars(
        renew_web_hosts='appliance1',
        cert_push_transport='sftp',
        cert_push_sftp_known_hosts=sandbox['ssh']['known_hosts'],
        cert_push_sftp_private_key_src=sandbox['ssh']['private_key'],
        cert_push_sftp_username=sandbox['ssh']['user'],
        acme_certificates_sftp_known_hosts=sandbox['ssh']['known_hosts'],
        acme_certificates_sftp_private_key_src=sandbox['ssh']['private_key'],
        acme_certificates_sftp_username=sandbox['ssh']['user'],
    )
    values.update(extra)
    return values


def test_sftp_push_to_appliance_and_idempotent(sandbox, run_playbook, appliance_scenario):
    sc = appliance_scenario
    first = run_playbook(RENEW, extra_vars=sftp_vars(sandbox, sc))
    assert first.rc == 0, first.explain()
    assert_serving_store(sandbox, sc)
    cert = sc.certs[0]
    key = os.path.join(sandbox['hosts']['appliance1']['cert_dir'], cert['name'], 'privkey.pem')
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    push = first.task_results('Push to every host without Python over SFTP (one call, concurrent)')
    outcome = list(push.values())[0]
    host = outcome['hosts']['appliance1']
    assert host['reloaded'] and host['validated'] and all(v['ok'] for v in host['verified'])
    assert 'PRIVATE KEY' not in first.stdout

    second = run_playbook(RENEW, extra_vars=sftp_vars(sandbox, sc))
    assert second.rc == 0, second.explain()
    assert second.changed('localhost') == 0, second.explain()


def test_sftp_refuses_unknown_and_changed_host_keys(sandbox, run_playbook, tmp_path):
    info = sandbox['hosts']['appliance1']
    empty = tmp_path / 'known_hosts_empty'
    empty.write_text('')
    wrong = tmp_path / 'known_hosts_wrong'
    # a syntactically valid ed25519 key that is not appliance1's
    wrong.write_text('[%s]:%d ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMxmv8b0k2ImP1mq3H7b5nCQ6d2mRrYy8Xz1a2b3c4d5\n'
                     % (info['address'], info['ssh_port']))
    dest = os.path.join(info['cert_dir'], 'hostkey-test', 'x.txt')
    playbook = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: push
      certpilot.tls.sftp_push:
        known_hosts: "{{ kh }}"
        private_key_src: "%s"
        username: "%s"
        targets: [{name: appliance1, address: "%s", port: %d}]
        files: [{dest: "%s", content: "x"}]
''' % (sandbox['ssh']['private_key'], sandbox['ssh']['user'], info['address'], info['ssh_port'], dest)
    unknown = run_playbook(playbook, extra_vars={'kh': str(empty)})
    assert unknown.rc != 0
    assert 'is not in the known_hosts file; refusing to connect' in unknown.stdout, unknown.explain()
    changed = run_playbook(playbook, extra_vars={'kh': str(wrong)})
    assert changed.rc != 0
    assert 'CHANGED' in changed.stdout, changed.explain()
    assert not os.path.exists(dest)


def test_sftp_keys_given_as_content_like_the_awx_credential_injects_them(sandbox, run_playbook, appliance_scenario):
    """docs/awx/credential_type_sftp_acme_host.yml: no key file, the key itself in both roles' variables.

    The challenge files (acme_certificates) and the certificate push (cert_push) both reach appliance1, and
    with -vvv the key's text appears nowhere in the output.
    """
    sc = appliance_scenario
    with open(sandbox['ssh']['private_key']) as handle:
        key_text = handle.read()
    body = [line for line in key_text.strip().splitlines() if not line.startswith('-----')]
    result = run_playbook(RENEW, extra_vars=sftp_vars(
        sandbox, sc, cert_push_sftp_private_key_src='', acme_certificates_sftp_private_key_src='',
        cert_push_sftp_private_key_content=key_text, acme_certificates_sftp_private_key_content=key_text),
        extra_args=('-vvv',))
    assert result.rc == 0, result.explain()
    assert_serving_store(sandbox, sc)
    output = result.stdout + result.stderr
    assert 'PRIVATE KEY' not in output
    assert not [line for line in body if len(line) > 16 and line in output]
