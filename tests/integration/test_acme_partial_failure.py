# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One bad certificate never blocks the others (issue 12): playbooks/renew.yml against real pebble and nginx.

- 20 certificates, one of them with an http-01 address nothing listens on (pebble's validation is refused):
  the other 19 are issued AND served by nginx in the same run, the run ends failed with one line naming the
  bad one; the second run fails again for that one only and orders nothing for the 19.
- A certificate refused at order time (a profile the CA does not offer) is never finalized, the others are
  deployed, and the run fails naming it.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import uuid

import pytest

from test_roles_renew import RENEW, WEB, Scenario, served, store_fingerprint  # noqa: E402

ORDER_TASK = 'Order what is due (all certificates at once)'
FINALIZE_TASK = 'Finalize the orders and download the certificates'
FINAL_TASK = 'Fail with one line naming every failed certificate and why'

pytestmark = pytest.mark.timeout(900)


def dead_address(sandbox):
    """An address in the sandbox's loopback net where nothing listens (connection refused at once)."""
    base = sandbox['hosts']['web1']['address'].rsplit('.', 1)[0]
    used = set(h['address'] for h in sandbox['hosts'].values())
    address = base + '.99'
    assert address not in used
    with pytest.raises(OSError):
        socket.create_connection((address, sandbox['acme']['http_port']), timeout=3).close()
    return address


class Run(Scenario):
    """Certificates with unique names, their DNS records, the extra vars of renew.yml, and the cleanup.

    test_roles_renew's Scenario (its extra vars and cleanup), with certificates added one by one.
    """

    def __init__(self, sandbox, dns, store):
        Scenario.__init__(self, sandbox, dns, store, hosts=(), shared=False)
        self.tag = 'pf' + uuid.uuid4().hex[:8]
        self.hosts = list(WEB)
        self.dns = dns

    def add(self, suffix, host, address=None, **extra):
        name = '%s-%s' % (self.tag, suffix)
        domain = '%s.example.test' % name
        self.dns.add_a(domain, address or self.sandbox['hosts'][host]['address'])
        self.dns_names.append(domain)
        cert = {'name': name, 'domains': [domain], 'hosts': [host]}
        cert.update(extra)
        self.certs.append(cert)
        return cert

    def deployed(self, cert):
        info = self.sandbox['hosts'][cert['hosts'][0]]
        return (os.path.exists(os.path.join(info['nginx_conf_dir'], 'certpilot-%s.conf' % cert['name']))
                or os.path.exists(os.path.join(info['cert_dir'], cert['name'])))

    def cleanup(self):
        Scenario.cleanup(self, self.dns)


@pytest.fixture
def make_run(sandbox, sandbox_dns, tmp_store):
    made = []

    def make():
        item = Run(sandbox, sandbox_dns, tmp_store)
        made.append(item)
        return item
    yield make
    for item in made:
        item.cleanup()


def final_failure(result):
    """The message of renew.yml's last task on the ACME host."""
    res = result.task_results(FINAL_TASK)['localhost']
    assert res.get('failed'), 'the last play did not fail: %s\n%s' % (res, result.explain(80))
    return res['msg']


def assert_served(sandbox, run, certs, result):
    for cert in certs:
        want = store_fingerprint(run.store, cert['name'])
        got = served(sandbox, cert['hosts'][0], cert['domains'][0])
        assert got == want, '%s does not serve %s\n%s' % (cert['hosts'][0], cert['name'], result.explain(80))


def test_one_unreachable_of_twenty_the_others_are_issued_and_deployed(sandbox, run_playbook, make_run):
    run = make_run()
    dead = dead_address(sandbox)
    good = [run.add('g%02d' % i, WEB[i % 3]) for i in range(19)]
    bad = run.add('unreachable', 'web2', address=dead)

    first = run_playbook(RENEW, extra_vars=run.extra_vars(), timeout=800)
    assert first.rc != 0, first.explain(80)
    # only the ACME host fails, and only in the last play: no web host failed
    assert first.failed_hosts() == ['localhost'], first.explain(80)
    msg = final_failure(first)
    assert msg.startswith('1 certificate failed: %s: ' % bad['name']), msg
    assert dead in msg or 'connection' in msg.lower(), msg
    assert not any(c['name'] + ':' in msg for c in good), msg
    # the order step ordered all 20; the finalize step issued the 19 and names the bad one with pebble's problem
    order = first.task_results(ORDER_TASK)['localhost']
    assert sorted(order['due']) == sorted(c['name'] for c in run.certs) and order['failed_certificates'] == {}
    fin = first.task_results(FINALIZE_TASK)['localhost']
    assert sorted(fin['issued']) == sorted(c['name'] for c in good), fin
    assert list(fin['failed_certificates']) == [bad['name']]
    entry = fin['failed_certificates'][bad['name']]
    assert entry['stage'] == 'finalize' and entry['reason'] == 'ca-problem'
    assert entry['problem']['type'].startswith('urn:ietf:params:acme:error:'), entry
    # the 19 are served by nginx (TLS handshake validated against pebble's root); the bad one is nowhere
    assert_served(sandbox, run, good, first)
    assert not os.path.exists(os.path.join(str(run.store), bad['name'], 'fullchain.pem'))
    assert not run.deployed(bad)

    second = run_playbook(RENEW, extra_vars=run.extra_vars(), timeout=800)
    assert second.rc != 0 and second.failed_hosts() == ['localhost'], second.explain(80)
    msg = final_failure(second)
    assert msg.startswith('1 certificate failed: %s: ' % bad['name']), msg
    order = second.task_results(ORDER_TASK)['localhost']
    actions = dict((name, r['action']) for name, r in order['certificates'].items())
    assert all(actions[c['name']] == 'none' for c in good), actions          # no new order for the 19
    assert order['due'] == [bad['name']]
    fin = second.task_results(FINALIZE_TASK)['localhost']
    assert fin['issued'] == [] and list(fin['failed_certificates']) == [bad['name']]
    for host in WEB:
        assert second.changed(host) == 0, '%s changed on the second run\n%s' % (host, second.explain(80))
    assert_served(sandbox, run, good, second)


def test_refused_at_order_time_is_not_finalized_and_the_others_are_deployed(sandbox, run_playbook, make_run):
    run = make_run()
    good = [run.add('ok%d' % i, WEB[i]) for i in range(3)]
    # pebble 2.4 offers no profiles: the order of this one fails before any request for it
    bad = run.add('noprofile', 'web1', profile='certpilot-no-such-profile')
    result = run_playbook(RENEW, extra_vars=run.extra_vars(), timeout=600)
    assert result.rc != 0 and result.failed_hosts() == ['localhost'], result.explain(80)
    order = result.task_results(ORDER_TASK)['localhost']
    assert not order.get('failed'), order
    assert sorted(order['due']) == sorted(c['name'] for c in good)
    entry = order['failed_certificates'][bad['name']]
    assert entry['stage'] == 'order' and 'certpilot-no-such-profile' in entry['msg']
    assert order['certificates'][bad['name']]['action'] == 'error'
    fin = result.task_results(FINALIZE_TASK)['localhost']
    assert bad['name'] not in fin['certificates'], 'a certificate that failed at order time was finalized'
    assert sorted(fin['issued']) == sorted(c['name'] for c in good)
    msg = final_failure(result)
    assert msg.startswith('1 certificate failed: %s: ' % bad['name']) and 'certpilot-no-such-profile' in msg, msg
    assert_served(sandbox, run, good, result)
    assert not run.deployed(bad)


def test_role_alone_fails_at_its_end_naming_the_failed_certificate(sandbox, run_playbook, tmp_store):
    """Without renew.yml, acme_certificates_fail_on_error (default true) makes the role's last task fail."""
    name = 'pf%s-alone' % uuid.uuid4().hex[:8]
    playbook = '\n'.join([
        '- hosts: localhost',
        '  gather_facts: false',
        '  roles:',
        '    - role: certpilot.tls.acme_certificates',
    ])
    extra = {
        'acme_certificates_list': [{'name': name, 'domains': ['%s.example.test' % name], 'hosts': ['web1'],
                                    'profile': 'certpilot-no-such-profile'}],
        'acme_certificates_directory': sandbox['acme']['directory'],
        'acme_certificates_ca_bundle': sandbox['acme']['ca_bundle'],
        'acme_certificates_store': str(tmp_store),
        'acme_certificates_account_key_src': os.path.join(str(tmp_store), 'account.key'),
        'acme_certificates_terms_agreed': True,
    }
    result = run_playbook(playbook, extra_vars=extra, timeout=300)
    assert result.rc != 0 and result.failed_hosts() == ['localhost'], result.explain(60)
    res = result.task_results('Fail naming every certificate that failed (the good ones are finalized and in the store)')
    assert res['localhost'].get('failed'), result.explain(60)
    msg = res['localhost']['msg']
    assert msg.startswith('1 certificate failed: %s: ' % name) and 'certpilot-no-such-profile' in msg, msg
    # the cleanup ran before (always block) and nothing was finalized
    assert result.task_results('Finalize the orders and download the certificates')['localhost'].get('skipped')
    assert not os.path.exists(os.path.join(str(tmp_store), name, 'cert.pem'))
