"""The one Microsoft Graph client's rules (mail/graph.py) and the one pace of a send
(mail/send/pacing.py), which sending and reading the mailbox share; their use end to end is in
test_graph_send.py and test_mailbox.py."""

from __future__ import annotations

import pytest

from letter_merge.config import OAuth2Settings
from letter_merge.errors import InputError
from letter_merge.mail.graph import DEFAULT_URL, LONGEST_WAIT_SECONDS, graph_url, retry_after
from letter_merge.mail.send.pacing import Pacer


def test_graph_s_retry_after_is_obeyed_up_to_a_limit_else_the_wait_doubles() -> None:
    assert retry_after("7", 1) == 7.0
    assert retry_after("0", 4) == 0.0
    assert retry_after("-3", 1) == 0.0
    assert retry_after("3600", 1) == LONGEST_WAIT_SECONDS
    assert [retry_after(None, tries) for tries in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 2) == 4.0  # a date: the doubling wait


def test_graph_s_address_is_one_setting_https_only() -> None:
    assert graph_url({}) == (DEFAULT_URL, "")
    national = {"LETTER_MERGE_GRAPH_URL": "https://graph.microsoft.us/v1.0/"}
    assert graph_url(national) == ("https://graph.microsoft.us/v1.0", "LETTER_MERGE_GRAPH_URL")
    with pytest.raises(InputError, match="LETTER_MERGE_GRAPH_URL = 'http://x' must be an https"):
        graph_url({"LETTER_MERGE_GRAPH_URL": "http://x"})


def test_an_app_is_the_client_credentials_flow() -> None:
    assert OAuth2Settings(flow="client-credentials").is_app
    assert not OAuth2Settings(flow="device-code").is_app
    assert not OAuth2Settings(flow="browser").is_app


def test_the_pacer_waits_a_minute_s_share_between_messages() -> None:
    waits: list[float] = []
    pace = Pacer(60, waits.append)
    pace()  # the first goes at once
    assert waits == []
    pace()
    pace()
    assert len(waits) == 2
    assert all(0.9 < wait <= 1.0 for wait in waits)
