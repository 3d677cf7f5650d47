"""Contract scenarios: the email adapter, pushing deliveries as mail to a real SMTP server the test
starts (`tests/contract/smtp.py`), for a unit that works by mail and for the submitters' channel.

Mail is not HTTP and not searchable: a webhook to a mail connection is refused (mail comes in
through the hub's mail service), and a retried create may send its message again, with the same
Message-ID, which is how mail dedupes.
"""

from __future__ import annotations

from typing import Any

from tests.contract.scenarios import Scenario

PASSWORD = "smtp-s3cret-password"
SENDER = "helpdesk@hub.test"
UNIT = ["ops@ngi-de.test", "oncall@ngi-de.test"]
PLACEHOLDER_PORT = 2525  # `settings_at` puts the port of the test's server instead
SMTP = {
    "sender": SENDER,
    "smtp_host": "127.0.0.1",
    "smtp_port": PLACEHOLDER_PORT,
    "smtp_username": "gateway",
    "smtp_password": {"env": "CONTRACT_SMTP_PASSWORD"},
    "timeout_seconds": 1,  # a lost answer or a hung server costs the suite this long
}


def scenario(
    name: str,
    audience: dict[str, Any],
    *,
    mail_to: list[str],
    invalid: list[tuple[dict[str, Any], str]],
) -> Scenario:
    settings = {**SMTP, **audience}
    bad: list[tuple[dict[str, Any], str]] = [
        ({"sender": "not an address"}, "settings.sender"),
        ({**settings, "sender": f"{SENDER}, other@hub.test"}, "settings.sender"),
        ({**settings, "sender": f"Helpdesk <{SENDER}>"}, "settings.sender"),
        ({**settings, "smtp_port": 0}, "settings.smtp_port"),
        ({**settings, "timeout_seconds": 0}, "settings.timeout_seconds"),
        ({**settings, "tag": "[GGUS]"}, "settings.tag"),
        ({**settings, "colour": "red"}, "settings.colour"),
        ({k: v for k, v in settings.items() if k != "smtp_password"}, "settings"),
        ({k: v for k, v in settings.items() if k != "sender"}, "settings.sender"),
        *invalid,
    ]
    return Scenario(
        name=name,
        kind="email",
        settings=settings,
        environ={"CONTRACT_SMTP_PASSWORD": PASSWORD},
        secret_values=[PASSWORD],
        mapping=None,
        invalid=bad,
        inbound="mail",
        forged={"webhook-id": "msg_1", "webhook-signature": "v1,AAAA", "from": SENDER},
        transport="smtp",
        settings_at=lambda port: {**settings, "smtp_port": port},
        mail_to=tuple(mail_to),
    )


UNIT_SETTINGS: dict[str, Any] = {"audience": "unit", "unit_addresses": UNIT}

SCENARIOS = [
    scenario(
        "email-unit",
        UNIT_SETTINGS,
        mail_to=UNIT,
        invalid=[  # a unit working by mail needs its addresses, and it does not listen
            ({**SMTP, "audience": "unit"}, "settings"),
            ({**SMTP, **UNIT_SETTINGS, "unit_addresses": []}, "settings"),
            (
                {**SMTP, **UNIT_SETTINGS, "unit_addresses": [UNIT[0], "ops"]},
                "settings.unit_addresses",
            ),
            ({**SMTP, **UNIT_SETTINGS, "listen_port": 2526}, "settings"),
        ],
    ),
    scenario(
        "email-submitters",
        {"audience": "submitters"},
        mail_to=["ann@example.org"],
        invalid=[
            ({**SMTP, "audience": "everyone"}, "settings.audience"),
            ({**SMTP, "audience": "submitters", "listen_port": 0}, "settings.listen_port"),
        ],
    ),
]
