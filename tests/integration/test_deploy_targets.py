# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_push deploy targets beyond nginx (issue 16 item 4), against Debian's real haproxy and apache2 on the
sandbox host web3 (their own ports): certificates from pebble through playbooks/renew.yml, the target picked by a
host variable (web2 keeps nginx in the same run), each served certificate checked by a TLS handshake per server
name, a second run changes nothing, check mode writes nothing, and a configuration that fails validation is rolled
back while the previous certificate keeps being served."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import glob
import hashlib
import io
import os
import re
import shutil
import signal
import socket
import ssl
import time
import uuid

import pytest
import yaml

import helpers
from revoke_util import ISSUE
from test_roles_renew import RENEW, scenario, served, store_fingerprint  # noqa: F401 pylint: disable=unused-import

pytestmark = pytest.mark.timeout(900)

HOST = 'web3'
INSTALL_TASK = 'Install certificates, keys and server configuration in one call, test the configuration and reload the server'
VERIFY_TASK = 'Verify every server name serves the new certificate'

# Host variables of web3 per target: the sandbox's paths, and the reload by signal to the master process
# (haproxy master-worker: USR2; apache: USR1, a graceful restart): the role's default signals of these targets,
# not set here, so a wrong default fails the verification after the reload.
TARGET_VARS = {
    'haproxy': {
        'cert_push_target': 'haproxy',
        'cert_push_haproxy_conf': '{{ sandbox_haproxy_conf }}',
        'cert_push_haproxy_cert_dir': '{{ sandbox_haproxy_cert_dir }}',
        'cert_push_haproxy_crt_list': '{{ sandbox_haproxy_crt_list }}',
        'cert_push_reload': 'signal',
        'cert_push_reload_pid_file': '{{ sandbox_haproxy_pid }}',
        'cert_push_verify_port': '{{ sandbox_haproxy_port }}',
    },
    'apache': {
        'cert_push_target': 'apache',
        'cert_push_apache_ctl': '{{ sandbox_apache_ctl }}',
        'cert_push_apache_conf': '{{ sandbox_apache_conf }}',
        'cert_push_apache_conf_dir': '{{ sandbox_apache_conf_dir }}',
        'cert_push_https_port': '{{ sandbox_apache_port }}',
        'cert_push_reload': 'signal',
        'cert_push_reload_pid_file': '{{ sandbox_apache_pid }}',
    },
    # the user's own Apache virtual host names site.crt / site.key; validate and reload are argument lists
    'command': {
        'cert_push_target': 'command',
        'cert_push_command_files': [{'path': 'site.crt', 'parts': ['fullchain']},
                                    {'path': 'site.key', 'parts': ['privkey'], 'mode': '0600'}],
        'cert_push_command_validate': ['{{ sandbox_apache_ctl }}', '-f', '{{ sandbox_apache_conf }}', '-t'],
        'cert_push_command_reload': ['{{ sandbox_apache_ctl }}', '-f', '{{ sandbox_apache_conf }}', '-k', 'graceful'],
        'cert_push_verify_port': '{{ sandbox_apache_port }}',
    },
}
PORT_KEY = {'haproxy': 'haproxy_port', 'apache': 'apache_port', 'command': 'apache_port'}


@pytest.fixture(scope='module')
def target_host(sandbox):
    info = sandbox['hosts'][HOST]
    missing = [key for key in ('haproxy_conf', 'apache_conf') if key not in info]
    assert not missing, ('the sandbox runs no haproxy/apache2 on %s (%s missing): install them with '
                         '`tests/tools/bootstrap.sh apt` and run `sandbox.py up`' % (HOST, ', '.join(missing)))
    return info


@pytest.fixture
def web3_name(sandbox):
    """``web3.<net>.certpilot.test`` -> web3's address in /etc/hosts (the controller resolves the verify address)."""
    address = sandbox['hosts'][HOST]['address']
    name = '%s.n%s.certpilot.test' % (HOST, address.rsplit('.', 1)[0].replace('.', '-'))
    line = '%s %s # certpilot-test\n' % (address, name)
    with open('/etc/hosts') as handle:
        present = line in handle.read()
    if not present:
        with open('/etc/hosts', 'a') as handle:
            handle.write(line)
    assert socket.gethostbyname(name) == address
    yield name
    if not present:
        with open('/etc/hosts') as handle:
            kept = [entry for entry in handle.readlines() if entry != line]
        with open('/etc/hosts', 'w') as handle:
            handle.writelines(kept)


def roots_pem(sandbox):
    return ''.join(open(path).read() for path in sandbox['acme']['roots'])


def served_at(sandbox, address, port, server_name):
    """SHA-256 of the leaf ``address:port`` serves for SNI ``server_name``, the chain validated against pebble."""
    ctx = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH)
    ctx.load_verify_locations(cadata=roots_pem(sandbox))
    with socket.create_connection((address, int(port)), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def placeholder_at(address, port, server_name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, int(port)), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def target_inventory(sandbox, sc, target):
    """The sandbox inventory with the scenario's cert_push settings as group variables of the web servers and the
    target's as host variables of web3 (so that a host variable picks the target per host)."""
    with open(sandbox['inventory']) as handle:
        inventory = copy.deepcopy(yaml.safe_load(handle))
    extra = sc.extra_vars()
    group_vars = dict((k, v) for k, v in extra.items() if k.startswith('cert_push_'))
    inventory['all']['children']['webservers']['vars'] = group_vars
    inventory['all']['children']['webservers']['hosts'][HOST].update(TARGET_VARS[target])
    extra_vars = dict((k, v) for k, v in extra.items() if not k.startswith('cert_push_'))
    return inventory, extra_vars


def reload_server(info, target):
    pid_file = info['haproxy_pid'] if target == 'haproxy' else info['apache_pid']
    with open(pid_file) as handle:
        os.kill(int(handle.read().split()[0]), signal.SIGUSR2 if target == 'haproxy' else signal.SIGUSR1)
    time.sleep(1.5)


def wait_served(check, want, what, timeout=15):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        try:
            got = check()
        except (OSError, ssl.SSLError) as exc:
            got = repr(exc)
        if got == want:
            return got
        time.sleep(0.3)
    raise AssertionError('%s: served %s, expected %s' % (what, got, want))


class Deploy(object):
    """One scenario on web3 (and web2 on nginx) for one target; removes what it deployed afterwards."""

    def __init__(self, sandbox, scenario_factory, run_playbook, target):
        self.sandbox = sandbox
        self.target = target
        self.info = sandbox['hosts'][HOST]
        self.sc = scenario_factory(hosts=('web2', HOST), shared=False)
        self.cert = self.sc.certs_of(HOST)[0]
        self.name = self.cert['domains'][0]
        self.port = self.info[PORT_KEY[target]]
        self.inventory, self.extra_vars = target_inventory(sandbox, self.sc, target)
        self.run_playbook = run_playbook
        self.site = None
        if target == 'command':
            self._user_site()

    def run(self, check=False, extra_args=(), **extra):
        return self.run_playbook(RENEW, extra_vars=dict(self.extra_vars, **extra), inventory=self.inventory,
                                 check=check, extra_args=extra_args)

    def want(self):
        return store_fingerprint(self.sc.store, self.cert['name'])

    def served(self):
        return served_at(self.sandbox, self.info['address'], self.port, self.name)

    def cert_dir(self):
        return os.path.join(self.info['cert_dir'], self.cert['name'])

    def pem(self):
        return os.path.join(self.info['haproxy_cert_dir'], '%s.pem' % self.cert['name'])

    def _user_site(self):
        self.site = user_site(self.info, self.cert_dir(), self.cert['name'], self.name, self.port)

    def cleanup(self):
        """Remove this scenario's files from haproxy / apache and reload (the nginx side is the scenario's)."""
        cleanup_target(self.info, self.target, self.sc.tag, self.cert_dir())


def user_site(info, cert_dir, cert_name, server_name, port):
    """The user's own Apache virtual host for the command target: it names site.crt / site.key in ``cert_dir``,
    which start as the sandbox's placeholder certificate."""
    os.makedirs(cert_dir, mode=0o755)
    shutil.copyfile(info['default_cert'], os.path.join(cert_dir, 'site.crt'))
    fd = os.open(os.path.join(cert_dir, 'site.key'), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as handle, open(info['default_key']) as key:
        handle.write(key.read())
    site = os.path.join(info['apache_conf_dir'], 'user-%s.conf' % cert_name)
    with open(site, 'w') as handle:
        handle.write('<VirtualHost %s:%d>\n    ServerName %s\n    SSLEngine on\n'
                     '    SSLCertificateFile %s/site.crt\n    SSLCertificateKeyFile %s/site.key\n</VirtualHost>\n'
                     % (info['address'], port, server_name, cert_dir, cert_dir))
    reload_server(info, 'apache')
    return site


def cleanup_target(info, target, tag, cert_dir):
    """Remove the files named ``tag`` from haproxy / apache (and ``cert_dir``), then reload."""
    if target == 'haproxy':
        for path in glob.glob(os.path.join(info['haproxy_cert_dir'], '*%s*' % tag)):
            os.unlink(path)
        with open(info['haproxy_crt_list'], 'w') as handle:
            handle.write('')
    else:
        for path in glob.glob(os.path.join(info['apache_conf_dir'], '*%s*' % tag)):
            os.unlink(path)
    shutil.rmtree(cert_dir, ignore_errors=True)
    reload_server(info, 'haproxy' if target == 'haproxy' else 'apache')


@pytest.fixture
def deploy(sandbox, target_host, scenario, run_playbook):  # pylint: disable=unused-argument,redefined-outer-name
    made = []

    def make(target):
        item = Deploy(sandbox, scenario, run_playbook, target)
        made.append(item)
        return item
    yield make
    for item in made:
        item.cleanup()


def no_backups(*dirs):
    return [path for d in dirs for path in glob.glob(os.path.join(d, '.*certpilot-backup'))]


def assert_no_key_in_output(result, key_paths):
    text = result.stdout + result.stderr
    assert 'PRIVATE KEY-----' not in text, 'a private key appears in the output'
    for path in key_paths:
        with open(path) as handle:
            body = [line for line in handle.read().splitlines() if line and not line.startswith('-----')]
        leaked = [line for line in body if line in text]
        assert not leaked, '%d lines of %s appear in the output' % (len(leaked), path)


def _key_part(path):
    """The key block of a combined PEM (into a separate file, to look for its lines in the output)."""
    with open(path) as handle:
        text = handle.read()
    match = re.search(r'-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----\n', text, re.S)
    assert match, '%s holds no private key' % path
    return match.group(0)


@pytest.mark.parametrize('target', ['haproxy', 'apache', 'command'])
def test_deploy_verify_then_nothing_changes(sandbox, deploy, tmp_path, web3_name, target):
    dep = deploy(target)
    # the role verifies through a host name (resolved on the controller), not only an IP address
    dep.inventory['all']['children']['webservers']['hosts'][HOST]['cert_push_verify_address'] = web3_name
    if target == 'command':
        # the user's virtual host serves its placeholder until the push
        with open(dep.info['default_cert']) as handle:
            placeholder = hashlib.sha256(ssl.PEM_cert_to_DER_cert(handle.read())).hexdigest()
        wait_served(lambda: placeholder_at(dep.info['address'], dep.port, dep.name), placeholder, 'the user site')
    first = dep.run(extra_args=('-vvv', '--diff'))
    assert first.rc == 0, first.explain()
    want = dep.want()
    # a real handshake, SNI = the certificate's name, chain validated against pebble's root
    assert dep.served() == want, '%s (%s) does not serve %s' % (HOST, target, dep.name)
    # web2 kept nginx in the same run (the target is a host variable)
    web2 = dep.sc.certs_of('web2')[0]
    assert served(sandbox, 'web2', web2['domains'][0]) == store_fingerprint(dep.sc.store, web2['name'])
    # the verification the role ran for web3 went to the target's port
    verified = first.task_results(VERIFY_TASK)[HOST]['tls_expiry']
    checks = first.task_results('Work out the files, server blocks and endpoints of this host')[HOST][
        'ansible_facts']['_cert_push_endpoints']
    assert [(c['port'], c['expect']['fingerprint_sha256']) for c in checks] == [(dep.port, want)]
    assert checks[0]['server_name'] == dep.name
    # nothing came back as a mismatch, and the module names the endpoint it proved
    assert verified['results'] == [] and verified['returned']['matched'] == [checks[0]['name']]
    install = first.task_results(INSTALL_TASK)[HOST]
    if target == 'haproxy':
        # one combined PEM, 0600 (created so, the transaction never chmods a wider file), fullchain then key
        st = os.stat(dep.pem())
        assert st.st_mode & 0o777 == 0o600
        with open(dep.pem()) as handle:
            combined = handle.read()
        with open(os.path.join(str(dep.sc.store), dep.cert['name'], 'fullchain.pem')) as handle:
            assert combined.startswith(handle.read())
        key = tmp_path / 'key.pem'
        key.write_text(_key_part(dep.pem()))
        assert_no_key_in_output(first, [str(key)])
        with open(dep.info['haproxy_crt_list']) as handle:
            lines = [line.split() for line in handle.read().splitlines() if line and not line.startswith('#')]
        assert lines == [[dep.pem(), dep.name]]
        assert [f['dest'] for f in install['files']] == [dep.pem(), dep.info['haproxy_crt_list']]
        assert no_backups(dep.info['haproxy_cert_dir'], os.path.dirname(dep.info['haproxy_crt_list'])) == []
    elif target == 'apache':
        names = sorted(os.listdir(dep.cert_dir()))
        assert names == ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem']
        assert os.stat(os.path.join(dep.cert_dir(), 'privkey.pem')).st_mode & 0o777 == 0o600
        vhost = os.path.join(dep.info['apache_conf_dir'], 'certpilot-%s.conf' % dep.cert['name'])
        with open(vhost) as handle:
            text = handle.read()
        assert '<VirtualHost %s:%d>' % (dep.info['address'], dep.port) in text
        assert 'SSLCertificateFile %s/fullchain.pem' % dep.cert_dir() in text
        assert_no_key_in_output(first, [os.path.join(dep.cert_dir(), 'privkey.pem')])
        assert no_backups(dep.cert_dir(), dep.info['apache_conf_dir']) == []
    else:
        assert sorted(os.listdir(dep.cert_dir())) == ['site.crt', 'site.key']
        assert os.stat(os.path.join(dep.cert_dir(), 'site.key')).st_mode & 0o777 == 0o600
        assert_no_key_in_output(first, [os.path.join(dep.cert_dir(), 'site.key')])
        assert no_backups(dep.cert_dir()) == []
    second = dep.run()
    assert second.rc == 0, second.explain()
    for host in ('web2', HOST, 'localhost'):
        assert second.changed(host) == 0, '%s changed on the second run\n%s' % (host, second.explain())
    assert dep.served() == want


@pytest.mark.parametrize('target', ['haproxy', 'apache'])
def test_check_mode_writes_nothing(sandbox, deploy, target):
    dep = deploy(target)
    crt_list = open(dep.info['haproxy_crt_list']).read()
    result = dep.run(check=True)
    assert result.rc == 0, result.explain()
    assert not os.path.exists(dep.pem()) and not os.path.exists(dep.cert_dir())
    assert open(dep.info['haproxy_crt_list']).read() == crt_list
    assert glob.glob(os.path.join(dep.info['apache_conf_dir'], '*%s*' % dep.sc.tag)) == []
    # nothing was issued either: the handshake still gets the placeholder
    assert placeholder_at(dep.info['address'], dep.port, dep.name) == placeholder_at(
        dep.info['address'], dep.port, 'placeholder.%s.example.test' % HOST)


def _break(dep):
    """Break the configuration the validate command reads, the way a user would; returns the undo."""
    if dep.target == 'haproxy':
        conf = dep.info['haproxy_conf']
        with open(conf) as handle:
            original = handle.read()
        with open(conf, 'a') as handle:
            handle.write('    this-is-not-a-haproxy-keyword on\n')

        def undo():
            with open(conf, 'w') as handle:
                handle.write(original)
        return undo
    path = os.path.join(dep.info['apache_conf_dir'], 'zz-broken-%s.conf' % dep.sc.tag)
    with open(path, 'w') as handle:
        handle.write('ThisIsNotAnApacheDirective on\n')
    return lambda: os.unlink(path)


@pytest.mark.parametrize('target', ['haproxy', 'apache', 'command'])
def test_failed_validation_rolls_back_and_the_old_certificate_is_served(sandbox, deploy, target):
    dep = deploy(target)
    first = dep.run()
    assert first.rc == 0, first.explain()
    old = dep.want()
    assert dep.served() == old
    files = [dep.pem()] if target == 'haproxy' else [
        os.path.join(dep.cert_dir(), name) for name in sorted(os.listdir(dep.cert_dir()))]
    before = dict((path, open(path, 'rb').read()) for path in files)
    undo = _break(dep)
    try:
        failed = dep.run(acme_certificates_force=True)
    finally:
        undo()
    assert failed.rc != 0, failed.explain()
    assert dep.want() != old, 'the forced renewal did not issue a new certificate'
    assert failed.failed_hosts() == [HOST], failed.explain()
    server = {'haproxy': 'haproxy', 'apache': 'apache', 'command': 'the server'}[target]
    msg = failed.task_results('Fail with what is served')[HOST]['msg']
    assert msg.startswith('%s: step "Test %s" failed' % (HOST, server)), msg
    assert 'the previous certificate is still served' in msg, msg
    # the previous files are back, byte for byte, no backup left, and the old certificate is served
    assert dict((path, open(path, 'rb').read()) for path in files) == before
    assert no_backups(*set(os.path.dirname(path) for path in files)) == []
    assert dep.served() == old
    # and once the configuration is fixed, the next run deploys the new certificate
    fixed = dep.run()
    assert fixed.rc == 0, fixed.explain()
    wait_served(dep.served, dep.want(), '%s after the fix' % target)


# ------------------------------------------------------------------ the role README's examples, run as written

README = os.path.join(helpers.REPO, 'roles', 'cert_push', 'README.md')
MARKER_RE = re.compile(r'^<!--\s*docs-example:\s*([A-Za-z0-9_-]+)')
# example -> (target, the group it deploys to)
EXAMPLES = {'cert-push-haproxy': ('haproxy', 'loadbalancers'), 'cert-push-apache': ('apache', 'apache_servers'),
            'cert-push-command': ('command', 'custom_servers')}


def readme_blocks(section='## Deploy targets'):
    """[(name or None, text)] of the ```yaml blocks in ``section`` of the role README."""
    with io.open(README, encoding='utf-8') as handle:
        lines = handle.read().split('\n')
    start = lines.index(section)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith('## '))
    blocks, index = [], start
    while index < end:
        if lines[index].strip() == '```yaml':
            close = lines.index('```', index + 1)
            marker = MARKER_RE.match(lines[index - 1].strip())
            blocks.append((marker.group(1) if marker else None, '\n'.join(lines[index + 1:close]) + '\n'))
            index = close
        index += 1
    return blocks


def test_every_yaml_example_of_the_deploy_targets_is_run():
    names = [name for name, _text in readme_blocks()]
    assert sorted(names, key=str) == sorted(EXAMPLES), 'yaml blocks of "Deploy targets" without a run here: %s' % names


def _overrides(sandbox, target, tag, domain, group, store):
    """-e values pointing the example at the sandbox: the certificate, the store, web3's paths and reload."""
    values = dict((k, v) for k, v in TARGET_VARS[target].items()
                  if k not in ('cert_push_target', 'cert_push_command_files'))
    values.update({
        'cert_push_certificates': [{'name': tag, 'domains': [domain], 'group': group}],
        'cert_push_store': str(store), 'cert_push_dest_dir': '{{ sandbox_cert_dir }}',
        'cert_push_listen_address': '{{ sandbox_address }}',
    })
    return values


@pytest.mark.parametrize('example', sorted(EXAMPLES))
def test_readme_example_runs_as_written(sandbox, target_host, run_playbook, sandbox_dns, tmp_store, example):
    target, group = EXAMPLES[example]
    text = dict(readme_blocks())[example]
    play = yaml.safe_load(text)[0]
    assert play['hosts'] == group and play['roles'][0]['vars']['cert_push_target'] == target
    info = target_host
    tag = 'd' + uuid.uuid4().hex[:8]
    domain = '%s.example.test' % tag
    sandbox_dns.add_a(domain, sandbox['hosts']['web1']['address'])
    cert_dir = os.path.join(info['cert_dir'], tag)
    port = info[PORT_KEY[target]]
    try:
        issued = run_playbook(ISSUE, extra_vars={
            'acme_directory': sandbox['acme']['directory'], 'acme_ca_bundle': sandbox['acme']['ca_bundle'],
            'account_key': str(tmp_store / 'account.key'), 'store': str(tmp_store),
            'webroot': sandbox['hosts']['web1']['webroot'], 'certificates': [{'name': tag, 'domains': [domain]}]})
        assert issued.rc == 0, issued.explain()
        if target == 'command':
            user_site(info, cert_dir, tag, domain, port)
        with open(sandbox['inventory']) as handle:
            inventory = copy.deepcopy(yaml.safe_load(handle))
        inventory['all']['children'][group] = {'hosts': {HOST: {}}}
        result = run_playbook(text, extra_vars=_overrides(sandbox, target, tag, domain, group, tmp_store),
                              inventory=inventory)
        assert result.rc == 0, result.explain()
        assert result.changed(HOST) > 0
        want = store_fingerprint(tmp_store, tag)
        assert served_at(sandbox, info['address'], port, domain) == want
    finally:
        cleanup_target(info, target, tag, cert_dir)
        sandbox_dns.clear_a(domain)


def test_an_unknown_target_is_refused_by_the_argument_spec(run_playbook):
    result = run_playbook("""
- name: An unknown deploy target
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run the role
      ansible.builtin.include_role:
        name: certpilot.tls.cert_push
""", extra_vars={'cert_push_target': 'lighttpd'})
    text = result.stdout + result.stderr
    assert result.rc != 0, result.explain()
    assert 'Validating arguments against arg spec' in text and 'cert_push_target' in text, result.explain()
    assert 'lighttpd' in text and 'haproxy' in text, result.explain()
