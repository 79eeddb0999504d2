# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build and send a report e-mail with smtplib (no dependency beyond the standard library)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import mimetypes
import os
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy, Retryable, call_with_retry

SECURITY_CHOICES = ('none', 'starttls', 'ssl')
MAX_ATTACHMENT = 20 * 1024 * 1024


class MailError(CertpilotError):
    """The message could not be sent."""


def _header_safe(value, what):
    value = str(value)
    if '\r' in value or '\n' in value:
        raise MailError('%s must not contain line breaks' % what)
    return value


def build_message(sender, to, subject, body=None, html_body=None, cc=None, attachments=None, headers=None):
    """An ``EmailMessage`` with a text part, an optional HTML alternative and attachments (paths)."""
    if not to and not cc:
        raise MailError('give at least one recipient in to or cc')
    msg = EmailMessage()
    msg['From'] = _header_safe(sender, 'sender')
    if to:
        msg['To'] = ', '.join(_header_safe(a, 'to') for a in to)
    if cc:
        msg['Cc'] = ', '.join(_header_safe(a, 'cc') for a in cc)
    msg['Subject'] = _header_safe(subject, 'subject')
    msg['Date'] = formatdate(localtime=False)
    domain = sender.rsplit('@', 1)[-1].strip('>') if '@' in sender else None
    msg['Message-ID'] = make_msgid(domain=domain or None)
    for key, value in sorted((headers or {}).items()):
        msg[_header_safe(key, 'header name')] = _header_safe(value, 'header %s' % key)
    msg.set_content(body if body is not None else '(see the HTML part or the attachments)')
    if html_body:
        msg.add_alternative(html_body, subtype='html')
    for path in attachments or []:
        try:
            size = os.path.getsize(path)
            if size > MAX_ATTACHMENT:
                raise MailError('attachment %s is larger than %d bytes' % (path, MAX_ATTACHMENT))
            with open(path, 'rb') as handle:
                data = handle.read()
        except (IOError, OSError) as exc:
            raise MailError('cannot read attachment %s: %s' % (path, exc.strerror or exc))
        ctype, encoding = mimetypes.guess_type(path)
        if ctype is None or encoding is not None:
            ctype = 'application/octet-stream'
        maintype, subtype = ctype.split('/', 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=os.path.basename(path))
    return msg


def tls_context(ca_bundle=None, validate_certs=True):
    ctx = ssl.create_default_context(cafile=ca_bundle) if validate_certs else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not validate_certs:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _transient(exc):
    if isinstance(exc, (ConnectionRefusedError, ConnectionResetError, socket.timeout, smtplib.SMTPServerDisconnected)):
        return True
    if isinstance(exc, smtplib.SMTPResponseException) and 400 <= exc.smtp_code < 500:
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _msg in exc.recipients.values())
    return False


def _describe(exc):
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return 'authentication failed (%d)' % exc.smtp_code
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode('utf-8', 'replace') if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return '%d %s' % (exc.smtp_code, text)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return 'recipients refused: %s' % ', '.join(sorted(exc.recipients))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return 'TLS certificate verification failed: %s' % (exc.verify_message or exc)
    if isinstance(exc, ssl.SSLError):
        return 'TLS error: %s' % (exc.reason or exc)
    if isinstance(exc, socket.timeout):
        return 'timed out'
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def send(message, *, host, port, security='starttls', username=None, password=None, ca_bundle=None,
         validate_certs=True, timeout=30.0, retries=2, local_hostname=None):
    """Send ``message`` through ``host``:``port``; returns the list of accepted recipients. Raises MailError.

    Everything but the message is keyword-only: eleven settings, several of the same type, are easy to swap.
    """
    if security not in SECURITY_CHOICES:
        raise MailError('security must be one of %s' % ', '.join(SECURITY_CHOICES))
    if (username is None) != (password is None):
        raise MailError('give both username and password, or neither')
    if username is not None and security == 'none' and host not in ('localhost', '127.0.0.1', '::1'):
        raise MailError('refusing to send a password over an unencrypted connection to %s; use security=starttls or ssl'
                        % host)
    deadline = Deadline(timeout)
    recipients = [addr for _name, addr in getaddresses(message.get_all('To', []) + message.get_all('Cc', []))]
    ctx = tls_context(ca_bundle, validate_certs) if security != 'none' else None

    def attempt():
        client = None
        try:
            per_op = max(0.1, deadline.remaining())
            if security == 'ssl':
                client = smtplib.SMTP_SSL(host, port, local_hostname=local_hostname, timeout=per_op, context=ctx)
            else:
                client = smtplib.SMTP(host, port, local_hostname=local_hostname, timeout=per_op)
            client.ehlo()
            if security == 'starttls':
                if not client.has_extn('starttls'):
                    raise MailError('%s:%s does not offer STARTTLS' % (host, port))
                client.starttls(context=ctx)
                client.ehlo()
            if username is not None:
                client.login(username, password)
            refused = client.send_message(message)
            return [r for r in recipients if r not in refused]
        except MailError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            if _transient(exc) and deadline.remaining() > 0:
                raise Retryable(MailError('sending mail via %s:%s failed: %s' % (host, port, _describe(exc))))
            raise MailError('sending mail via %s:%s failed: %s' % (host, port, _describe(exc)))
        finally:
            if client is not None:
                try:
                    client.quit()
                except Exception:  # noqa: BLE001 - the message is already sent or failed
                    client.close()

    return call_with_retry(attempt, RetryPolicy(attempts=max(0, int(retries)) + 1, base=1.0, cap=10.0), deadline,
                           what='sending mail')
