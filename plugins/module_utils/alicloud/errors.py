# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors raised by the Alibaba Cloud client."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError


class AlicloudApiError(CertpilotError):
    """The API answered with an error body (``Code``, ``Message``, ``RequestId``)."""

    def __init__(self, action, code, message, request_id=None, http_status=None, recommend=None):
        msg = 'Alibaba Cloud %s failed: %s: %s (RequestId: %s, HTTP %s)' % (
            action, code, message, request_id or '-', http_status or '-')
        super(AlicloudApiError, self).__init__(
            msg, error_code=code, error_message=message, request_id=request_id, http_status=http_status)
        self.action = action
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status
        self.recommend = recommend


class AlicloudCredentialsError(CertpilotError):
    """No usable credentials, or the credential source answered badly."""


def failure_entry(err, **keys):
    """One ``failed_items`` entry for a per-item failure: the keys naming the item, ``msg`` and, when the API
    answered, its ``error_code`` and ``request_id``."""
    entry = dict(keys)
    entry['msg'] = err.msg if isinstance(err, CertpilotError) else '%s: %s' % (type(err).__name__, err)
    if isinstance(err, AlicloudApiError):
        entry.update(error_code=err.code, request_id=err.request_id)
    return entry
