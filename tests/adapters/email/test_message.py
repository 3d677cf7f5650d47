"""parse_mail on the built corpus: reply text, charsets, automatic mail, bounces, attachments,
trust, hostile input; parse_address and header_safe on tables of cases."""

from __future__ import annotations

import random
import time
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.email.message import (
    MAX_REPLY_TEXT,
    Address,
    header_message_id,
    header_safe,
    parse_address,
    parse_mail,
    strip_reply,
)
from tests.adapters.email import corpus

GERMAN_BODY = "Die Platte wurde heute früh getauscht, der Dienst läuft wieder."


# --------------------------------------------------------------------------- replies


@pytest.mark.parametrize("shape", sorted(corpus.REPLIES))
def test_reply_text_is_the_new_text_only(shape: str) -> None:
    mail = parse_mail(corpus.reply_to(shape))
    new = GERMAN_BODY if shape == "apple" else corpus.BODY
    assert new in mail.text
    assert mail.reply_text == new
    assert corpus.QUOTED not in mail.reply_text
    assert corpus.SIGNATURE not in mail.reply_text
    assert "Grüße" not in mail.reply_text and "regards" not in mail.reply_text
    assert mail.in_reply_to == ["<t12.gw-1@gateway.example.org>"]
    assert mail.references == ["<t12.gw-1@gateway.example.org>"]
    assert mail.sender is not None and mail.sender.email == corpus.SENDER
    assert mail.automatic is None and mail.bounce is None and mail.auth_failure is None
    assert mail.problems == []
    assert mail.attachments == []


@pytest.mark.parametrize("shape", sorted(corpus.REPLIES))
def test_reply_shapes_take_the_threading_arguments(shape: str) -> None:
    raw = corpus.reply_to(
        shape,
        in_reply_to="<t99.gw-7@gw.example>",
        references="<first@x.example> <t99.gw-7@gw.example>",
        subject="Re: [GGUS #99] Something else",
        sender="bob@Example.NET",
        body="Custom new text for ticket 99.",
        quoted="Custom old text.",
    )
    mail = parse_mail(raw)
    assert mail.subject == "Re: [GGUS #99] Something else"
    assert mail.sender is not None and mail.sender.email == "bob@example.net"
    assert mail.in_reply_to == ["<t99.gw-7@gw.example>"]
    assert mail.references == ["<first@x.example>", "<t99.gw-7@gw.example>"]
    assert mail.reply_text == "Custom new text for ticket 99."


def test_thunderbird_format_flowed_is_joined_and_bottom_posting_is_read() -> None:
    top = parse_mail(corpus.thunderbird_reply())
    assert corpus.BODY in top.text  # the soft line break in the middle is gone
    bottom = parse_mail(corpus.thunderbird_reply(bottom=True))
    assert bottom.reply_text == corpus.BODY


def test_outlook_html_alternative_is_not_used_when_text_exists() -> None:
    mail = parse_mail(corpus.outlook_reply())
    assert "divRplyFwdMsg" not in mail.text and "<b>" not in mail.text
    assert "From: Helpdesk" in mail.text  # the quote is in text, only reply_text drops it


def test_commands_survive_reply_stripping() -> None:
    mail = parse_mail(corpus.gmail_reply(body="Status: solved\nAssign: ngi-de\n\nAll done."))
    assert mail.reply_text == "Status: solved\nAssign: ngi-de\n\nAll done."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hi,\nThanks, that fixed it.\nBut now X fails.",
            "Hi,\nThanks, that fixed it.\nBut now X fails.",
        ),
        ("Done.\n- first\n- second\n\nregards,\nAnn", "Done.\n- first\n- second"),
        ("Done.\n\nSent from my iPhone", "Done."),
        ("Fertig.\n\nMit freundlichen Grüßen\nAnn", "Fertig."),
        ("Fait.\n\nLe 1 janv. 2024 à 10:00, Helpdesk a écrit :\n> vieux", "Fait."),
        ("Fatto.\n\nIl giorno lun 1 gen 2024, Helpdesk ha scritto:\n> vecchio", "Fatto."),
        ("Hecho.\n\nEl lun, 1 ene 2024 a las 10:00, Helpdesk escribió:\n> viejo", "Hecho."),
        ("Klaar.\n\nOp ma 1 jan. 2024 om 10:00 schreef Helpdesk:\n> oud", "Klaar."),
        ("Done.\n\n-----Original Message-----\nFrom: x\nold", "Done."),
        (
            "Warning: the disk is full, see mail below.\nMore.",
            "Warning: the disk is full, see mail below.\nMore.",
        ),
        ("> only a quote\n> more", "> only a quote\n> more"),
    ],
)
def test_strip_reply(text: str, expected: str) -> None:
    assert strip_reply(text) == expected


def test_long_lines_are_kept_and_huge_text_is_cut_with_a_problem() -> None:
    line = "x" * 5000
    assert strip_reply(f"{line}\n\nOn Mon, Ann wrote:\n> old") == line
    problems: list[str] = []
    started = time.perf_counter()
    result = strip_reply(("On Mon said something " * 30 + "\n") * 2000, problems)
    assert time.perf_counter() - started < 2
    assert len(result) <= MAX_REPLY_TEXT
    assert any("cut" in p for p in problems)


# --------------------------------------------------------------------------- bodies, charsets


def test_html_only_becomes_readable_text() -> None:
    mail = parse_mail(corpus.html_only())
    assert "Transfers to storage01 fail since 09:00 & nothing gets through." in mail.text
    assert "first error" in mail.text and "second error" in mail.text
    assert "se01" in mail.text and "Café <ok>" in mail.text
    assert "<p>" not in mail.text and "alert" not in mail.text and "color:red" not in mail.text
    assert mail.reply_text.startswith("Transfers to storage01")


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (corpus.latin1_message(), corpus.LATIN1_TEXT),
        (corpus.windows1252_message(), corpus.CP1252_TEXT),
        (corpus.shift_jis_message(), corpus.SHIFT_JIS_TEXT),
    ],
)
def test_charsets_decode(raw: bytes, text: str) -> None:
    mail = parse_mail(raw)
    assert mail.text.strip() == text
    assert mail.subject == text[:20].strip()
    assert mail.problems == []


def test_encoded_subject_and_display_name() -> None:
    mail = parse_mail(corpus.encoded_subject_message())
    assert mail.subject == "Grüße aus Köln and more"
    assert mail.sender == Address(name="Jörg Müller", email="joerg@example.de")


def test_lying_charset_is_read_and_recorded() -> None:
    mail = parse_mail(corpus.lying_charset_message())
    assert mail.text.strip() == corpus.LATIN1_TEXT
    assert any("not valid utf-8" in p for p in mail.problems)


def test_unknown_charset_is_replaced_and_recorded() -> None:
    mail = parse_mail(corpus.unknown_charset_message())
    assert mail.text.strip() == "naïve"
    assert any("unknown charset" in p for p in mail.problems)


# --------------------------------------------------------------------------- automatic mail


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (corpus.vacation_reply(), "Auto-Submitted: auto-replied (vacation)"),
        (corpus.outlook_oof(), "X-Auto-Response-Suppress: All"),
        (corpus.bulk_message(), "Precedence: bulk"),
        (corpus.list_message(), "List-Id: WLCG operations <wlcg-ops.lists.example.net>"),
        (corpus.loop_message(), "X-Gateway-Loop: gw-1"),
        (corpus.mailer_daemon_bounce(), "From: mailer-daemon"),
        (corpus.dsn_bounce(), "Auto-Submitted: auto-replied"),
    ],
)
def test_automatic_reasons(raw: bytes, reason: str) -> None:
    assert parse_mail(raw).automatic == reason


def _plain(*headers: str, sender: str = "ann@example.org") -> bytes:
    return (
        f"From: {sender}\r\n" + "".join(f"{h}\r\n" for h in headers) + "Subject: x\r\n\r\nhi\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_plain("Auto-Submitted: no"), None),
        (_plain("Auto-Submitted: auto-generated"), "Auto-Submitted: auto-generated"),
        (_plain("Precedence: junk"), "Precedence: junk"),
        (_plain("Precedence: first-class"), None),
        (
            _plain("X-Auto-Response-Suppress: OOF, AutoReply"),
            "X-Auto-Response-Suppress: OOF, AutoReply",
        ),
        (_plain("X-Auto-Response-Suppress: DR"), None),
        (_plain("Return-Path: <>"), "Return-Path: <>"),
        (_plain("Return-Path: <ann@example.org>"), None),
        (_plain("X-Autoreply: yes"), "X-Autoreply: yes"),
        (_plain("X-Autorespond: x"), "X-Autorespond: x"),
        (_plain("X-Loop: rt@example.org"), "X-Loop: rt@example.org"),
        (_plain("List-Unsubscribe: <mailto:x@y.org>"), "List-Unsubscribe: <mailto:x@y.org>"),
        (_plain(sender="POSTMASTER@example.org"), "From: postmaster"),
        (_plain(sender="Mailer Daemon <mailer-daemon@example.org>"), "From: mailer-daemon"),
    ],
)
def test_automatic_headers(raw: bytes, reason: str | None) -> None:
    assert parse_mail(raw).automatic == reason


def test_a_read_receipt_is_automatic() -> None:
    raw = (
        b"From: someone@example.org\r\nContent-Type: multipart/report;"
        b" report-type=disposition-notification; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n"
        b"--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
        b"Final-Recipient: rfc822; x@example.org\r\nDisposition: manual-action/MDN-sent-manually;"
        b" displayed\r\n\r\n--b--\r\n"
    )
    mail = parse_mail(raw)
    assert mail.automatic == "Content-Type: multipart/report; report-type=disposition-notification"
    assert mail.bounce is None and mail.attachments == []
    assert mail.text == "Your message was read."


def test_loop_header_counts_only_our_value_when_given() -> None:
    raw = corpus.loop_message("gw-other")
    assert parse_mail(raw, loop_value="gw-1").automatic is None
    assert parse_mail(raw, loop_value="GW-OTHER").automatic == "X-Gateway-Loop: gw-other"
    assert parse_mail(raw, loop_header="X-Other").automatic is None


def test_a_vacation_answer_is_automatic_but_not_a_bounce() -> None:
    mail = parse_mail(corpus.vacation_reply())
    assert mail.automatic is not None and mail.bounce is None


# --------------------------------------------------------------------------- bounces


@pytest.mark.parametrize("headers_only", [False, True])
def test_permanent_dsn(headers_only: bool) -> None:
    mail = parse_mail(
        corpus.dsn_bounce(
            recipient="Bob@Example.net",
            original_message_id="<t7.gw-3@gw>",
            headers_only=headers_only,
        )
    )
    assert mail.bounce is not None
    assert mail.bounce.permanent is True
    assert mail.bounce.recipients == ["bob@example.net"]
    assert mail.bounce.original_message_id == "<t7.gw-3@gw>"
    assert mail.bounce.status == "5.1.1"
    assert mail.bounce.diagnostic is not None and "User unknown" in mail.bounce.diagnostic
    assert mail.attachments == []  # the report's parts are not attachments
    assert "mail system" in mail.text


def test_delayed_dsn_is_not_permanent() -> None:
    bounce = parse_mail(corpus.delayed_dsn()).bounce
    assert bounce is not None
    assert bounce.permanent is False and bounce.status == "4.4.7"
    assert bounce.recipients == [corpus.SENDER]
    assert bounce.original_message_id == "<t12.gw-1@gateway.example.org>"


def test_mailer_daemon_bounce_without_dsn() -> None:
    bounce = parse_mail(corpus.mailer_daemon_bounce(original_message_id="<t5.gw-9@gw>")).bounce
    assert bounce is not None
    assert bounce.permanent is True
    assert bounce.original_message_id == "<t5.gw-9@gw>"
    assert bounce.status == "5.1.1"
    assert corpus.SENDER in bounce.recipients


def test_mailer_daemon_mail_without_an_original_is_no_bounce() -> None:
    assert parse_mail(_plain(sender="mailer-daemon@example.org")).bounce is None


# --------------------------------------------------------------------------- attachments


def test_attachments_and_inline_image() -> None:
    mail = parse_mail(corpus.attachments_message())
    by_name = {a.filename: a for a in mail.attachments}
    assert set(by_name) == {"image001.png", "report.pdf"}
    assert by_name["report.pdf"].content_type == "application/pdf"
    assert by_name["report.pdf"].data == corpus.PDF
    assert by_name["image001.png"].data == corpus.PNG
    assert mail.text.strip() == "Log and screenshot attached."


def test_encoded_and_hostile_filenames() -> None:
    raw = (
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n"
        b"--b\r\nContent-Type: application/octet-stream;\r\n"
        b' name="=?utf-8?q?R=C3=A9sum=C3=A9.txt?="\r\n'
        b"Content-Disposition: attachment\r\n\r\nabc\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
        b'filename="../../etc/passwd"\r\n\r\nroot\r\n'
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n\r\n"
        b"x\r\n--b--\r\n"
    )
    names = [a.filename for a in parse_mail(raw).attachments]
    assert names == ["Résumé.txt", "passwd", "attachment-3"]


# --------------------------------------------------------------------------- hostile input


def test_deep_nesting_is_cut_with_a_problem() -> None:
    mail = parse_mail(corpus.deep_nesting(50))
    assert any("nesting" in p for p in mail.problems)
    assert parse_mail(corpus.deep_nesting(10)).text.strip() == "deep text"


def test_absurd_nesting_does_not_raise() -> None:
    mail = parse_mail(corpus.deep_nesting(2000))
    assert mail.problems


def test_nul_bytes_are_removed() -> None:
    mail = parse_mail(corpus.nul_message())
    assert "\x00" not in mail.subject and "\x00" not in mail.text
    assert mail.subject == "nul in subject"
    assert "NUL bytes removed from headers" in mail.problems
    assert "NUL bytes removed from the body" in mail.problems


def test_header_injection_is_flattened() -> None:
    mail = parse_mail(corpus.header_injection())
    assert mail.subject == "Hello Bcc: evil@attacker.example"
    assert mail.sender is not None
    assert mail.sender.email == "ann@example.org"
    assert "\r" not in mail.sender.name and "\n" not in mail.sender.name


@pytest.mark.parametrize("value", corpus.MALFORMED_FROMS)
def test_malformed_from_gives_no_sender(value: str) -> None:
    mail = parse_mail(corpus.malformed_from(value))
    assert mail.sender is None
    assert any("From" in p for p in mail.problems)


def test_two_from_headers_give_no_sender() -> None:
    raw = b"From: a@example.org\r\nFrom: b@example.org\r\nSubject: x\r\n\r\nhi\r\n"
    mail = parse_mail(raw)
    assert mail.sender is None and mail.problems


def test_addresses_and_ids() -> None:
    raw = (
        b'From: ann@example.org\r\nTo: "Doe, John" <john@EXAMPLE.org>, bad@, team: x@y.org;\r\n'
        b"Cc: c@d.org (Carl)\r\nReply-To: <r@example.org>\r\nMessage-ID: bare@host.example\r\n"
        b"In-Reply-To: <a@b> (comment)\r\nReferences: <1@x>\r\n <2@x>\t<3@x> junk\r\n\r\nhi\r\n"
    )
    mail = parse_mail(raw)
    assert mail.to == [Address("Doe, John", "john@example.org"), Address("", "x@y.org")]
    assert mail.cc == [Address("Carl", "c@d.org")]
    assert mail.reply_to == Address("", "r@example.org")
    assert mail.message_id == "<bare@host.example>"
    assert mail.in_reply_to == ["<a@b>"]
    assert mail.references == ["<1@x>", "<2@x>", "<3@x>"]
    assert "unreadable address in To left out" in mail.problems
    assert mail.size == len(raw)


def test_broken_mime_is_recorded() -> None:
    raw = (
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=nothere\r\n\r\n"
        b"no boundary at all\r\n"
    )
    mail = parse_mail(raw)
    assert any(p.startswith("broken MIME") for p in mail.problems)
    assert "no boundary at all" in mail.text


def test_empty_and_garbage_input() -> None:
    for raw in (b"", b"\r\n\r\n", b"\xff\xfe\x00", b"Subject\r\n", b"x" * 100_000):
        mail = parse_mail(raw)
        assert mail.size == len(raw)


# --------------------------------------------------------------------------- trust

TRUSTED = "mx.gateway.example.org"


@pytest.mark.parametrize(
    ("results", "failure"),
    [
        ([f"{TRUSTED}; dkim=fail header.d=example.org; spf=pass"], "dkim=fail"),
        ([f"{TRUSTED} 1; spf=fail (sender not allowed) smtp.mailfrom=x; dkim=none"], "spf=fail"),
        ([f"{TRUSTED}; dmarc=fail; dkim=fail; spf=fail"], "dkim=fail, spf=fail, dmarc=fail"),
        ([f"{TRUSTED}; dkim=pass; spf=pass; dmarc=pass"], None),
        ([f"{TRUSTED}; dkim=fail header.b=abc; dkim=pass header.b=def"], None),
        (["other.example; dkim=fail", f"{TRUSTED}; dkim=pass"], None),
        # each milter may write its own header: a fail in any of the trusted server's counts
        ([f"{TRUSTED}; dkim=pass", f"{TRUSTED}; dkim=fail"], "dkim=fail"),
        ([f"{TRUSTED}; spf=pass", f"{TRUSTED}; dmarc=fail"], "dmarc=fail"),
        ([f"{TRUSTED.upper()}; spf=fail"], "spf=fail"),
        (["other.example; dkim=fail"], None),
    ],
)
def test_auth_failure(results: list[str], failure: str | None) -> None:
    raw = corpus.authenticated(results)
    assert parse_mail(raw, trusted_authserv_id=TRUSTED).auth_failure == failure
    assert parse_mail(raw).auth_failure is None


# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ann@example.org", Address("", "ann@example.org")),
        ("Ann@Example.ORG", Address("", "Ann@example.org")),
        ("Ann Example <ann@example.org>", Address("Ann Example", "ann@example.org")),
        ('"Example, Ann" <ann@example.org>', Address("Example, Ann", "ann@example.org")),
        ('"Ann \\"A\\" E" <ann@example.org>', Address('Ann "A" E', "ann@example.org")),
        ("<ann@example.org>", Address("", "ann@example.org")),
        ("ann@example.org (Ann Example)", Address("Ann Example", "ann@example.org")),
        ("first.last+tag@sub.example.co.uk", Address("", "first.last+tag@sub.example.co.uk")),
        ("=?utf-8?q?J=C3=B6rg?= <j@example.de>", Address("Jörg", "j@example.de")),
        ("ann@bücher.example", Address("", "ann@xn--bcher-kva.example")),
        ("  ann@example.org  ", Address("", "ann@example.org")),
    ],
)
def test_parse_address_accepts(value: str, expected: Address) -> None:
    assert parse_address(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        *corpus.MALFORMED_FROMS,
        "ann@example.org\r\nBcc: x@y.org",
        "ann@exa\x00mple.org",
        "ann@example.org\n",
        "ann@example",
        "ann@192.168.0.1",
        "ann@[192.168.0.1]",
        ".ann@example.org",
        "ann.@example.org",
        '"a b"@example.org',
        "ann@-example.org",
        "ann@example..org",
        "<@relay.example:ann@example.org>",
        "Ann, Bob <ann@example.org>",
        "ann@example.org <bob@example.org>",
        "x" * 65 + "@example.org",
        "a@" + "b" * 250 + ".org",
        "Ann <ann@example.org>>",
        "Ann <<ann@example.org>",
        'Ann "open <ann@example.org>',
    ],
)
def test_parse_address_refuses(value: str) -> None:
    assert parse_address(value) is None


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("Hello\r\nBcc: evil@x", 998, "Hello Bcc: evil@x"),
        ("a\x00b\tc\x7fd\x85e", 998, "a b c d e"),
        ("  many    spaces  ", 998, "many spaces"),
        ("line\u2028sep", 998, "line sep"),
        ("abcdef", 3, "abc"),
        ("ab cdef", 3, "ab"),
        ("", 998, ""),
    ],
)
def test_header_safe(value: str, limit: int, expected: str) -> None:
    assert header_safe(value, limit) == expected


# --------------------------------------------------------------------------- never raises


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_parse_mail_never_raises_on_random_bytes(raw: bytes) -> None:
    mail = parse_mail(raw, trusted_authserv_id=TRUSTED, loop_value="x")
    assert mail.size == len(raw)
    assert "\x00" not in mail.text and "\x00" not in mail.subject
    assert "\n" not in mail.subject and "\r" not in mail.subject


CORPUS = corpus.everything()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(CORPUS)),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    edits=st.integers(min_value=1, max_value=40),
)
def test_parse_mail_never_raises_on_mutated_corpus(name: str, seed: int, edits: int) -> None:
    rng = random.Random(seed)
    data = bytearray(CORPUS[name])
    tokens = [b"\r\n", b"\n--", b"=?", b"?=", b"<", b">", b"\x00", b"\xff", b":", b";", b'"']
    for _ in range(edits):
        position = rng.randrange(len(data) + 1)
        kind = rng.randrange(4)
        if kind == 0 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif kind == 1:
            data[position:position] = rng.choice(tokens)
        elif kind == 2:
            del data[position : position + rng.randrange(1, 20)]
        else:
            data = data[:position] + data[max(0, position - 200) : position] + data[position:]
    mail = parse_mail(bytes(data), trusted_authserv_id=TRUSTED)
    assert "\x00" not in mail.text and "\n" not in mail.subject


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(CORPUS)),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    header=st.sampled_from(
        [
            b"",
            b"Message-ID: <fresh.1@mail.example.org>\r\n",
            b"message-id:\r\n <folded.2@mail.example.org>\r\n",
            b"Message-Id: bare.3@mail.example.org\r\n",
            b"Message-ID: <n\xc3\xa4\xc3\xafve@mail.example.org>\r\n",
            b"Message-ID: <a@b> <second@b>\r\n",
            b"Message-ID: no id here\r\n",
            b"Message-ID : <spaced@mail.example.org>\r\n",
            b"X-Message-ID: <not.it@mail.example.org>\r\n",
        ]
    ),
)
def test_the_listener_reads_the_same_message_id_as_the_parser(
    name: str, seed: int, header: bytes
) -> None:
    """The listener answers an MTA's retry by the id `header_message_id` reads from the headers
    alone; it must be the id the full parse gives, or a retry would become a second ticket."""
    raw = CORPUS[name]
    lines = raw.split(b"\n")
    at = random.Random(seed).randrange(0, 4)
    mutated = b"\n".join([*lines[:at], header.rstrip(b"\n"), *lines[at:]]) if header else raw
    assert header_message_id(mutated) == parse_mail(mutated).message_id


def test_a_typical_reply_parses_fast() -> None:
    body = " ".join(["The transfers failed again this morning with timeouts."] * 30)
    quoted = "\n".join(["Some earlier discussion about the ticket and what was tried."] * 30)
    raw = corpus.outlook_reply(body=body, quoted=quoted)
    parse_mail(raw)
    rounds = 50
    started = time.perf_counter()
    for _ in range(rounds):
        parse_mail(raw)
    assert (time.perf_counter() - started) / rounds < 0.02  # measured ~1.5 ms; loose for CI


def test_html_parts_share_one_conversion_budget() -> None:
    """Five 2 MB HTML parts cost one part's conversion, not five (seconds of CPU each)."""
    message = EmailMessage()
    message["From"] = "ann@example.org"
    message["Subject"] = "html flood"
    message.set_content("plain")
    for _ in range(5):
        message.add_attachment(
            ("<p>x</p>" * 250_000).encode(), maintype="text", subtype="html", disposition="inline"
        )
    parsed = parse_mail(message.as_bytes())
    assert any("past the message's budget" in p for p in parsed.problems)
    assert parsed.text.count("x") <= 2_000_000 // len("<p>x</p>")
