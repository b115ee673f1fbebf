"""Test certificates made with the openssl command line: a CA, a server
certificate for localhost/127.0.0.1 and client certificates, all PEM, in a
directory the test owns. Nothing here is a real key; each run makes new
ones (RSA 2048: ~0.1 s each)."""

import os
import subprocess

from harness import run


def _openssl(*args, cwd):
    run(["openssl", *args], cwd=cwd, timeout=60)


class Pki:
    """A CA in dir; server() and client(cn) issue certificates signed by it."""

    def __init__(self, dir, name="sluice-test-ca"):
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        self.ca_key = os.path.join(dir, f"{name}.key")
        self.ca = os.path.join(dir, f"{name}.pem")
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key,
                 "-out", self.ca, "-days", "2", "-subj", f"/CN={name}", cwd=dir)

    def _issue(self, name, subject, ext, key_password=None):
        key = os.path.join(self.dir, f"{name}.key")
        csr = os.path.join(self.dir, f"{name}.csr")
        pem = os.path.join(self.dir, f"{name}.pem")
        extfile = os.path.join(self.dir, f"{name}.ext")
        with open(extfile, "w") as f:
            f.write(ext + "\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                 "-subj", subject, cwd=self.dir)
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                 "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", extfile, cwd=self.dir)
        if key_password is not None:
            enc = key + ".enc"
            _openssl("pkey", "-in", key, "-out", enc, "-aes256", "-passout",
                     f"pass:{key_password}", cwd=self.dir)
            key = enc
        return key, pem

    def server(self, key_password=None, name="server"):
        """A PEM keystore (key + certificate) for localhost, as Kafka's
        ssl.keystore.type=PEM reads it, in files named after name; returns
        its path."""
        key, pem = self._issue(name, "/CN=localhost",
                               "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                               "extendedKeyUsage=serverAuth", key_password)
        store = os.path.join(self.dir, f"{name}-keystore.pem")
        with open(store, "w") as out:
            for p in (key, pem):
                with open(p) as f:
                    out.write(f.read())
        return store

    def client(self, cn, ou="clients"):
        """(key, certificate) of a client whose subject is CN=cn,OU=ou."""
        return self._issue(f"client-{cn}", f"/OU={ou}/CN={cn}", "extendedKeyUsage=clientAuth")


def tls_sets(pki, keystore, client_auth=None, key_password=None):
    """The broker settings of a TLS listener over pki's files."""
    s = {"ssl.keystore.type": "PEM", "ssl.keystore.location": keystore,
         "ssl.truststore.type": "PEM", "ssl.truststore.location": pki.ca}
    if client_auth:
        s["ssl.client.auth"] = client_auth
    if key_password is not None:
        s["ssl.key.password"] = key_password
    return s


def handshake(addr, cafile, key=None, cert=None, max_version=None):
    """A TLS handshake with Python's ssl module: None on success, else the
    error's text."""
    import socket
    import ssl
    host, port = addr.rsplit(":", 1)
    c = ssl.create_default_context(cafile=cafile)
    if cert:
        c.load_cert_chain(cert, key)
    if max_version:
        c.maximum_version = max_version
    try:
        with socket.create_connection((host, int(port)), timeout=20) as s:
            with c.wrap_socket(s, server_hostname="localhost") as t:
                # TLS 1.3 reports a refused client certificate only on the
                # first read after the handshake
                t.settimeout(5)
                t.sendall(b"\0\0\0\x0a\0\x12\0\0\0\0\0\x01\xff\xff")  # ApiVersions v0
                if len(t.recv(4)) < 4:
                    return "closed"
        return None
    except (ssl.SSLError, OSError) as e:
        return str(e)


if __name__ == "__main__":
    import sys
    import tempfile
    d = tempfile.mkdtemp()
    p = Pki(d)
    print(p.server(), p.client("alice"), file=sys.stderr)
    subprocess.run(["ls", d])
