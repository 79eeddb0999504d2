# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RFC 7807 / RFC 8555 section 6.7 problem documents as one clear error, the ACME problem types, and the
exceptions that say an order failed (not just one request)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

ACME_NS = 'urn:ietf:params:acme:error:'

# Problem types (short form, without ACME_NS): RFC 8555 section 6.7, RFC 9773 section 7.4 (alreadyReplaced).
# ``AcmeProblem.is_type`` takes these; ``problem_type(name)`` gives the full URN.
ACCOUNT_DOES_NOT_EXIST = 'accountDoesNotExist'
ALREADY_REPLACED = 'alreadyReplaced'
ALREADY_REVOKED = 'alreadyRevoked'
BAD_CSR = 'badCSR'
BAD_NONCE = 'badNonce'
BAD_PUBLIC_KEY = 'badPublicKey'
BAD_REVOCATION_REASON = 'badRevocationReason'
BAD_SIGNATURE_ALGORITHM = 'badSignatureAlgorithm'
CAA = 'caa'
COMPOUND = 'compound'
CONNECTION = 'connection'
DNS = 'dns'
EXTERNAL_ACCOUNT_REQUIRED = 'externalAccountRequired'
INCORRECT_RESPONSE = 'incorrectResponse'
INVALID_CONTACT = 'invalidContact'
MALFORMED = 'malformed'
ORDER_NOT_READY = 'orderNotReady'
RATE_LIMITED = 'rateLimited'
REJECTED_IDENTIFIER = 'rejectedIdentifier'
SERVER_INTERNAL = 'serverInternal'
TLS = 'tls'
UNAUTHORIZED = 'unauthorized'
UNSUPPORTED_CONTACT = 'unsupportedContact'
UNSUPPORTED_IDENTIFIER = 'unsupportedIdentifier'
USER_ACTION_REQUIRED = 'userActionRequired'


def problem_type(name):
    """The full problem type URN of a short ACME type name (``problem_type(BAD_NONCE)``)."""
    return ACME_NS + name


def short_type(problem_type):
    problem_type = problem_type or 'about:blank'
    if problem_type.startswith(ACME_NS):
        return problem_type[len(ACME_NS):]
    return problem_type


def identifier_text(identifier):
    if not identifier:
        return None
    if isinstance(identifier, dict):
        return identifier.get('value') or None
    return str(identifier)


def describe_problem(doc, identifier=None):
    """One line: '<identifier>: <type>: <detail>' plus one line per subproblem."""
    if not isinstance(doc, dict):
        doc = {'detail': str(doc)}
    ident = identifier_text(doc.get('identifier')) or identifier_text(identifier)
    head = '%s: %s' % (short_type(doc.get('type')), doc.get('detail') or 'no detail given')
    if ident:
        head = '%s: %s' % (ident, head)
    lines = [head]
    for sub in doc.get('subproblems') or []:
        if isinstance(sub, dict):
            sub_ident = identifier_text(sub.get('identifier')) or '?'
            lines.append('%s: %s: %s' % (sub_ident, short_type(sub.get('type')), sub.get('detail') or 'no detail given'))
    return '; '.join(lines)


class AcmeProblem(CertpilotError):
    """A problem document returned by the ACME server."""

    def __init__(self, doc, status=None, url=None, identifier=None, what=None):
        doc = doc if isinstance(doc, dict) else {'detail': str(doc)}
        self.doc = doc
        self.type = doc.get('type') or 'about:blank'
        self.short_type = short_type(self.type)
        self.detail = doc.get('detail')
        self.status = status if status is not None else doc.get('status')
        self.subproblems = [s for s in (doc.get('subproblems') or []) if isinstance(s, dict)]
        self.identifier = identifier_text(doc.get('identifier')) or identifier_text(identifier)
        msg = describe_problem(doc, identifier)
        if what:
            msg = '%s failed: %s' % (what, msg)
        if status:
            msg = '%s (HTTP %s)' % (msg, status)
        details = {'acme_problem': {'type': self.type, 'detail': self.detail, 'status': self.status,
                                    'subproblems': self.subproblems}}
        if url:
            details['url'] = url
        if self.identifier:
            details['identifier'] = self.identifier
        super(AcmeProblem, self).__init__(msg, **details)

    def is_type(self, name):
        return self.short_type == name

    def mentions(self, word):
        """True when the problem's detail (or a subproblem's) mentions ``word`` (case-insensitive)."""
        texts = [self.detail] + [sub.get('detail') for sub in self.subproblems]
        return any(isinstance(text, str) and word.lower() in text.lower() for text in texts)


class OrderFailed(CertpilotError):
    """This order is over: the CA made it invalid or issued nothing on it.

    Asking again does not help (unlike a 5xx, a rate limit or a bad nonce): the caller records the order as
    failed, and the next acme_order run orders anew. Raised as is when the CA gave no problem document.
    """


class OrderInvalid(AcmeProblem, OrderFailed):
    """An OrderFailed the CA explained: the problem document of the order (its ``error`` field)."""


class ValidationFailed(AcmeProblem, OrderFailed):
    """The CA could not validate an identifier: the problem of the failed challenge (or authorization)."""
