# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/validation.py: challenge tokens and certificate names before they become file names."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme.validation import validate_name, validate_token


@pytest.mark.parametrize('token', ['abc', 'A-b_9' * 10])
def test_good_tokens(token):
    assert validate_token(token) == token


@pytest.mark.parametrize('token', ['../../etc/passwd', 'a/b', 'a.b', '', 'a b', 'tok\n', None, 'é'])
def test_bad_tokens_are_rejected(token):
    with pytest.raises(CertpilotError, match='invalid challenge token'):
        validate_token(token)


@pytest.mark.parametrize('name', ['..', '.hidden', '../x', 'a/b', '', '-x', 'x y', 'name\n'])
def test_bad_names(name):
    with pytest.raises(CertpilotError, match='invalid certificate name'):
        validate_name(name)


@pytest.mark.parametrize('name', ['www', 'www.example.com', 'a_b-c.1', 'A' * 200])
def test_good_names(name):
    assert validate_name(name) == name


def test_a_name_longer_than_200_characters_is_refused():
    with pytest.raises(CertpilotError, match='invalid certificate name'):
        validate_name('a' * 201)
