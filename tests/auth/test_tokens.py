"""Access tokens: a verdict remembered for speed never outlives the token."""

from __future__ import annotations

import time
import uuid

import pytest

from rosterd.auth.tokens import TokenSigner, generate_private_key_pem


@pytest.fixture(scope="module")
def signer() -> TokenSigner:
    return TokenSigner([("k1", generate_private_key_pem())])


def _issue(signer: TokenSigner, ttl: int = 60) -> str:
    return signer.issue(
        issuer="http://testserver", tenant_id=uuid.uuid4(), subject="c", scopes=["a"], ttl=ttl
    )


def test_a_remembered_token_is_refused_once_it_expires(
    signer: TokenSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _issue(signer, ttl=60)
    assert signer.verify(token) is not None
    assert signer.verify(token) is not None  # now answered from memory
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert signer.verify(token) is None


def test_a_remembered_token_is_still_refused_for_another_audience(signer: TokenSigner) -> None:
    token = _issue(signer)
    assert signer.verify(token) is not None
    assert signer.verify(token, audience="rosterd:api-v1") is None


def test_a_forged_token_is_never_remembered_as_valid(signer: TokenSigner) -> None:
    other = TokenSigner([("k1", generate_private_key_pem())])
    forged = _issue(other)
    assert signer.verify(forged) is None
    assert signer.verify(forged) is None
