"""The weekly email over TLS: STARTTLS and implicit TLS ("ssl") against aiosmtpd on
127.0.0.1, with a login, and a certificate made at test time by the `openssl` CLI.

The client trusts the test CA the way a user would: SSL_CERT_FILE names the CA bundle
(ssl.create_default_context reads it through OpenSSL's default verify paths).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from delivery_fixtures import DELIVERY, fill_store, sample_papers
from tracker.config import load_config
from tracker.deliver.outbox import GIVE_UP_AFTER, run_digest
from tracker.standins.smtp import SmtpStandin
from tracker.store import deliveries as outbox
from tracker.store import open_store

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI to make a test certificate")

USER, PASSWORD = "robot", "tls-pa55-word-secret"
TO = ["ann@example.org", "bob@example.org"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_ca(folder: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}-key.pem", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=tracker test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, Path]:
    """A test CA, a server certificate it signed (SAN localhost and 127.0.0.1), and a
    second CA that signed nothing (a bundle that does not trust the server)."""
    folder = tmp_path_factory.mktemp("certs")
    _make_ca(folder, "ca")
    _make_ca(folder, "other-ca")
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=localhost", cwd=folder,
    )
    (folder / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
        encoding="utf-8",
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=folder,
    )
    return {name: folder / f"{name}.pem" for name in ("ca", "other-ca", "server", "server-key")}


def _server(certs: dict[str, Path], tls: str, **kwargs) -> SmtpStandin:
    return SmtpStandin(tls=tls, certfile=str(certs["server"]), keyfile=str(certs["server-key"]), **kwargs)


def _setup(write_config, server: SmtpStandin, security: str, host: str = "127.0.0.1", to=TO, login: bool = True):
    email = {"host": host, "port": server.port, "security": security, "from": "tracker@example.org", "to": to}
    if login:
        email |= {"username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"}
    config = load_config(write_config(DELIVERY, email=email))
    db = open_store(config.store.path)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    seen = (now - timedelta(days=1)).isoformat()
    ids = fill_store(db, sample_papers(40), seen)
    assert ids
    return config, db, now, ids


@pytest.fixture
def login_env(monkeypatch):
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_weekly_email_over_tls_with_login_through_the_cli(tmp_path, certs, security, monkeypatch, login_env, run_cli, write_config):
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["ca"]))
    with _server(certs, security, credentials=(USER, PASSWORD)) as server:
        config, db, _, ids = _setup(write_config, server, security)
        db.conn.close()
        code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "email")
        assert code == 0, err
        assert "1 email(s) sent to 2 recipient(s)" in out
        assert [r.recipients for r in server.received] == [("ann@example.org",), ("bob@example.org",)]
        assert server.logins == [USER]  # one TLS connection, one login, both recipients
        assert server.received[0].message.get_content_type() == "multipart/alternative"
        assert PASSWORD not in out + err
    db = open_store(config.store.path)
    assert outbox.delivered_ids(db, "email") == set(ids)


def test_starttls_by_host_name_checks_the_name_in_the_certificate(tmp_path, certs, monkeypatch, login_env, write_config):
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["ca"]))
    with _server(certs, "starttls", credentials=(USER, PASSWORD)) as server:
        config, db, now, ids = _setup(write_config, server, "starttls", host="localhost")
        report = run_digest(config, db, "email", "week", now, sleep=lambda s: None)
        assert report.ok and (report.sent, report.recipients) == (1, 2) and server.logins == [USER]
        assert outbox.delivered_ids(db, "email") == set(ids)


def test_starttls_server_refuses_mail_and_login_before_the_upgrade(tmp_path, certs, monkeypatch, login_env, write_config):
    """The stand-in really requires STARTTLS: a client speaking plain SMTP gets nowhere. It offers
    no AUTH before the upgrade: that was retried as a dropped connection (3 tries, 2 waits)."""
    sleeps: list[float] = []
    with _server(certs, "starttls", credentials=(USER, PASSWORD)) as server:
        config, db, now, ids = _setup(write_config, server, "none")
        report = run_digest(config, db, "email", "week", now, sleep=sleeps.append)
        assert report.failures and report.sent == 0 and server.received == [] and server.logins == []
        [failure] = report.failures
        assert f"127.0.0.1:{server.port} does not offer a login" in failure and "email.security" in failure
        assert sleeps == [] and len(outbox.pending(db, "email")) == len(TO)
        assert outbox.delivered_ids(db, "email") == set()
        assert PASSWORD not in " ".join(report.failures)


def test_starttls_required_with_security_none_keeps_the_email_until_the_config_is_fixed(tmp_path, certs, monkeypatch,
                                                                                        run_cli, write_config):
    """The server answers MAIL FROM with 530 (STARTTLS first). That was counted as a refusal of
    each recipient: after GIVE_UP_AFTER runs the rows were failed and the fixed config sent nothing."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["ca"]))
    with _server(certs, "starttls") as server:
        config, db, _, ids = _setup(write_config, server, "none", login=False)
        db.conn.close()
        digest = ("--config", str(config.file), "digest", "--channel", "email", "--period", "week")
        for _ in range(GIVE_UP_AFTER + 1):
            code, out, err = run_cli(*digest)
            assert code == 1 and "Traceback" not in err
            [line] = [x for x in err.splitlines() if x.startswith("error: ")]  # one line, not one per recipient
            assert f"127.0.0.1:{server.port}" in line and "530 Must issue a STARTTLS command first" in line
            assert "email.security / email.username_env" in line and "recipient" not in line
        assert server.received == []
        db = open_store(config.store.path)
        assert [r.status for r in outbox.pending(db, "email")] == ["pending"] * len(TO)
        db.conn.close()
        config.file.write_text(config.file.read_text(encoding="utf-8").replace('"none"', '"starttls"'), encoding="utf-8")
        code, out, err = run_cli(*digest)
        assert code == 0, err
        code, out, err = run_cli(*digest)
        assert code == 0 and "nothing new" in out
        assert sorted(r.recipients for r in server.received) == [(address,) for address in TO]  # once each
    db = open_store(config.store.path)
    assert outbox.delivered_ids(db, "email") == set(ids)


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_untrusted_certificate_fails_clearly_and_delivers_nothing(tmp_path, certs, security, monkeypatch, login_env, run_cli, write_config):
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["other-ca"]))  # a CA bundle that did not sign the server
    sleeps: list[float] = []
    with _server(certs, security, credentials=(USER, PASSWORD)) as server:
        config, db, now, ids = _setup(write_config, server, security)
        report = run_digest(config, db, "email", "week", now, sleep=sleeps.append)
        assert server.received == [] and server.logins == []
        assert report.sent == 0 and report.delivered == 0 and len(report.failures) == 1
        failure = report.failures[0]
        assert f"127.0.0.1:{server.port}" in failure
        assert "certificate" in failure.lower() and "SSL_CERT_FILE" in failure
        assert sleeps == []  # a certificate that is not trusted is not retried
        assert outbox.delivered_ids(db, "email") == set()
        assert {r.status for r in outbox.pending(db, "email")} == {"pending"}  # the next run tries again
        db.conn.close()
        code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "email")
        assert code == 1 and "Traceback" not in err
        last = err.strip().splitlines()[-1]  # log lines first, then the one error line
        assert last.startswith("error: ") and f"127.0.0.1:{server.port}" in last and "certificate" in last.lower()
        assert PASSWORD not in out + err and server.received == []
    db = open_store(config.store.path)
    assert outbox.delivered_ids(db, "email") == set()



def test_ssl_against_a_plain_server_says_to_check_security_and_is_not_retried(tmp_path, certs, monkeypatch, login_env, write_config):
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["ca"]))
    sleeps: list[float] = []
    with SmtpStandin() as server:  # plain SMTP, no TLS at all
        config, db, now, ids = _setup(write_config, server, "ssl")
        report = run_digest(config, db, "email", "week", now, sleep=sleeps.append)
        assert len(report.failures) == 1 and f"127.0.0.1:{server.port}" in report.failures[0]
        assert "email.security" in report.failures[0] and sleeps == []
        assert server.received == [] and outbox.delivered_ids(db, "email") == set()


@pytest.mark.parametrize("security", ["starttls", "none"])
def test_plain_smtp_against_an_implicit_tls_port_fails_once_and_says_ssl(tmp_path, certs, security, monkeypatch,
                                                                         login_env, write_config):
    """The server waits for a TLS hello, the client for a 220: three 30 s timeouts a run,
    ending "Connection unexpectedly closed: timed out". One wait, and the fix."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["ca"]))
    sleeps: list[float] = []
    with _server(certs, "ssl") as server:
        config, db, now, ids = _setup(write_config, server, security)
        config = replace(config, email=replace(config.email, timeout_seconds=0.5))
        report = run_digest(config, db, "email", "week", now, sleep=sleeps.append)
        assert len(report.failures) == 1 and "sent no greeting in 0.5s" in report.failures[0]
        assert 'email.security = "ssl"' in report.failures[0] and sleeps == []
        assert server.received == [] and outbox.delivered_ids(db, "email") == set()
        assert len(outbox.pending(db, "email")) == len(TO)  # kept for the run after the fix
