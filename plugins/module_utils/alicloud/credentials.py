# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where Alibaba Cloud credentials come from, in a documented order.

Precedence (first match wins):

1. ``alicloud_access_key`` + ``alicloud_secret_key`` (module options, or the env
   variables ``ALICLOUD_ACCESS_KEY`` / ``ALICLOUD_SECRET_KEY`` through the option
   fallbacks), with ``alicloud_security_token`` for STS credentials.
2. ``ecs_role_name``: STS credentials from the ECS instance metadata service
   (hardened mode: a session token first, then the role's credentials).
3. ``profile`` from ``shared_credentials_file`` (the aliyun CLI
   ``~/.aliyun/config.json``; modes ``AK``, ``StsToken`` and ``EcsRamRole``).
   Without ``profile`` the file's ``current`` profile is used, if the file exists.

The region is ``alicloud_region`` (env ``ALICLOUD_REGION``), else the profile's ``region_id``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import calendar
import json
import os
import threading
import time

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudCredentialsError
from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline

DEFAULT_METADATA_URL = 'http://100.100.100.200'
DEFAULT_SHARED_FILE = '~/.aliyun/config.json'
METADATA_TOKEN_TTL = 21600


class Credentials:
    """An access key pair, optionally with an STS token. ``source`` says where it came from."""

    __slots__ = ('access_key', 'secret_key', 'security_token', 'source', 'region', 'expiration')

    def __init__(self, access_key, secret_key, security_token=None, source='options', region=None, expiration=None):
        self.access_key = access_key
        self.secret_key = secret_key
        self.security_token = security_token or None
        self.source = source
        self.region = region
        self.expiration = expiration  # epoch seconds, or None when the credentials do not expire

    def current(self):
        """The credentials to sign the next request with (static ones never change)."""
        return self

    def __repr__(self):
        # Never the secret, never the token.
        return 'Credentials(access_key=%r, source=%r)' % (self.access_key, self.source)


def _nonempty(value):
    return value if value not in (None, '') else None


def parse_expiration(value):
    """``2026-12-03T18:00:00Z`` (as the metadata service and STS give it) -> epoch seconds, or None."""
    if not value:
        return None
    try:
        return calendar.timegm(time.strptime(str(value), '%Y-%m-%dT%H:%M:%SZ'))
    except ValueError:
        return None


class RefreshingCredentials:
    """Expiring STS credentials (ECS RAM role) that are fetched again shortly before they expire.

    ``fetch()`` returns a fresh :class:`Credentials` with ``expiration`` set; ``clock()`` gives epoch
    seconds (injectable for tests). :meth:`current` is what the client calls before signing each request,
    so a run longer than the token's lifetime keeps working.
    """

    def __init__(self, fetch, clock=time.time, margin=300.0):
        self._fetch = fetch
        self._clock = clock
        self.margin = float(margin)
        self._lock = threading.Lock()
        self._creds = fetch()
        self.refreshes = 0

    def current(self):
        with self._lock:
            expiration = self._creds.expiration
            if expiration is not None and self._clock() >= expiration - self.margin:
                fresh = self._fetch()
                fresh.region = fresh.region or self._creds.region
                self._creds = fresh
                self.refreshes += 1
            return self._creds

    def __getattr__(self, name):
        if name in ('access_key', 'secret_key', 'security_token', 'source', 'region', 'expiration'):
            return getattr(self.current(), name)
        raise AttributeError(name)

    def __repr__(self):
        return 'RefreshingCredentials(%r)' % (self._creds,)


def fetch_ecs_role_credentials(role_name, metadata_url=None, session=None, deadline=None, timeout=5.0):
    """STS credentials of the instance RAM role, using the hardened metadata mode."""
    if session is None:
        import requests  # guarded by the caller (module checks HAS_REQUESTS)
        session = requests.Session()
    deadline = deadline or Deadline(30)
    base = (metadata_url or DEFAULT_METADATA_URL).rstrip('/')
    try:
        resp = session.put(base + '/latest/api/token',
                           headers={'X-aliyun-ecs-metadata-token-ttl-seconds': str(METADATA_TOKEN_TTL)},
                           timeout=deadline.cap(timeout))
        if resp.status_code != 200 or not resp.text.strip():
            raise AlicloudCredentialsError(
                'ECS metadata service at %s refused a session token (HTTP %s); is this an ECS instance with '
                'hardened metadata access?' % (base, resp.status_code))
        token = resp.text.strip()
        resp = session.get(base + '/latest/meta-data/ram/security-credentials/%s' % role_name,
                           headers={'X-aliyun-ecs-metadata-token': token}, timeout=deadline.cap(timeout))
    except AlicloudCredentialsError:
        raise
    except Exception as exc:  # requests exceptions; no secrets in them
        raise AlicloudCredentialsError('Cannot reach the ECS metadata service at %s: %s' % (base, exc))
    if resp.status_code == 404:
        raise AlicloudCredentialsError('ECS RAM role %r is not attached to this instance (metadata HTTP 404)' % role_name)
    if resp.status_code != 200:
        raise AlicloudCredentialsError('ECS metadata service answered HTTP %s for role %r' % (resp.status_code, role_name))
    try:
        data = json.loads(resp.text)
    except ValueError:
        raise AlicloudCredentialsError('ECS metadata service returned no JSON for role %r' % role_name)
    if not isinstance(data, dict) or data.get('Code', 'Success') != 'Success':
        raise AlicloudCredentialsError('ECS metadata service did not return credentials for role %r (Code: %s)'
                                       % (role_name, data.get('Code') if isinstance(data, dict) else '?'))
    missing = [k for k in ('AccessKeyId', 'AccessKeySecret', 'SecurityToken') if not _nonempty(data.get(k))]
    if missing:
        raise AlicloudCredentialsError('ECS metadata credentials for role %r lack %s' % (role_name, ', '.join(missing)))
    return Credentials(data['AccessKeyId'], data['AccessKeySecret'], data['SecurityToken'],
                       source='ecs_role_name:%s' % role_name, expiration=parse_expiration(data.get('Expiration')))


def load_profile(path, profile=None):
    """Return the profile dict from an aliyun CLI config file (``None`` if the file does not exist)."""
    path = os.path.expanduser(path or DEFAULT_SHARED_FILE)
    if not os.path.exists(path):
        return None, path
    try:
        with open(path, 'r') as handle:
            config = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        raise AlicloudCredentialsError('Cannot read the shared credentials file %s: %s' % (path, exc))
    if not isinstance(config, dict) or not isinstance(config.get('profiles'), list):
        raise AlicloudCredentialsError('%s is not an aliyun CLI config file (no "profiles" list)' % path)
    wanted = profile or config.get('current') or 'default'
    for entry in config['profiles']:
        if isinstance(entry, dict) and entry.get('name') == wanted:
            return entry, path
    names = [e.get('name') for e in config['profiles'] if isinstance(e, dict)]
    raise AlicloudCredentialsError('Profile %r not found in %s (profiles: %s)' % (wanted, path, ', '.join(map(str, names))))


def credentials_from_profile(entry, path, metadata_url=None, session=None, deadline=None):
    mode = entry.get('mode') or 'AK'
    name = entry.get('name')
    region = _nonempty(entry.get('region_id'))
    if mode in ('AK', 'StsToken'):
        ak, sk = _nonempty(entry.get('access_key_id')), _nonempty(entry.get('access_key_secret'))
        if not ak or not sk:
            raise AlicloudCredentialsError('Profile %r in %s (mode %s) lacks access_key_id/access_key_secret' % (name, path, mode))
        token = _nonempty(entry.get('sts_token')) if mode == 'StsToken' else None
        if mode == 'StsToken' and not token:
            raise AlicloudCredentialsError('Profile %r in %s has mode StsToken but no sts_token' % (name, path))
        return Credentials(ak, sk, token, source='profile:%s' % name, region=region)
    if mode == 'EcsRamRole':
        role = _nonempty(entry.get('ram_role_name'))
        if not role:
            raise AlicloudCredentialsError('Profile %r in %s has mode EcsRamRole but no ram_role_name' % (name, path))

        def fetch():
            creds = fetch_ecs_role_credentials(role, metadata_url, session=session, deadline=deadline)
            creds.source = 'profile:%s(EcsRamRole)' % name
            creds.region = region
            return creds
        return RefreshingCredentials(fetch)
    raise AlicloudCredentialsError('Profile %r in %s uses mode %r; supported: AK, StsToken, EcsRamRole' % (name, path, mode))


def resolve_credentials(params, session=None, deadline=None):
    """Pick credentials and region from module-style ``params`` (see the module docstring for the order).

    Returns ``(Credentials, region)``.
    """
    ak = _nonempty(params.get('alicloud_access_key'))
    sk = _nonempty(params.get('alicloud_secret_key'))
    token = _nonempty(params.get('alicloud_security_token'))
    region = _nonempty(params.get('alicloud_region'))
    role = _nonempty(params.get('ecs_role_name'))
    profile = _nonempty(params.get('profile'))
    shared = _nonempty(params.get('shared_credentials_file'))
    metadata_url = _nonempty(params.get('alicloud_metadata_url'))

    if bool(ak) != bool(sk):
        raise AlicloudCredentialsError('alicloud_access_key and alicloud_secret_key must be given together '
                                       '(options or ALICLOUD_ACCESS_KEY / ALICLOUD_SECRET_KEY)')
    creds = None
    if ak:
        creds = Credentials(ak, sk, token, source='options')
    elif role:
        creds = RefreshingCredentials(
            lambda: fetch_ecs_role_credentials(role, metadata_url, session=session, deadline=deadline))
    else:
        entry, path = load_profile(shared, profile)
        if entry is None:
            if profile or shared:
                raise AlicloudCredentialsError('Shared credentials file %s does not exist' % path)
            raise AlicloudCredentialsError(
                'No Alibaba Cloud credentials: set alicloud_access_key/alicloud_secret_key (or ALICLOUD_ACCESS_KEY/'
                'ALICLOUD_SECRET_KEY), ecs_role_name, or profile with shared_credentials_file')
        creds = credentials_from_profile(entry, path, metadata_url, session=session, deadline=deadline)
    region = region or creds.region
    if not region:
        raise AlicloudCredentialsError('No region: set alicloud_region (or ALICLOUD_REGION) or region_id in the profile')
    return creds, region
