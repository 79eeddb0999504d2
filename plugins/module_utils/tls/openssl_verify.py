# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSL's own chain verdict (``X509_verify_cert``), the one nginx clients, curl and Python use.

Python's ``ssl`` module verifies chains only inside a handshake, so we call the
same libcrypto that ``ssl`` is linked with through ``ctypes``: a store with the
trust anchors, the presented intermediates as untrusted certificates, the
``ssl_server`` purpose a TLS client sets, and the check time. No strict flags:
OpenSSL's defaults are what TLS clients apply.

When libcrypto cannot be loaded the verifier is unavailable and ``verify``
raises ``OpenSSLUnavailable``: the caller must fail closed, never report valid.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import calendar
import ctypes
import ctypes.util
import threading

X509_PURPOSE_SSL_SERVER = 2
_LIB_NAMES = ('libcrypto.so.3', 'libcrypto.so.1.1', 'libcrypto.dylib')


class OpenSSLUnavailable(Exception):
    """libcrypto (or one of the functions we need) cannot be used."""


_lock = threading.Lock()
_lib = []


def _load():
    with _lock:
        if _lib:
            return _lib[0]
        names = []
        found = ctypes.util.find_library('crypto')
        if found:
            names.append(found)
        names.extend(_LIB_NAMES)
        lib = None
        for name in names:
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if lib is None:
            raise OpenSSLUnavailable('libcrypto cannot be loaded')
        try:
            _declare(lib)
        except AttributeError as exc:
            raise OpenSSLUnavailable('libcrypto lacks a function: %s' % exc)
        _lib.append(lib)
        return lib


def _declare(lib):
    vp, ip, cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    sigs = {
        'd2i_X509': (vp, [vp, ctypes.POINTER(cp), ctypes.c_long]),
        'X509_free': (None, [vp]),
        'X509_STORE_new': (vp, []),
        'X509_STORE_free': (None, [vp]),
        'X509_STORE_add_cert': (ip, [vp, vp]),
        'X509_STORE_CTX_new': (vp, []),
        'X509_STORE_CTX_free': (None, [vp]),
        'X509_STORE_CTX_init': (ip, [vp, vp, vp, vp]),
        'X509_STORE_CTX_set_time': (None, [vp, ctypes.c_ulong, ctypes.c_long]),
        'X509_STORE_CTX_set_purpose': (ip, [vp, ip]),
        'X509_STORE_CTX_get_error': (ip, [vp]),
        'X509_STORE_CTX_get_error_depth': (ip, [vp]),
        'X509_verify_cert': (ip, [vp]),
        'X509_verify_cert_error_string': (cp, [ctypes.c_long]),
        'OPENSSL_sk_new_null': (vp, []),
        'OPENSSL_sk_push': (ip, [vp, vp]),
        'OPENSSL_sk_free': (None, [vp]),
    }
    for name, (restype, argtypes) in sigs.items():
        func = getattr(lib, name)
        func.restype = restype
        func.argtypes = argtypes


def available():
    try:
        _load()
        return True
    except OpenSSLUnavailable:
        return False


def _x509(lib, der):
    buf = ctypes.create_string_buffer(der, len(der))
    ptr = ctypes.c_char_p(ctypes.addressof(buf))
    cert = lib.d2i_X509(None, ctypes.byref(ptr), len(der))
    if not cert:
        raise ValueError('OpenSSL cannot parse a certificate')
    return cert


class OpenSSLVerifier:
    """``verify(chain_der)`` -> (valid, message): OpenSSL's verdict at time ``now`` with ``root_ders`` as anchors.

    The trust store is built once (parsing ~150 system roots per endpoint was most of a large check's
    verification time) and shared by every verification: an ``X509_STORE`` is locked internally by
    OpenSSL, each verification has its own ``X509_STORE_CTX``.
    """

    def __init__(self, root_ders, now):
        self.lib = _load()
        self.when = calendar.timegm(now.utctimetuple())
        self.root_ders = list(root_ders)
        self._store = None
        self._lock = threading.Lock()

    def _trust_store(self):
        with self._lock:
            if self._store is None:
                lib = self.lib
                store = lib.X509_STORE_new()
                if not store:
                    raise OpenSSLUnavailable('X509_STORE_new failed')
                for der in self.root_ders:
                    try:
                        root = _x509(lib, der)
                    except ValueError:
                        continue
                    lib.X509_STORE_add_cert(store, root)  # takes its own reference; 0 on duplicates: harmless
                    lib.X509_free(root)
                self._store = store
            return self._store

    def close(self):
        with self._lock:
            if self._store is not None:
                self.lib.X509_STORE_free(self._store)
                self._store = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # pylint: disable=broad-except  # interpreter shutdown: nothing left to free into
            pass

    def verify(self, chain_der):
        lib = self.lib
        owned = []
        ctx = stack = None
        store = self._trust_store()
        try:
            leaf = _x509(lib, chain_der[0])
            owned.append(leaf)
            stack = lib.OPENSSL_sk_new_null()
            for der in chain_der[1:]:
                cert = _x509(lib, der)
                owned.append(cert)
                lib.OPENSSL_sk_push(stack, cert)
            ctx = lib.X509_STORE_CTX_new()
            if not ctx or lib.X509_STORE_CTX_init(ctx, store, leaf, stack) != 1:
                raise OpenSSLUnavailable('X509_STORE_CTX_init failed')
            lib.X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER)
            lib.X509_STORE_CTX_set_time(ctx, 0, self.when)
            if lib.X509_verify_cert(ctx) == 1:
                return True, None
            code = lib.X509_STORE_CTX_get_error(ctx)
            depth = lib.X509_STORE_CTX_get_error_depth(ctx)
            text = lib.X509_verify_cert_error_string(code)
            text = text.decode('ascii', 'replace') if text else 'error %d' % code
            return False, 'OpenSSL: %s (code %d, depth %d)' % (text, code, depth)
        finally:
            if ctx:
                lib.X509_STORE_CTX_free(ctx)
            if stack:
                lib.OPENSSL_sk_free(stack)
            for cert in owned:
                lib.X509_free(cert)
