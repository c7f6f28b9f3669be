import msgspec
import pytest

from programme.signing import (
    SignatureError,
    load_private_key,
    load_public_key,
    new_private_key,
    private_key_pem,
    public_key_text,
    sign_ticket,
    verify_ticket,
)

from .test_ticket import a_ticket


def test_signed_ticket_verifies_and_a_changed_amount_does_not():
    key = new_private_key()
    public = load_public_key(public_key_text(load_private_key(private_key_pem(key))))
    signed = sign_ticket(a_ticket(), key)
    verify_ticket(signed, public)
    tampered = msgspec.structs.replace(signed, total_cents=signed.total_cents - 100)
    with pytest.raises(SignatureError) as exc:
        verify_ticket(tampered, public)
    assert str(exc.value) == (
        "ticket S001-T01-00000001: the signature does not match its content "
        "(altered after the till closed it, or signed by another key)"
    )


def test_another_tills_key_does_not_verify_and_unsigned_is_refused():
    signed = sign_ticket(a_ticket(), new_private_key())
    with pytest.raises(SignatureError, match="signature does not match"):
        verify_ticket(signed, new_private_key().public_key())
    with pytest.raises(SignatureError, match="^ticket S001-T01-00000001 is not signed$"):
        verify_ticket(a_ticket(), new_private_key().public_key())
    with pytest.raises(SignatureError, match="is not a base64 Ed25519 public key"):
        load_public_key("nope")
