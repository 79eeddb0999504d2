# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.acme.challenge_files import ChallengeFiles
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

THUMB = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'


def challenge(token):
    return {'token': token, 'key_authorization': '%s.%s' % (token, THUMB), 'certificate': 'ignored'}


def test_writes_all_files_once_then_reports_no_change(tmp_path):
    files = ChallengeFiles(str(tmp_path))
    items = [challenge('tok-%d' % i) for i in range(5)]
    assert files.plan(items, 'present') == sorted(i['token'] for i in items)
    assert files.apply(items, 'present') == sorted(i['token'] for i in items)
    for item in items:
        path = tmp_path / '.well-known' / 'acme-challenge' / item['token']
        assert path.read_text() == item['key_authorization']
        assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644
    assert files.apply(items, 'present') == []
    # A changed key authorization is rewritten.
    items[0]['key_authorization'] = 'tok-0.other'
    assert files.apply(items, 'present') == ['tok-0']


def test_absent_removes_only_listed_tokens(tmp_path):
    files = ChallengeFiles(str(tmp_path))
    files.apply([challenge('a'), challenge('b')], 'present')
    assert files.apply([{'token': 'a'}, {'token': 'zz'}], 'absent') == ['a']
    assert sorted(os.listdir(files.directory)) == ['b']
    assert files.apply([{'token': 'a'}], 'absent') == []


@pytest.mark.parametrize('token', ['../../etc/passwd', 'a/b', '', 'tok en', '.hidden', None])
def test_hostile_tokens_are_refused_before_anything_is_written(tmp_path, token):
    files = ChallengeFiles(str(tmp_path))
    with pytest.raises(CertpilotError, match='token'):
        files.apply([challenge('good'), {'token': token, 'key_authorization': '%s.%s' % (token, THUMB)}], 'present')
    assert not (tmp_path / '.well-known').exists()


def test_key_authorization_must_belong_to_token(tmp_path):
    files = ChallengeFiles(str(tmp_path))
    with pytest.raises(CertpilotError, match='key authorization'):
        files.apply([{'token': 'abc', 'key_authorization': 'xyz.' + THUMB}], 'present')
    with pytest.raises(CertpilotError, match='key authorization'):
        files.apply([{'token': 'abc', 'key_authorization': 'abc.<script>'}], 'present')
    with pytest.raises(CertpilotError, match='twice'):
        files.apply([challenge('abc'), {'token': 'abc', 'key_authorization': 'abc.other'}], 'present')


def test_webroot_must_be_absolute():
    with pytest.raises(CertpilotError, match='absolute'):
        ChallengeFiles('relative/www')


@pytest.mark.parametrize('link', ['.well-known', '.well-known/acme-challenge'])
def test_symlinked_challenge_directory_is_refused(tmp_path, link):
    webroot, elsewhere = tmp_path / 'www', tmp_path / 'elsewhere'
    webroot.mkdir()
    elsewhere.mkdir()
    if link != '.well-known':
        (webroot / '.well-known').mkdir()
    os.symlink(str(elsewhere), str(webroot / link))
    files = ChallengeFiles(str(webroot))
    for state in ('present', 'absent'):
        with pytest.raises(CertpilotError) as err:
            files.apply([challenge('tok-1')], state)
        assert str(webroot / link) in err.value.msg and 'symlink' in err.value.msg
    assert list(elsewhere.rglob('*')) == []


def test_symlinked_token_file_is_refused_and_not_read(tmp_path):
    files = ChallengeFiles(str(tmp_path))
    files.apply([challenge('tok-1')], 'present')
    secret = tmp_path / 'secret'
    secret.write_text('do not read')
    token = tmp_path / '.well-known' / 'acme-challenge' / 'tok-2'
    os.symlink(str(secret), str(token))
    with pytest.raises(CertpilotError) as err:
        files.plan([challenge('tok-2')], 'present')
    assert str(token) in err.value.msg and 'do not read' not in err.value.msg
    assert secret.read_text() == 'do not read'


def order_challenge(token, kind='http-01'):
    """One item of acme_order's challenges, every key it returns."""
    return {'certificate': 'www', 'identifier': 'www.example.test', 'identifier_type': 'dns', 'type': kind,
            'token': token, 'path': '.well-known/acme-challenge/' + token,
            'key_authorization': '%s.%s' % (token, THUMB), 'dns_record': '_acme-challenge.www.example.test',
            'dns_value': 'x' * 43}


def test_acme_order_items_are_taken_as_they_are(tmp_path):
    files = ChallengeFiles(str(tmp_path))
    items = [order_challenge('tok-a'), order_challenge('tok-b')]
    assert files.apply(items, 'present') == ['tok-a', 'tok-b']
    assert (tmp_path / '.well-known' / 'acme-challenge' / 'tok-a').read_text() == 'tok-a.' + THUMB
    assert files.apply(items, 'absent') == ['tok-a', 'tok-b']


@pytest.mark.parametrize('item, state, expected', [
    ({'tokn': 'abc', 'key_authorization': 'abc.' + THUMB}, 'present', r'challenges\[1\] has no token; did you mean token instead of tokn'),
    ({'tokn': 'abc'}, 'absent', r'challenges\[1\] has no token; did you mean token instead of tokn'),
    ({'token': 'abc', 'key_authorisation': 'abc.' + THUMB}, 'present',
     r'challenges\[1\] \(token abc\) has no key_authorization, which state=present needs; '
     r'did you mean key_authorization instead of key_authorisation'),
    ({'token': 'abc', 'content': 'abc.' + THUMB}, 'present', r'has no key_authorization.*\(its keys: content, token\)'),
    ({}, 'present', r'challenges\[1\] has no token \(its keys: none\)'),
    ('abc', 'present', r'challenges\[1\] must be a dictionary'),
    (dict(order_challenge('abc', 'dns-01'), identifier='www.example.test'), 'present',
     r'challenges\[1\] \(www.example.test\) is a dns-01 challenge, not http-01'),
])
def test_missing_or_misspelled_keys_fail_clearly_before_anything_is_written(tmp_path, item, state, expected):
    files = ChallengeFiles(str(tmp_path))
    with pytest.raises(CertpilotError, match=expected):
        files.apply([challenge('good'), item], state)
    assert not (tmp_path / '.well-known').exists()


def test_absent_needs_no_key_authorization(tmp_path):
    files = ChallengeFiles(str(tmp_path))
    files.apply([challenge('abc')], 'present')
    assert files.plan([{'token': 'abc', 'certificate': 'www'}], 'absent') == ['abc']
