# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certpilot.tls sandbox: real pebble, DNS, nginx, sshd and SMTP on loopback.

    python tests/sandbox/sandbox.py up | down [--purge] | status | env
    python tests/sandbox/sandbox.py host-stop NAME [--nginx] | host-start NAME | restart SERVICE...

Environment:
    CERTPILOT_SANDBOX_DIR           state dir (default <repo>/.sandbox)
    CERTPILOT_NONCE_REJECT          pebble's badNonce percentage (default 30)
    CERTPILOT_SANDBOX_PORT_OFFSET   added to every port (default 0; for a scratch sandbox)
    CERTPILOT_SANDBOX_NET           first three octets of the host addresses (default 127.42.0)
    CERTPILOT_SANDBOX_EXTRA_SERVICES  extra service-plugin dirs (':'-separated)

See tests/README.md and tests/sandbox/README.md.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import base64
import fcntl
import functools
import glob
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import proctools  # noqa: E402  pylint: disable=wrong-import-position
from pki import LocalCA, ensure_ed25519, write_private, write_public  # noqa: E402  pylint: disable=wrong-import-position
from service import ProbeFailed, Service, banner_probe, dns_query, http_probe  # noqa: E402  pylint: disable=wrong-import-position

REPO = os.path.dirname(os.path.dirname(HERE))

PEBBLE = '/usr/bin/pebble'
CHALLTESTSRV = '/usr/bin/pebble-challtestsrv'
NGINX = '/usr/sbin/nginx'
SSHD = '/usr/sbin/sshd'
SFTP_SERVER = '/usr/lib/openssh/sftp-server'
HAPROXY = '/usr/sbin/haproxy'
APACHE = '/usr/sbin/apache2'
APACHE_CTL = '/usr/sbin/apache2ctl'
APACHE_MODULES = '/usr/lib/apache2/modules'

# base ports (before CERTPILOT_SANDBOX_PORT_OFFSET)
DNS_PORT, DNS_MGMT_PORT = 8053, 8055
ACME_PORT, ACME_MGMT_PORT = 14000, 15000
EAB_PORT, EAB_MGMT_PORT = 14010, 15010
SMTP_PORT, SMTP_TLS_PORT = 2525, 2587
SSH_PORT, HTTP_PORT, HTTPS_PORT, TLS_ALPN_PORT = 2222, 5002, 5443, 5001
# Deploy targets beyond nginx (cert_push_target): Debian's haproxy and apache2 on the host TARGETS_HOST, other ports
HAPROXY_PORT, APACHE_PORT = 6443, 7443
TARGETS_HOST = 'web3'

HOSTS = (('web1', 11, True), ('web2', 12, True), ('web3', 13, True), ('appliance1', 14, False))


class SandboxError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


class Context(object):
    """Everything a service needs to know; handed to every ``Service`` callable."""

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.repo = REPO
        self.dir = os.path.abspath(env.get('CERTPILOT_SANDBOX_DIR') or os.path.join(REPO, '.sandbox')).rstrip('/')
        self.offset = int(env.get('CERTPILOT_SANDBOX_PORT_OFFSET') or 0)
        self.net = (env.get('CERTPILOT_SANDBOX_NET') or '127.42.0').rstrip('.')
        self.nonce_reject = int(env.get('CERTPILOT_NONCE_REJECT') or 30)
        venv_python = os.path.join(REPO, '.venv', 'bin', 'python')
        self.python = venv_python if os.path.exists(venv_python) else sys.executable
        self.extra_service_dirs = [d for d in (env.get('CERTPILOT_SANDBOX_EXTRA_SERVICES') or '').split(':') if d]
        self.ca = LocalCA(self.path('ca'))
        self.www_base = www_base(self.dir)
        self.hosts = {}
        for name, last, python in HOSTS:
            self.hosts[name] = self._host(name, self.host_address(last), python)
        self.log = log

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def repo_path(self, rel):
        return os.path.join(self.repo, rel)

    def port(self, base):
        return int(base) + self.offset

    def host_address(self, last_octet):
        return '%s.%d' % (self.net, last_octet)

    def _host(self, name, address, python):
        root = self.path('hosts', name)
        host = {
            'address': address, 'ssh_port': self.port(SSH_PORT), 'http_port': self.port(HTTP_PORT),
            'https_port': self.port(HTTPS_PORT), 'root': root,
            'nginx_binary': NGINX, 'nginx_conf': os.path.join(root, 'nginx', 'nginx.conf'),
            'nginx_conf_dir': os.path.join(root, 'nginx', 'conf.d'),
            'nginx_pid': os.path.join(root, 'run', 'nginx.pid'),
            'nginx_user': nginx_user(),
            'webroot': os.path.join(self.www_base, name, 'www', 'acme'), 'cert_dir': os.path.join(root, 'certs'),
            'names': ['%s.example.test' % name, 'www.%s.example.test' % name, 'api.%s.example.test' % name],
            'python': python,
            'sshd_config': os.path.join(root, 'ssh', 'sshd_config'),
            'sshd_pid': os.path.join(root, 'run', 'sshd.pid'),
            'host_key': os.path.join(root, 'ssh', 'ssh_host_ed25519_key'),
            'logs': os.path.join(root, 'logs'),
            'default_cert': os.path.join(root, 'nginx', 'default.crt'),
            'default_key': os.path.join(root, 'nginx', 'default.key'),
        }
        return self._targets(name, root, host)

    def _targets(self, name, root, host):
        """The deploy targets beyond nginx on TARGETS_HOST: haproxy and apache2 (when installed), other ports."""
        if name != TARGETS_HOST:
            return host
        if os.path.exists(HAPROXY):
            host.update({
                'haproxy_binary': HAPROXY, 'haproxy_conf': os.path.join(root, 'haproxy', 'haproxy.cfg'),
                'haproxy_cert_dir': os.path.join(root, 'haproxy', 'certs'),
                'haproxy_crt_list': os.path.join(root, 'haproxy', 'certpilot.crt-list'),
                'haproxy_default_pem': os.path.join(root, 'haproxy', 'default.pem'),
                'haproxy_pid': os.path.join(root, 'run', 'haproxy.pid'), 'haproxy_port': self.port(HAPROXY_PORT),
            })
        if os.path.exists(APACHE):
            host.update({
                'apache_binary': APACHE, 'apache_ctl': APACHE_CTL,
                'apache_conf': os.path.join(root, 'apache', 'apache2.conf'),
                'apache_conf_dir': os.path.join(root, 'apache', 'sites'),
                'apache_pid': os.path.join(root, 'run', 'apache2.pid'), 'apache_port': self.port(APACHE_PORT),
                'apache_user': nginx_user(),
            })
        return host

    # URLs
    @property
    def ca_bundle(self):
        return self.path('pebble', 'wfe-ca.pem')

    def acme_url(self, port, path=''):
        return 'https://127.0.0.1:%d%s' % (self.port(port), path)

    @property
    def dns_mgmt(self):
        return 'http://127.0.0.1:%d' % self.port(DNS_MGMT_PORT)


def _others_can_traverse(path):
    """True when every existing directory from / down to ``path`` has o+x (what an unrelated uid needs)."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    while True:
        try:
            if not os.stat(path).st_mode & 0o001:
                return False
        except OSError:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


WWW_EXTERNAL_BASE = '/var/tmp'


def www_base(state_dir):
    """Where the host webroots live: inside the state dir when the nginx workers (an unrelated uid) can
    traverse to it, else (a clone in a 0700 directory such as root's home or a ``mktemp -d``) in a
    root-owned 0755 directory under /var/tmp named for the state dir, removed again by ``down``."""
    if _others_can_traverse(state_dir):
        return os.path.join(state_dir, 'hosts')
    import hashlib  # pylint: disable=import-outside-toplevel
    digest = hashlib.sha256(state_dir.encode('utf-8')).hexdigest()[:12]
    return os.path.join(WWW_EXTERNAL_BASE, 'certpilot-sandbox-www-%s' % digest)


def is_external_www(ctx):
    return not ctx.www_base.startswith(ctx.dir + os.sep)


def ensure_www_base(ctx):
    """Create the webroot base; an external one must be a real directory of ours that nobody else can write."""
    base = ctx.www_base
    if not is_external_www(ctx):
        makedirs(base)
        os.chmod(base, 0o755)
        return
    try:
        os.mkdir(base, 0o755)
        os.chmod(base, 0o755)
    except FileExistsError:
        pass
    st = os.lstat(base)
    import stat as stat_mod  # pylint: disable=import-outside-toplevel
    if not stat_mod.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise SandboxError('%s (the webroot base for the 0700 state dir %s) is not a directory owned by uid %d '
                           'and writable only by it; remove it and run up again' % (base, ctx.dir, os.getuid()))
    log('- webroots in %s (the nginx workers cannot traverse to %s)' % (base, ctx.dir))


def remove_external_www(ctx):
    if is_external_www(ctx) and os.path.isdir(ctx.www_base) and not os.path.islink(ctx.www_base):
        shutil.rmtree(ctx.www_base)
        log('- removed %s' % ctx.www_base)


def nginx_user():
    for user in ('www-data', 'nobody'):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    return 'root'


def read_text(path, default=None):
    try:
        with open(path) as fh:
            return fh.read()
    except (IOError, OSError):
        return default


def write_if_changed(path, text, mode=0o644):
    if read_text(path) == text:
        os.chmod(path, mode)
        return False
    write_public(path, text.encode('utf-8'), mode)
    return True


def makedirs(*paths):
    for p in paths:
        os.makedirs(p, mode=0o755, exist_ok=True)


def tail(path, lines=15):
    text = read_text(path, '') or ''
    return '\n'.join('    | ' + line for line in text.splitlines()[-lines:])


# ------------------------------------------------------------------ files


def prepare(ctx):
    """Create every key, cert and config file (keys/CA only once)."""
    makedirs(ctx.dir, ctx.path('run'), ctx.path('logs'), ctx.path('bin'), ctx.path('ssh'), ctx.path('pebble'),
             ctx.path('pebble-eab'), ctx.path('mail'), ctx.path('smtp'), ctx.path('services'))
    os.chmod(ctx.dir, 0o755)
    if ctx.ca.ensure():
        log('  created local CA %s' % ctx.ca.cert_path)
    shutil.copyfile(ctx.ca.cert_path, ctx.ca_bundle)
    ctx.ca.issue(ctx.path('pebble', 'wfe.pem'), ctx.path('pebble', 'wfe.key'), u'localhost',
                 dns_names=['localhost'], ip_addresses=['127.0.0.1'])
    ctx.ca.issue(ctx.path('smtp', 'smtp.pem'), ctx.path('smtp', 'smtp.key'), u'localhost',
                 dns_names=['localhost'], ip_addresses=['127.0.0.1'])
    # symlink so the challtestsrv command line names the state dir (ownership rule)
    link = ctx.path('bin', 'pebble-challtestsrv')
    if os.path.realpath(link) != os.path.realpath(CHALLTESTSRV):
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(CHALLTESTSRV, link)
    _prepare_acme(ctx)
    _prepare_smtp(ctx)
    _prepare_ssh(ctx)
    for name, host in sorted(ctx.hosts.items()):
        _prepare_host(ctx, name, host)
    _write_inventory(ctx)


def _prepare_acme(ctx):
    keys_path = ctx.path('pebble-eab', 'eab-keys.json')
    keys = json.loads(read_text(keys_path, '{}') or '{}')
    if sorted(keys) != ['kid-1', 'kid-2']:
        keys = dict((kid, base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b'=').decode('ascii'))
                    for kid in ('kid-1', 'kid-2'))
        write_private(keys_path, json.dumps(keys, indent=2).encode('utf-8'))
    for sub, port, mgmt, eab in (('pebble', ACME_PORT, ACME_MGMT_PORT, False),
                                 ('pebble-eab', EAB_PORT, EAB_MGMT_PORT, True)):
        conf = {
            'listenAddress': '127.0.0.1:%d' % ctx.port(port),
            'managementListenAddress': '127.0.0.1:%d' % ctx.port(mgmt),
            'certificate': ctx.path('pebble', 'wfe.pem'),
            'privateKey': ctx.path('pebble', 'wfe.key'),
            'httpPort': ctx.port(HTTP_PORT),
            'tlsPort': ctx.port(TLS_ALPN_PORT),
            'ocspResponderURL': '',
            'externalAccountBindingRequired': eab,
        }
        if eab:
            conf['externalAccountMACKeys'] = keys
        path = ctx.path(sub, 'pebble-config.json')
        text = json.dumps({'pebble': conf}, indent=2, sort_keys=True) + '\n'
        if read_text(path) != text:
            write_private(path, text.encode('utf-8'))


def _prepare_smtp(ctx):
    pw_path = ctx.path('smtp', 'password')
    if not (read_text(pw_path) or '').strip():
        write_private(pw_path, secrets.token_urlsafe(18).encode('ascii') + b'\n')


def _prepare_ssh(ctx):
    pub = ensure_ed25519(ctx.path('ssh', 'id_ed25519'), 'certpilot-sandbox-client')
    write_if_changed(ctx.path('ssh', 'authorized_keys'), pub + '\n', 0o600)
    lines = []
    for name, host in sorted(ctx.hosts.items()):
        makedirs(os.path.dirname(host['host_key']))
        host_pub = ensure_ed25519(host['host_key'], 'root@%s' % name).split()
        lines.append('[%s]:%d %s %s\n' % (host['address'], host['ssh_port'], host_pub[0], host_pub[1]))
    write_if_changed(ctx.path('ssh', 'known_hosts'), ''.join(lines))
    makedirs('/run/sshd')
    shell = (
        '#!/bin/sh\n'
        '# ForceCommand of a sandbox host without Python (appliance): sftp works, python does not.\n'
        'cmd="${SSH_ORIGINAL_COMMAND:-}"\n'
        'case "$cmd" in\n'
        '  internal-sftp|internal-sftp\\ *|sftp-server|*/sftp-server|*/sftp-server\\ *) exec %s ;;\n'
        'esac\n'
        'case "$cmd" in\n'
        '  *python*) echo "sh: python3: not found" >&2; exit 127 ;;\n'
        'esac\n'
        'if [ -z "$cmd" ]; then exec /bin/sh -l; fi\n'
        'exec /bin/sh -c "$cmd"\n' % SFTP_SERVER)
    write_if_changed(ctx.path('bin', 'nopython-shell'), shell, 0o755)


def _prepare_host(ctx, name, host):
    root = host['root']
    ensure_www_base(ctx)
    makedirs(root, os.path.join(root, 'nginx'), host['nginx_conf_dir'], os.path.join(root, 'run'), host['logs'],
             os.path.join(root, 'tmp'), os.path.join(host['webroot'], '.well-known', 'acme-challenge'),
             host['cert_dir'])
    # keep the webroot path traversable and readable for the nginx workers
    www = os.path.dirname(host['webroot'])
    for p in (root, os.path.dirname(www), www, host['webroot'], os.path.join(host['webroot'], '.well-known'),
              os.path.join(host['webroot'], '.well-known', 'acme-challenge')):
        os.chmod(p, 0o755)
    ctx.ca.issue(host['default_cert'], host['default_key'], u'%s placeholder' % name,
                 dns_names=['placeholder.%s.example.test' % name], ip_addresses=[host['address']])
    probe = os.path.join(host['webroot'], '.well-known', 'acme-challenge', 'sandbox-probe')
    write_if_changed(probe, 'sandbox-probe %s\n' % name)
    tmp = os.path.join(root, 'tmp')
    mime = 'include /etc/nginx/mime.types;\n    ' if os.path.exists('/etc/nginx/mime.types') else ''
    conf = """# certpilot sandbox host {name}: generated by tests/sandbox/sandbox.py (rewritten on every up).
# Drop server blocks into {confd}/*.conf; listen on {addr}:<port> (never a wildcard address).
user {user};
worker_processes 1;
pid {pid};
error_log {logs}/error.log warn;
events {{
    worker_connections 256;
}}
http {{
    {mime}default_type application/octet-stream;
    access_log {logs}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server_names_hash_bucket_size 128;
    ssl_protocols TLSv1.2 TLSv1.3;

    server {{
        listen {addr}:{http} default_server;
        server_name _;
        location ^~ /.well-known/acme-challenge/ {{
            root {webroot};
            default_type text/plain;
        }}
        location / {{
            return 200 "{name}\\n";
        }}
    }}

    server {{
        listen {addr}:{https} ssl default_server;
        server_name _;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            return 200 "{name}\\n";
        }}
    }}

    include {confd}/*.conf;
}}
""".format(name=name, confd=host['nginx_conf_dir'], addr=host['address'], user=host['nginx_user'],
           pid=host['nginx_pid'], logs=host['logs'], mime=mime, tmp=tmp, http=host['http_port'],
           https=host['https_port'], webroot=host['webroot'], cert=host['default_cert'], key=host['default_key'])
    write_if_changed(host['nginx_conf'], conf)
    _prepare_haproxy(ctx, name, host)
    _prepare_apache(ctx, name, host)
    force = '' if host['python'] else 'ForceCommand %s\n' % ctx.path('bin', 'nopython-shell')
    sshd = """# certpilot sandbox host {name}: generated by tests/sandbox/sandbox.py
ListenAddress {addr}:{port}
HostKey {hostkey}
PidFile {pid}
AuthorizedKeysFile {auth}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
StrictModes no
UsePAM no
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 64:30:256
MaxSessions 64
LogLevel INFO
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
{force}""".format(name=name, addr=host['address'], port=host['ssh_port'], hostkey=host['host_key'],
                  pid=host['sshd_pid'], auth=ctx.path('ssh', 'authorized_keys'), force=force)
    write_if_changed(host['sshd_config'], sshd, 0o600)


def _prepare_haproxy(ctx, name, host):  # pylint: disable=unused-argument
    """haproxy in master-worker mode: a default certificate, then the crt-list that cert_push_target=haproxy writes
    (created empty once, then left to the role); reloaded by USR2 to the master (cert_push_reload=signal)."""
    if 'haproxy_binary' not in host:
        return
    makedirs(os.path.dirname(host['haproxy_conf']))
    os.makedirs(host['haproxy_cert_dir'], mode=0o700, exist_ok=True)
    with open(host['default_cert']) as cert, open(host['default_key']) as key:
        write_private(host['haproxy_default_pem'], (cert.read() + key.read()).encode('ascii'))
    if not os.path.exists(host['haproxy_crt_list']):
        write_public(host['haproxy_crt_list'], b'')
    conf = """# certpilot sandbox host {name}: haproxy, generated by tests/sandbox/sandbox.py (rewritten on every up).
# cert_push_target=haproxy writes combined PEMs into {certs} and the crt-list {crtlist}.
global
    master-worker
    pidfile {pid}

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend https
    bind {addr}:{port} ssl crt {default} crt-list {crtlist}
    http-request return status 200 content-type text/plain string "{name} haproxy"
""".format(name=name, certs=host['haproxy_cert_dir'], crtlist=host['haproxy_crt_list'], pid=host['haproxy_pid'],
           addr=host['address'], port=host['haproxy_port'], default=host['haproxy_default_pem'])
    write_if_changed(host['haproxy_conf'], conf)


def _prepare_apache(ctx, name, host):  # pylint: disable=unused-argument
    """apache2 with its own configuration: a default virtual host, then the sites dir of cert_push_target=apache;
    reloaded gracefully by USR1 to the parent (cert_push_reload=signal)."""
    if 'apache_binary' not in host:
        return
    import grp  # pylint: disable=import-outside-toplevel
    apache_dir = os.path.dirname(host['apache_conf'])
    run_dir = os.path.join(host['root'], 'run', 'apache')
    makedirs(apache_dir, host['apache_conf_dir'], run_dir)
    user = host['apache_user']
    group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    modules = ''.join('LoadModule %s_module %s/mod_%s.so\n' % (mod, APACHE_MODULES, mod)
                      for mod in ('mpm_event', 'authz_core', 'ssl', 'socache_shmcb'))
    conf = """# certpilot sandbox host {name}: apache2, generated by tests/sandbox/sandbox.py (rewritten on every up).
# cert_push_target=apache drops <VirtualHost {addr}:{port}> files into {sites}/*.conf.
ServerRoot {apache_dir}
ServerName {name}.example.test
{modules}PidFile {pid}
DefaultRuntimeDir {run}
Mutex file:{run} default
ErrorLog {logs}/apache-error.log
LogLevel warn
User {user}
Group {group}
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
MinSpareThreads 1
MaxSpareThreads 8
Listen {addr}:{port} https

<VirtualHost {addr}:{port}>
    ServerName placeholder.{name}.example.test
    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
</VirtualHost>

IncludeOptional {sites}/*.conf
""".format(name=name, addr=host['address'], port=host['apache_port'], sites=host['apache_conf_dir'],
           apache_dir=apache_dir, modules=modules, pid=host['apache_pid'], run=run_dir, logs=host['logs'], user=user,
           group=group, cert=host['default_cert'], key=host['default_key'])
    write_if_changed(host['apache_conf'], conf)


def _yaml(value):
    return json.dumps(value)


def _write_inventory(ctx):
    ssh_args = ('-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes'
                % ctx.path('ssh', 'known_hosts'))
    out = ['# certpilot sandbox inventory: generated by tests/sandbox/sandbox.py', 'all:', '  vars:']
    for key, value in (('sandbox_dir', ctx.dir), ('sandbox_json', ctx.path('sandbox.json')),
                       ('sandbox_acme_directory', ctx.acme_url(ACME_PORT, '/dir')),
                       ('sandbox_acme_ca_bundle', ctx.ca_bundle),
                       ('sandbox_acme_eab_directory', ctx.acme_url(EAB_PORT, '/dir')),
                       ('sandbox_dns_management', ctx.dns_mgmt),
                       ('sandbox_smtp_host', '127.0.0.1'), ('sandbox_smtp_port', ctx.port(SMTP_PORT))):
        out.append('    %s: %s' % (key, _yaml(value)))
    out.append('  children:')
    groups = (('webservers', [n for n, h in sorted(ctx.hosts.items()) if h['python']]),
              ('appliances', [n for n, h in sorted(ctx.hosts.items()) if not h['python']]))
    for group, members in groups:
        out.append('    %s:' % group)
        out.append('      hosts:')
        for name in members:
            host = ctx.hosts[name]
            out.append('        %s:' % name)
            hv = [('ansible_host', host['address']), ('ansible_port', host['ssh_port']), ('ansible_user', 'root'),
                  ('ansible_ssh_private_key_file', ctx.path('ssh', 'id_ed25519')),
                  ('ansible_ssh_common_args', ssh_args)]
            if host['python']:
                hv.append(('ansible_python_interpreter', '/usr/bin/python3'))
            hv += [('sandbox_python', host['python']), ('sandbox_address', host['address']),
                   ('sandbox_nginx_binary', host['nginx_binary']), ('sandbox_nginx_conf', host['nginx_conf']),
                   ('sandbox_nginx_conf_dir', host['nginx_conf_dir']), ('sandbox_nginx_pid', host['nginx_pid']),
                   ('sandbox_nginx_user', host['nginx_user']),
                   ('sandbox_webroot', host['webroot']), ('sandbox_cert_dir', host['cert_dir']),
                   ('sandbox_http_port', host['http_port']), ('sandbox_https_port', host['https_port']),
                   ('sandbox_names', host['names'])]
            hv += [('sandbox_' + key, host[key]) for key in sorted(host)
                   if key.startswith(('haproxy_', 'apache_')) and key != 'haproxy_default_pem']
            for key, value in hv:
                out.append('          %s: %s' % (key, _yaml(value)))
    # the hosts running the deploy targets beyond nginx (their variables are above)
    for group, key in (('haproxy_hosts', 'haproxy_binary'), ('apache_hosts', 'apache_binary')):
        members = [n for n, h in sorted(ctx.hosts.items()) if key in h]
        if members:
            out += ['    %s:' % group, '      hosts:'] + ['        %s: {}' % n for n in members]
    out += ['    acme_hosts:', '      hosts:', '        localhost:',
            '          ansible_connection: local',
            '          ansible_python_interpreter: %s' % _yaml(ctx.python), '']
    write_if_changed(ctx.path('inventory.yml'), '\n'.join(out))
    cfg = """# certpilot sandbox ansible.cfg: generated by tests/sandbox/sandbox.py
[defaults]
inventory = {inv}
collections_path = {colls}
host_key_checking = True
forks = 10
retry_files_enabled = False
timeout = 15

[ssh_connection]
pipelining = True
""".format(inv=ctx.path('inventory.yml'), colls=os.path.join(REPO, '.build', 'collections'))
    write_if_changed(ctx.path('ansible.cfg'), cfg)


# ------------------------------------------------------------------ services


def _export_roots(ctx, sub, mgmt_port):
    """pebble makes a new root on every start: fetch /roots/N and /intermediates/N again."""
    roots, inters = [], []
    for kind, out in (('roots', roots), ('intermediates', inters)):
        for stale in glob.glob(ctx.path(sub, '%s-*.pem' % kind[:-1])):
            os.unlink(stale)
        for n in range(0, 10):
            try:
                pem = http_probe(ctx.acme_url(mgmt_port, '/%s/%d' % (kind, n)), cafile=ctx.ca_bundle, timeout=5)
            except ProbeFailed:
                if n == 0:
                    raise
                break
            path = ctx.path(sub, '%s-%d.pem' % (kind[:-1], n))
            write_public(path, pem)
            out.append(path)
    return roots, inters


def _acme_record(ctx, sub, mgmt_port):
    roots = sorted(glob.glob(ctx.path(sub, 'root-*.pem')))
    inters = sorted(glob.glob(ctx.path(sub, 'intermediate-*.pem')))
    return roots, inters


def _register_dns(ctx):
    for name, host in sorted(ctx.hosts.items()):
        for fqdn in host['names']:
            # add-a appends: clear first so a repeated `up` keeps exactly one address
            http_probe(ctx.dns_mgmt + '/clear-a', method='POST', data=json.dumps({'host': fqdn}).encode('utf-8'))
            body = json.dumps({'host': fqdn, 'addresses': [host['address']]}).encode('utf-8')
            http_probe(ctx.dns_mgmt + '/add-a', method='POST', data=body)
    # check one name per host through the DNS port, the way pebble will resolve it
    for name, host in sorted(ctx.hosts.items()):
        rcode, answers = dns_query('127.0.0.1', ctx.port(DNS_PORT), host['names'][1], 'A')
        if answers != [host['address']]:
            raise SandboxError('DNS check failed: %s resolved to %r (rcode %d), want %s'
                               % (host['names'][1], answers, rcode, host['address']))


def _pebble_probe(port, ctx):
    return http_probe(ctx.acme_url(port, '/dir'), cafile=ctx.ca_bundle)


def _export_roots_after_start(sub, mgmt, ctx):
    return _export_roots(ctx, sub, mgmt)


def _nginx_probe(host, name, ctx):  # pylint: disable=unused-argument
    return http_probe('http://%s:%d/.well-known/acme-challenge/sandbox-probe' % (host['address'], host['http_port']),
                      body=('sandbox-probe %s' % name).encode('ascii'))


def _sshd_probe(host, ctx):  # pylint: disable=unused-argument
    return banner_probe(host['address'], host['ssh_port'], b'SSH-2.0-')


def builtin_services(ctx):
    dns_port, dns_mgmt = ctx.port(DNS_PORT), ctx.port(DNS_MGMT_PORT)
    services = [Service(
        name='dns', group='core', description='pebble-challtestsrv (DNS)',
        argv=[ctx.path('bin', 'pebble-challtestsrv'), '-dns01', '127.0.0.1:%d' % dns_port,
              '-management', '127.0.0.1:%d' % dns_mgmt, '-defaultIPv4', ctx.hosts['web1']['address'],
              '-defaultIPv6', '', '-http01', '', '-https01', '', '-tlsalpn01', ''],
        ports=[('127.0.0.1', dns_port, 'tcp'), ('127.0.0.1', dns_port, 'udp'), ('127.0.0.1', dns_mgmt, 'tcp')],
        probe=lambda c: dns_query('127.0.0.1', dns_port, 'probe.sandbox.test', 'A', timeout=1),
        after_start=_register_dns,
    )]
    for name, sub, port, mgmt in (('pebble', 'pebble', ACME_PORT, ACME_MGMT_PORT),
                                  ('pebble-eab', 'pebble-eab', EAB_PORT, EAB_MGMT_PORT)):
        services.append(Service(
            name=name, group='core', description='pebble ACME server' + (' (EAB)' if 'eab' in name else ''),
            argv=[PEBBLE, '-config', ctx.path(sub, 'pebble-config.json'), '-dnsserver', '127.0.0.1:%d' % dns_port],
            env={'PEBBLE_VA_NOSLEEP': '1', 'PEBBLE_WFE_NONCEREJECT': str(ctx.nonce_reject)},
            ports=[('127.0.0.1', ctx.port(port)), ('127.0.0.1', ctx.port(mgmt))],
            probe=functools.partial(_pebble_probe, port),
            after_start=functools.partial(_export_roots_after_start, sub, mgmt),
        ))
    for hname, host in sorted(ctx.hosts.items()):
        services.append(Service(
            name='nginx-%s' % hname, group='host:%s' % hname, description='nginx %s' % hname,
            argv=[NGINX, '-c', host['nginx_conf'], '-e', os.path.join(host['logs'], 'error.log')],
            pidfile=host['nginx_pid'],
            ports=[(host['address'], host['http_port']), (host['address'], host['https_port'])],
            probe=functools.partial(_nginx_probe, host, hname),
        ))
        if 'haproxy_binary' in host:
            services.append(Service(
                name='haproxy-%s' % hname, group='host:%s' % hname, description='haproxy %s' % hname,
                argv=[host['haproxy_binary'], '-W', '-D', '-f', host['haproxy_conf'], '-p', host['haproxy_pid']],
                pidfile=host['haproxy_pid'], ports=[(host['address'], host['haproxy_port'])],
            ))
        if 'apache_binary' in host:
            services.append(Service(
                name='apache-%s' % hname, group='host:%s' % hname, description='apache2 %s' % hname,
                argv=[host['apache_binary'], '-f', host['apache_conf'], '-k', 'start'],
                pidfile=host['apache_pid'], ports=[(host['address'], host['apache_port'])],
            ))
        services.append(Service(
            name='sshd-%s' % hname, group='host:%s' % hname, description='sshd %s' % hname,
            argv=[SSHD, '-D', '-f', host['sshd_config'], '-E', os.path.join(host['logs'], 'sshd.log')],
            ports=[(host['address'], host['ssh_port'])],
            probe=functools.partial(_sshd_probe, host),
        ))
    smtp, smtps = ctx.port(SMTP_PORT), ctx.port(SMTP_TLS_PORT)
    services.append(Service(
        name='smtp', group='core', description='SMTP sink (aiosmtpd)',
        argv=[ctx.python, os.path.join(HERE, 'smtp_sink.py'), '--host', '127.0.0.1', '--port', str(smtp),
              '--starttls-port', str(smtps), '--maildir', ctx.path('mail'), '--cert', ctx.path('smtp', 'smtp.pem'),
              '--key', ctx.path('smtp', 'smtp.key'), '--user', 'certpilot',
              '--password-file', ctx.path('smtp', 'password')],
        env={'PYTHONUNBUFFERED': '1'},
        ports=[('127.0.0.1', smtp), ('127.0.0.1', smtps)],
        probe=lambda c: banner_probe('127.0.0.1', smtp, b'220') and banner_probe('127.0.0.1', smtps, b'220'),
    ))
    return services


def plugin_services(ctx, strict=True):
    """Load ``SERVICES`` from tests/sandbox/services/*.py (+ extra dirs)."""
    found = []
    dirs = [os.path.join(HERE, 'services')] + ctx.extra_service_dirs
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, '*.py'))):
            base = os.path.basename(path)
            if base.startswith('_'):
                continue
            mod_name = 'certpilot_sandbox_service_%s' % base[:-3]
            try:
                spec = importlib.util.spec_from_file_location(mod_name, path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                items = list(getattr(module, 'SERVICES'))
                for item in items:
                    if not isinstance(item, Service):
                        raise TypeError('SERVICES must hold service.Service objects, got %r' % (item,))
            except Exception as exc:  # pylint: disable=broad-except
                msg = 'service plugin %s failed to load: %s: %s' % (path, type(exc).__name__, exc)
                if strict:
                    raise SandboxError(msg)
                log('warning: ' + msg)
                continue
            for item in items:
                item.group = item.group or 'service'
                item.plugin_path = path
            found.extend(items)
    return found


def all_services(ctx, strict=True):
    services = builtin_services(ctx) + plugin_services(ctx, strict=strict)
    seen = set()
    for svc in services:
        if svc.name in seen:
            raise SandboxError('two services are named %r' % svc.name)
        seen.add(svc.name)
    return services


# ------------------------------------------------------------------ process control


def pidfile_of(ctx, svc):
    return svc.self_pidfile(ctx) or ctx.path('run', '%s.pid' % svc.name)


def current_pid(ctx, svc, clean=False):
    """The owned pid of ``svc`` from its pidfile; a stale pidfile is removed when ``clean``."""
    path = pidfile_of(ctx, svc)
    pid = proctools.read_pidfile(path)
    if pid is None:
        return None
    if proctools.owned(pid, ctx.dir):
        return pid
    if clean:
        log('  %s: removing stale pidfile %s (pid %d is %s)'
            % (svc.name, path, pid, 'gone' if not proctools.alive(pid) else 'not ours'))
        try:
            os.unlink(path)
        except OSError:
            pass
    return None


def healthy(ctx, svc):
    try:
        svc.probe(ctx)
        return True, ''
    except Exception as exc:  # pylint: disable=broad-except
        return False, str(exc)


def assess(ctx, svc, clean=False):
    pid = current_pid(ctx, svc, clean=clean)
    if pid is None:
        return 'stopped', None, ''
    ok, why = healthy(ctx, svc)
    return ('running' if ok else 'unhealthy'), pid, why


def check_ports(ctx, services):
    """Returns (foreign conflicts, owned stray pids) for the ports of ``services``."""
    conflicts, strays = [], set()
    for svc in services:
        for port in svc.ports(ctx):
            for pid, cmd in proctools.port_holders(port.host, port.port, port.proto):
                if pid is not None and proctools.owned(pid, ctx.dir):
                    strays.add(pid)
                else:
                    conflicts.append((svc.name, port, pid, cmd))
    return conflicts, strays


def wait_ready(ctx, svc, proc, log_path):
    deadline = time.monotonic() + svc.ready_timeout
    why = ''
    self_pidfile = svc.self_pidfile(ctx)
    while time.monotonic() < deadline:
        rc = proc.poll()
        if rc is not None and not self_pidfile:
            raise SandboxError('%s exited with code %s while starting; log %s:\n%s'
                               % (svc.name, rc, log_path, tail(log_path)))
        if self_pidfile and rc is not None and rc != 0:
            raise SandboxError('%s failed to start (code %s); log %s:\n%s' % (svc.name, rc, log_path, tail(log_path)))
        if self_pidfile and proctools.read_pidfile(self_pidfile) is None:
            time.sleep(0.1)
            continue
        ok, why = healthy(ctx, svc)
        if ok:
            return
        time.sleep(0.15)
    raise SandboxError('%s not ready after %.0fs (%s); log %s:\n%s'
                       % (svc.name, svc.ready_timeout, why, log_path, tail(log_path)))


def start(ctx, svc):
    argv = svc.argv(ctx)
    if proctools.owner_marker(ctx.dir) not in ' '.join(argv):
        raise SandboxError('service %s: its command line must contain the state dir %s (ownership rule): %s'
                           % (svc.name, ctx.dir, ' '.join(argv)))
    env = dict(os.environ)
    env.update(svc.env(ctx))
    log_path = ctx.path('logs', '%s.log' % svc.name)
    pidfile = pidfile_of(ctx, svc)
    if svc.self_pidfile(ctx) and os.path.exists(pidfile):
        os.unlink(pidfile)
    with open(log_path, 'ab') as logf:
        logf.write(('--- %s starting: %s\n' % (time.strftime('%Y-%m-%d %H:%M:%S'), ' '.join(argv))).encode('utf-8'))
        logf.flush()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                cwd=svc.cwd(ctx), env=env, start_new_session=True, close_fds=True)
    if not svc.self_pidfile(ctx):
        write_public(pidfile, ('%d\n' % proc.pid).encode('ascii'))
    try:
        wait_ready(ctx, svc, proc, log_path)
    except SandboxError:
        if not svc.self_pidfile(ctx) and proc.poll() is None:
            proctools.terminate(proc.pid, ctx.dir)
        proc.poll()
        raise
    pid = proctools.read_pidfile(pidfile)
    # reap a self-daemonising launcher; a foreground daemon is left to init when we exit
    proc.poll()
    proc.returncode = proc.returncode if proc.returncode is not None else 0
    return pid


def stop(ctx, svc, quiet=False):
    pid = current_pid(ctx, svc, clean=True)
    if pid is None:
        return False
    ok = proctools.terminate(pid, ctx.dir, log=log)
    if not quiet:
        log('  stopped %-18s pid %d%s' % (svc.name, pid, '' if ok else ' (SOME PROCESSES DID NOT EXIT)'))
    path = pidfile_of(ctx, svc)
    if os.path.exists(path) and not proctools.owned(proctools.read_pidfile(path) or 0, ctx.dir):
        os.unlink(path)
    if not ok:
        raise SandboxError('%s (pid %d) did not stop' % (svc.name, pid))
    return True


# ------------------------------------------------------------------ commands


class Lock(object):
    """Serialises up/down/host-* between concurrent callers (bounded wait)."""

    def __init__(self, ctx, timeout=180):
        self.path = ctx.path('run', 'lock')
        self.timeout = timeout
        self.fh = None

    def __enter__(self):
        makedirs(os.path.dirname(self.path))
        self.fh = open(self.path, 'a')
        deadline = time.monotonic() + self.timeout
        announced = False
        while True:
            try:
                fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except (IOError, OSError):
                if time.monotonic() > deadline:
                    raise SandboxError('another sandbox.py holds %s for more than %ds' % (self.path, self.timeout))
                if not announced:
                    log('waiting for another sandbox.py (lock %s)' % self.path)
                    announced = True
                time.sleep(0.2)

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def bring_up(ctx, services):
    """Start whatever in ``services`` is not healthy. Returns the number of services started."""
    states = {}
    for svc in services:
        try:
            svc.setup(ctx)
        except Exception as exc:  # pylint: disable=broad-except  # a plugin's setup failing: one clear line, no traceback
            raise SandboxError('%s: setup failed: %s: %s' % (svc.name, type(exc).__name__, exc))
        states[svc.name] = assess(ctx, svc, clean=True)
    todo = [svc for svc in services if states[svc.name][0] != 'running']
    conflicts, strays = check_ports(ctx, todo)
    if conflicts:
        lines = ['sandbox: cannot start, ports are held by processes that are not part of this sandbox (%s):' % ctx.dir]
        for name, port, pid, cmd in conflicts:
            lines.append('  port %s (needed by %s) is held by %s: %s'
                         % (port, name, 'pid %d' % pid if pid else 'an unknown process', cmd))
        lines.append('Stop those processes (they were left alone), or run a second sandbox with '
                     'CERTPILOT_SANDBOX_PORT_OFFSET / CERTPILOT_SANDBOX_NET.')
        raise SandboxError('\n'.join(lines))
    for svc in todo:
        state, pid, why = states[svc.name]
        if state == 'unhealthy':
            log('  %s: pid %d is unhealthy (%s): restarting' % (svc.name, pid, why))
            stop(ctx, svc, quiet=True)
    for pid in sorted(strays):
        if proctools.alive(pid):
            log('  killing stray sandbox process %d holding a sandbox port: %s' % (pid, proctools.cmdline(pid)))
            proctools.terminate(pid, ctx.dir, log=log)
    started = 0
    for svc in services:
        if states[svc.name][0] != 'running':
            t0 = time.monotonic()
            pid = start(ctx, svc)
            started += 1
            log('  started %-18s pid %-7s %.1fs' % (svc.name, pid, time.monotonic() - t0))
    for svc in services:
        svc.after_start(ctx)
    return started


def sandbox_json(ctx, services):
    roots, inters = _acme_record(ctx, 'pebble', ACME_MGMT_PORT)
    eab_roots, eab_inters = _acme_record(ctx, 'pebble-eab', EAB_MGMT_PORT)
    keys = json.loads(read_text(ctx.path('pebble-eab', 'eab-keys.json')))
    hosts = {}
    for name, host in ctx.hosts.items():
        hosts[name] = dict(host)
    data = {
        'dir': ctx.dir,
        'port_offset': ctx.offset,
        'python': ctx.python,
        'ca': {'cert': ctx.ca.cert_path},
        'acme': {
            'directory': ctx.acme_url(ACME_PORT, '/dir'), 'ca_bundle': ctx.ca_bundle, 'roots': roots,
            'intermediates': inters, 'management': ctx.acme_url(ACME_MGMT_PORT),
            'nonce_reject_percent': ctx.nonce_reject, 'http_port': ctx.port(HTTP_PORT),
            'tls_alpn_port': ctx.port(TLS_ALPN_PORT),
        },
        'acme_eab': {
            'directory': ctx.acme_url(EAB_PORT, '/dir'), 'ca_bundle': ctx.ca_bundle, 'keys': keys,
            'roots': eab_roots, 'intermediates': eab_inters, 'management': ctx.acme_url(EAB_MGMT_PORT),
        },
        'dns': {'server': '127.0.0.1:%d' % ctx.port(DNS_PORT), 'management': ctx.dns_mgmt,
                'default_ipv4': ctx.hosts['web1']['address']},
        'ssh': {'user': 'root', 'private_key': ctx.path('ssh', 'id_ed25519'),
                'public_key': ctx.path('ssh', 'id_ed25519.pub'), 'known_hosts': ctx.path('ssh', 'known_hosts')},
        'inventory': ctx.path('inventory.yml'),
        'ansible_cfg': ctx.path('ansible.cfg'),
        'hosts': hosts,
        'smtp': {'host': '127.0.0.1', 'port': ctx.port(SMTP_PORT), 'starttls_port': ctx.port(SMTP_TLS_PORT),
                 'user': 'certpilot', 'password': (read_text(ctx.path('smtp', 'password')) or '').strip(),
                 'ca': ctx.ca.cert_path, 'maildir': ctx.path('mail')},
        'services': {},
    }
    for svc in services:
        if getattr(svc, 'plugin_path', None):
            data['services'][svc.name] = svc.record(ctx)
    return data


def cmd_up(ctx, args):
    with Lock(ctx):
        log('sandbox up: %s' % ctx.dir)
        log('- preparing keys, certificates and configs')
        prepare(ctx)
        services = all_services(ctx)
        log('- starting services')
        started = bring_up(ctx, services)
        if not started:
            log('  everything was already running')
        data = sandbox_json(ctx, services)
        write_private(ctx.path('sandbox.json'), (json.dumps(data, indent=2, sort_keys=True) + '\n').encode('utf-8'))
        log('- wrote %s' % ctx.path('sandbox.json'))
    return cmd_status(ctx, args)


def _sweep(ctx, errors):
    """Stop any other daemon of ours (lost pidfile, removed state dir): a session leader naming the state dir."""
    mine = proctools.ancestors()
    for pid in proctools.owned_pids(ctx.dir, exclude=mine):
        st = proctools.stat(pid)
        if st and st[3] == pid:
            log('  stopping leftover sandbox process %d: %s' % (pid, proctools.cmdline(pid)))
            if not proctools.terminate(pid, ctx.dir, log=log):
                errors.append('pid %d did not stop' % pid)
    for pid in proctools.owned_pids(ctx.dir, exclude=mine):
        log('  note: pid %d mentions the sandbox dir but is not a sandbox daemon (left alone): %s'
            % (pid, proctools.cmdline(pid)))


def cmd_down(ctx, args):
    if not os.path.isdir(ctx.dir):
        log('sandbox down: no state dir %s; looking for leftover processes only' % ctx.dir)
        errors = []
        _sweep(ctx, errors)
        if errors:
            raise SandboxError('down incomplete:\n  ' + '\n  '.join(errors))
        return 0
    with Lock(ctx):
        log('sandbox down: %s' % ctx.dir)
        try:
            services = all_services(ctx, strict=False)
        except SandboxError as exc:
            log('warning: %s' % exc)
            services = builtin_services(ctx)
        errors = []
        for svc in reversed(services):
            try:
                stop(ctx, svc)
            except SandboxError as exc:
                errors.append(str(exc))
        _sweep(ctx, errors)
        for path in (ctx.path('sandbox.json'),):
            if os.path.exists(path):
                os.unlink(path)
        if errors:
            raise SandboxError('down incomplete:\n  ' + '\n  '.join(errors))
        log('- all sandbox processes stopped')
        remove_external_www(ctx)
    if args.purge:
        shutil.rmtree(ctx.dir)
        log('- removed %s' % ctx.dir)
    return 0


def _listen(ctx, svc):
    return ' '.join('%s:%d%s' % (p.host, p.port, '/udp' if p.proto == 'udp' else '') for p in svc.ports(ctx))


def cmd_status(ctx, args):
    try:
        services = all_services(ctx, strict=False)
    except SandboxError as exc:
        log('warning: %s' % exc)
        services = builtin_services(ctx)
    rows = [('SERVICE', 'LISTEN', 'PID', 'STATE')]
    bad = 0
    for svc in services:
        state, pid, why = assess(ctx, svc)
        if state != 'running':
            bad += 1
        rows.append((svc.name, _listen(ctx, svc), str(pid or '-'), state + (' (%s)' % why if why else '')))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        log('%s  %s  %s  %s' % (r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2]), r[3]))
    js = ctx.path('sandbox.json')
    log('state: %s   json: %s   logs: %s' % (ctx.dir, js if os.path.exists(js) else '(none: run up)', ctx.path('logs')))
    return 0 if bad == 0 else 1


def _host_services(ctx, name, with_nginx):
    if name not in ctx.hosts:
        raise SandboxError('unknown host %r (hosts: %s)' % (name, ', '.join(sorted(ctx.hosts))))
    wanted = ['sshd-%s' % name] + (['nginx-%s' % name] if with_nginx else [])
    return [s for s in builtin_services(ctx) if s.name in wanted]


def cmd_host_stop(ctx, args):
    with Lock(ctx):
        for svc in _host_services(ctx, args.name, args.nginx):
            if not stop(ctx, svc):
                log('  %s was not running' % svc.name)
    return 0


def cmd_host_start(ctx, args):
    with Lock(ctx):
        prepare(ctx)
        services = _host_services(ctx, args.name, True)
        if not bring_up(ctx, services):
            log('  %s: already running' % args.name)
    return 0


def cmd_restart(ctx, args):
    with Lock(ctx):
        prepare(ctx)
        services = all_services(ctx)
        by_name = dict((s.name, s) for s in services)
        unknown = [n for n in args.names if n not in by_name]
        if unknown:
            raise SandboxError('unknown service(s) %s (services: %s)' % (', '.join(unknown), ', '.join(by_name)))
        chosen = [by_name[n] for n in args.names]
        for svc in chosen:
            stop(ctx, svc)
        bring_up(ctx, chosen)
        write_private(ctx.path('sandbox.json'),
                      (json.dumps(sandbox_json(ctx, services), indent=2, sort_keys=True) + '\n').encode('utf-8'))
    return 0


def cmd_env(ctx, args):
    pairs = (('CERTPILOT_SANDBOX_DIR', ctx.dir), ('CERTPILOT_SANDBOX_JSON', ctx.path('sandbox.json')),
             ('ANSIBLE_CONFIG', ctx.path('ansible.cfg')), ('ANSIBLE_INVENTORY', ctx.path('inventory.yml')),
             ('ANSIBLE_COLLECTIONS_PATH', os.path.join(REPO, '.build', 'collections')))
    for key, value in pairs:
        print('export %s=%s' % (key, shell_quote(value)))
    if ctx.offset:
        print('export CERTPILOT_SANDBOX_PORT_OFFSET=%d' % ctx.offset)
    if ctx.net != '127.42.0':
        print('export CERTPILOT_SANDBOX_NET=%s' % ctx.net)
    return 0


def shell_quote(value):
    return "'" + value.replace("'", "'\"'\"'") + "'"


def main(argv=None):
    parser = argparse.ArgumentParser(prog='sandbox.py', description='certpilot.tls local sandbox of real servers')
    sub = parser.add_subparsers(dest='command')
    sub.add_parser('up', help='start everything (idempotent)')
    p = sub.add_parser('down', help='stop everything the sandbox owns')
    p.add_argument('--purge', action='store_true', help='also remove the state dir (keys, CA, known_hosts)')
    sub.add_parser('status', help='table of services; exit 1 when something is not running')
    sub.add_parser('env', help='print shell exports')
    p = sub.add_parser('restart', help='restart the named services (see status for names)')
    p.add_argument('names', nargs='+')
    p = sub.add_parser('host-stop', help="stop one host's sshd (and its live sessions)")
    p.add_argument('name')
    p.add_argument('--nginx', action='store_true', help="also stop the host's nginx")
    p = sub.add_parser('host-start', help="start one host's sshd (and nginx if stopped)")
    p.add_argument('name')
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    handlers = {'up': cmd_up, 'down': cmd_down, 'status': cmd_status, 'env': cmd_env,
                'host-stop': cmd_host_stop, 'host-start': cmd_host_start, 'restart': cmd_restart}
    if os.geteuid() != 0 and args.command not in ('env', 'status'):
        log('sandbox: must run as root (sshd and nginx need it)')
        return 2
    try:
        ctx = Context()
        return handlers[args.command](ctx, args)
    except SandboxError as exc:
        log('ERROR: %s' % exc)
        return 3
    except ssl.SSLError as exc:
        log('ERROR: TLS problem talking to a sandbox service: %s' % exc)
        return 3


if __name__ == '__main__':
    sys.exit(main())
