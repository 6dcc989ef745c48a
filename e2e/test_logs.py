"""What Herald writes to its log: a request id on every request, and never a secret."""
import glob
import os
import re
import time

import pytest
import requests

from conftest import LOG_DIR, SECRETS
from test_sse import new_user


def log_text(herald):
    """Everything every Herald of this run has logged so far."""
    texts = []
    for path in glob.glob(os.path.join(LOG_DIR, "*.log")):
        with open(path, errors="replace") as file:
            texts.append(file.read())
    return "\n".join(texts)


def eventually_logged(herald, pattern, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if match := re.search(pattern, log_text(herald)):
            return match
        time.sleep(0.05)
    raise AssertionError(f"nothing in the log matches {pattern!r}")


def test_a_request_id_is_taken_from_the_client_or_made_and_names_the_log_line(herald):
    name, token = new_user(herald)
    mine = requests.get(herald.base + f"/api/notifications?since=0&token={token}",
                        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-7f3a.e2e_1"}, timeout=5)
    assert mine.status_code == 200
    assert mine.headers["X-Request-ID"] == "req-7f3a.e2e_1"
    line = eventually_logged(herald, r".*request_id=req-7f3a\.e2e_1.*").group(0)
    assert "path=/api/notifications" in line and "status=200" in line
    assert token not in line, "the query is not logged: it may carry a token"

    made = requests.get(herald.base + "/healthz", timeout=5).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    hostile = requests.get(herald.base + "/healthz", headers={"X-Request-ID": "a b<script>" + "x" * 200}, timeout=5)
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["X-Request-ID"])
    eventually_logged(herald, rf"request_id={made}")


def secrets_in(text, secrets):
    return sorted(secret for secret in secrets if secret in text)


def test_the_search_finds_a_secret_that_is_there():
    """The check below, on a log that does leak: it must say so."""
    assert secrets_in("... Authorization: Bearer hrd_leakedleaked ...", {"hrd_leakedleaked", "hrk_notthere1"}) \
        == ["hrd_leakedleaked"]


@pytest.mark.last
def test_no_secret_of_the_whole_run_is_in_any_log():
    """Runs after every other test: every token, key, password, cluster secret and session cookie
    they made, looked for in everything every Herald logged (at debug level)."""
    text = log_text(None)
    assert len(glob.glob(os.path.join(LOG_DIR, "*.log"))) > 0 and "request_id=" in text
    assert len(SECRETS) > 0
    leaked = secrets_in(text, SECRETS)
    assert not leaked, f"{len(leaked)} secrets in the logs under {LOG_DIR}, such as {leaked[0][:6]}…"
