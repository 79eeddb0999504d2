# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sandbox slot: acme2certifier, a second, independent ACME server beside pebble.

acme2certifier (PyPI, pinned in acme2certifier_server/requirements.txt, installed in its own
venv ``.venv-a2c`` by ``tests/tools/bootstrap.sh``) with its openssl CA handler, served by
``acme2certifier_server/serve.py`` (its WSGI app, stdlib wsgiref + TLS) on
``https://127.0.0.1:14020/directory`` (+ offset). Unlike Debian's pebble 2.4 it offers
renewal information (ARI, RFC 9773) and certificate profiles:

* ``classic`` (the default): 90-day certificates; ``shortlived``: 6-day certificates.
  Each profile is one named openssl CA handler, both signing with the same issuing CA,
  made once at setup (``services/acme2certifier/ca/``: a root and an issuing CA).
* ARI: the suggested window starts at 85 % of a certificate's lifetime (as recorded in
  acme2certifier's database: ``issue_uts``/``expire_uts`` of the ``certificate`` table);
  tests move a window by changing those two columns (see ``ari`` in ``sandbox.json``).

Launcher settings (the sandbox shifts every port and stays on loopback), in ``_argv``:
``--http01-port``: acme2certifier validates http-01 on port 80 only, here it asks the nginx
hosts' http-01 port (5002 + offset); ``--dns``: its ``dns_server_list`` takes addresses
only (port 53), here every lookup goes to pebble-challtestsrv (8053 + offset).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os

from pki import write_private, write_public
from service import Service, http_probe

A2C_PORT = 14020
HTTP01_PORT = 5002     # the sandbox hosts' http-01 port (sandbox.HTTP_PORT)
DNS_PORT = 8053        # pebble-challtestsrv (sandbox.DNS_PORT)
RENEWAL_THRESHOLD_PERCENT = 85
ARI_RETRY_AFTER = 3600
PROFILES = {
    # name: (description, certificate validity in days)
    'classic': ('90-day certificates (the default)', 90),
    'shortlived': ('6-day certificates', 6),
}
DEFAULT_PROFILE = 'classic'


def _dir(ctx, *parts):
    return ctx.path('services', 'acme2certifier', *parts)


def _python(ctx):
    return ctx.repo_path('.venv-a2c/bin/python')


def _argv(ctx):
    return [_python(ctx), ctx.repo_path('tests/sandbox/services/acme2certifier_server/serve.py'),
            '--state', _dir(ctx), '--config', _dir(ctx, 'acme_srv.cfg'),
            '--listen', '127.0.0.1:%d' % ctx.port(A2C_PORT),
            '--cert', _dir(ctx, 'tls.pem'), '--key', _dir(ctx, 'tls.key'),
            # launcher settings, see the module docstring: http-01 on the sandbox port, DNS from the sandbox
            '--http01-port', str(ctx.port(HTTP01_PORT)),
            '--dns', '127.0.0.1:%d' % ctx.port(DNS_PORT)]


def _ca_name(common_name):
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, u'certpilot sandbox'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _make_ca_cert(subject, key, issuer, issuer_key, path_length, days):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                           critical=False)
            .sign(issuer_key, hashes.SHA256()))


def _ensure_issuing_ca(ctx):
    """A root and an issuing CA for the openssl CA handler: made once, kept until --purge."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    paths = [_dir(ctx, 'ca', name) for name in ('root.pem', 'issuing.pem', 'issuing.key')]
    if all(os.path.exists(p) for p in paths):
        return False
    os.makedirs(_dir(ctx, 'ca'), mode=0o755, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _ca_name(u'certpilot sandbox acme2certifier root')
    root = _make_ca_cert(root_name, root_key, root_name, root_key, 1, 3650)
    key = ec.generate_private_key(ec.SECP256R1())
    issuing = _make_ca_cert(_ca_name(u'certpilot sandbox acme2certifier issuing CA'), key, root_name, root_key, 0, 3000)
    # the root's key is not needed again: it is never written
    write_private(_dir(ctx, 'ca', 'issuing.key'), key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    write_public(_dir(ctx, 'ca', 'issuing.pem'), issuing.public_bytes(serialization.Encoding.PEM))
    write_public(_dir(ctx, 'ca', 'root.pem'), root.public_bytes(serialization.Encoding.PEM))
    return True


def _config(ctx):
    lines = [
        '# written by tests/sandbox/services/acme2certifier.py at every sandbox up',
        '[DEFAULT]',
        'debug: False',
        '# the sandbox DNS; its port (%d) is a launcher setting: serve.py --dns' % ctx.port(DNS_PORT),
        'dns_server_list: ["127.0.0.1"]',
        '',
        '[Nonce]',
        'nonce_check_disable: False',
        '',
        '[Directory]',
        'supress_version: True',
        '',
        '[DBhandler]',
        'handler_module: acme2certifier.dbhandlers.wsgi_handler',
        'dbfile: %s' % _dir(ctx, 'acme_srv.db'),
        '',
        '[Certificate]',
        'revocation_reason_check_disable: False',
        '',
        '[Challenge]',
        'challenge_validation_disable: False',
        'challenge_validation_timeout: 10',
        '# the sandbox serves http-01 (nginx hosts) and dns-01 (challtestsrv), not tls-alpn-01 on port 443',
        'tls_alpn_01_support: False',
        '',
        '[Order]',
        'tnauthlist_support: False',
        'profiles: %s' % json.dumps(dict((name, desc) for name, (desc, _days) in sorted(PROFILES.items()))),
        'profile_cahandler: %s' % json.dumps(dict((name, name) for name in sorted(PROFILES))),
        'profiles_check_disable: False',
        '',
        '[Renewalinfo]',
        'renewalthreshold_pctg: %d' % RENEWAL_THRESHOLD_PERCENT,
        'retry_after_timeout: %d' % ARI_RETRY_AFTER,
        '',
        '[CAhandler]',
        'multi_handler: True',
        'default_handler: %s' % DEFAULT_PROFILE,
    ]
    for name, (_desc, days) in sorted(PROFILES.items()):
        lines += [
            '',
            '[CAhandler:%s]' % name,
            'handler_module: acme2certifier.cahandlers.openssl_ca_handler',
            'issuing_ca_key: %s' % _dir(ctx, 'ca', 'issuing.key'),
            'issuing_ca_cert: %s' % _dir(ctx, 'ca', 'issuing.pem'),
            'issuing_ca_crl: %s' % _dir(ctx, 'ca', 'crl.pem'),
            'cert_save_path: %s' % _dir(ctx, 'issued'),
            'cert_validity_days: %d' % days,
        ]
    return '\n'.join(lines) + '\n'


def _setup(ctx):
    if not os.path.exists(_python(ctx)):
        raise RuntimeError('acme2certifier is not installed (%s is missing): run tests/tools/bootstrap.sh a2c '
                           '(part of make deps)' % _python(ctx))
    for path in (_dir(ctx), _dir(ctx, 'issued')):
        os.makedirs(path, mode=0o700, exist_ok=True)
    if _ensure_issuing_ca(ctx):
        ctx.log('  created the acme2certifier issuing CA %s' % _dir(ctx, 'ca', 'issuing.pem'))
    ctx.ca.issue(_dir(ctx, 'tls.pem'), _dir(ctx, 'tls.key'), u'localhost',
                 dns_names=['localhost'], ip_addresses=['127.0.0.1'])
    text = _config(ctx)
    path = _dir(ctx, 'acme_srv.cfg')
    try:
        with open(path) as handle:
            same = handle.read() == text
    except (IOError, OSError):
        same = False
    if not same:
        write_private(path, text.encode('utf-8'))


def _url(ctx, path=''):
    return 'https://127.0.0.1:%d%s' % (ctx.port(A2C_PORT), path)


def _probe(ctx):
    return http_probe(_url(ctx, '/directory'), cafile=ctx.ca.cert_path, body=b'renewalInfo')


def _record(ctx):
    return {
        'directory': _url(ctx, '/directory'),
        'ca_bundle': ctx.ca.cert_path,
        'roots': [_dir(ctx, 'ca', 'root.pem')],
        'intermediates': [_dir(ctx, 'ca', 'issuing.pem')],
        'profiles': dict((name, {'description': desc, 'validity_days': days})
                         for name, (desc, days) in PROFILES.items()),
        'default_profile': DEFAULT_PROFILE,
        'ari': {'renewal_threshold_percent': RENEWAL_THRESHOLD_PERCENT, 'retry_after': ARI_RETRY_AFTER,
                'database': _dir(ctx, 'acme_srv.db')},
        'http_port': ctx.port(HTTP01_PORT),
        'dns': '127.0.0.1:%d' % ctx.port(DNS_PORT),
        'config': _dir(ctx, 'acme_srv.cfg'),
        'log': ctx.path('logs', 'acme2certifier.log'),
    }


SERVICES = [Service(
    name='acme2certifier',
    argv=_argv,
    env={'PYTHONUNBUFFERED': '1'},
    setup=_setup,
    ports=lambda ctx: [('127.0.0.1', ctx.port(A2C_PORT))],
    probe=_probe,
    record=_record,
    ready_timeout=40,
    description='acme2certifier ACME server (openssl CA handler; ARI, profiles)',
)]
