"""The HTTP shell end to end: signed requests over real HTTP, Web API calls to the local fake."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any

import pytest
import requests
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.app import SLACK_API_URL, BotSettings, create_app
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import sign

from .conftest import BOT_TOKEN, SIGNING_SECRET, StartBot


def register_ping(app: App) -> None:
    @app.command("/omi")
    def ping(ack: Ack) -> None:
        ack("pong")


# ---------------------------------------------------------------------- signing


def test_sign_matches_slack_documented_example() -> None:
    # The worked example of Slack's "Verifying requests from Slack" page.
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = sign(body, "8f742231b10e8888abcd99yyyzzz85a5", timestamp=1531420618)
    assert headers == {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": (
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        ),
    }


# ---------------------------------------------------------------------- Slack endpoint


def test_signed_slash_command_is_acknowledged(start_bot: StartBot) -> None:
    _, slack = start_bot(register_ping)
    response = slack.slash_command("ping")
    assert response.status_code == 200
    assert response.text == "pong"


def test_forged_signature_is_refused(start_bot: StartBot) -> None:
    _, slack = start_bot(register_ping)
    response = slack.slash_command("ping", secret="not-the-signing-secret")
    assert response.status_code == 401
    assert "pong" not in response.text


def test_tampered_body_is_refused(start_bot: StartBot) -> None:
    server, _ = start_bot(register_ping)
    body = "command=%2Fomi&text=ping&user_id=U1&team_id=T1&channel_id=C1&trigger_id=t"
    headers = sign(body, SIGNING_SECRET)
    tampered = body.replace("U1", "U2")
    response = requests.post(
        server.events_url,
        data=tampered,
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 401


def test_signature_older_than_five_minutes_is_refused(start_bot: StartBot) -> None:
    _, slack = start_bot(register_ping)
    six_minutes_ago = int(time.time()) - 6 * 60
    response = slack.slash_command("ping", timestamp=six_minutes_ago)
    assert response.status_code == 401


def test_unsigned_request_is_refused(start_bot: StartBot) -> None:
    server, _ = start_bot(register_ping)
    response = requests.post(
        server.events_url,
        data="command=%2Fomi&text=ping",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"type": "event_callback", "event": {', "application/json"),
        ("[1, 2, 3]", "application/json"),
        ("payload=%7B%22type%22%3A%20%22block_actions%22", "application/x-www-form-urlencoded"),
        ("payload=%5B%5D", "application/x-www-form-urlencoded"),
        ("\udcff", "application/json"),
    ],
    ids=["broken-json", "json-not-object", "broken-payload", "payload-not-object", "not-utf8"],
)
def test_malformed_body_is_400_signed_401_unsigned_one_log_line(
    start_bot: StartBot, body: str, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = start_bot(register_ping)
    raw = body.encode("utf-8", "surrogateescape")
    timestamp = str(int(time.time()))
    # Signed over the raw bytes, as Slack does (sign() takes text, and one body is not UTF-8).
    digest = hmac.new(
        SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + raw, hashlib.sha256
    ).hexdigest()
    signed_headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    with caplog.at_level("INFO"):
        signed = requests.post(server.events_url, data=raw, headers=signed_headers, timeout=10)
        unsigned = requests.post(
            server.events_url, data=raw, headers={"Content-Type": content_type}, timeout=10
        )
    assert (signed.status_code, unsigned.status_code) == (400, 401)
    assert "Traceback" not in signed.text + unsigned.text
    shell = [r for r in caplog.records if r.name == "bot.server"]
    assert [r.levelname for r in shell] == ["WARNING", "WARNING"]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)


def test_url_verification_challenge_is_answered(start_bot: StartBot) -> None:
    _, slack = start_bot()
    response = slack.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_listener_web_api_call_reaches_fake(start_bot: StartBot, fake_slack: FakeSlackAPI) -> None:
    def register(app: App) -> None:
        @app.command("/omi")
        def announce(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
            ack()
            client.chat_postMessage(channel=command["channel_id"], text=f"got {command['text']}")

    _, slack = start_bot(register)
    response = slack.slash_command("hello", channel_id="C42")
    assert response.status_code == 200

    (call,) = fake_slack.wait_for("chat.postMessage")
    assert call.params["channel"] == "C42"
    assert call.params["text"] == "got hello"
    assert call.token == BOT_TOKEN


def test_respond_posts_to_the_payload_response_url(
    start_bot: StartBot, fake_slack: FakeSlackAPI
) -> None:
    def register(app: App) -> None:
        @app.command("/omi")
        def later(ack: Ack, respond: Respond) -> None:
            ack()
            respond(text="done", response_type="ephemeral")

    _, slack = start_bot(register)
    assert slack.slash_command("x").status_code == 200

    (call,) = fake_slack.wait_for("response_url")
    assert call.params["text"] == "done"
    assert slack.last_response_url is not None
    assert slack.last_response_url.endswith(f"/response/{call.name}")


def test_interactivity_and_options_share_the_events_url(start_bot: StartBot) -> None:
    seen: list[str] = []
    done = threading.Event()

    def register(app: App) -> None:
        @app.action("approve")
        def approve(ack: Ack, body: dict[str, Any]) -> None:
            ack()
            seen.append(body["actions"][0]["value"])
            done.set()

        @app.options("omi")
        def options(ack: Ack, payload: dict[str, Any]) -> None:
            text = payload["value"]
            ack(options=[{"text": {"type": "plain_text", "text": text}, "value": text}])

        @app.view("version_form")
        def submitted(ack: Ack, view: dict[str, Any]) -> None:
            value = view["state"]["values"]["notes"]["note"]["value"]
            ack(response_action="errors", errors={"notes": f"rejected: {value}"})

    _, slack = start_bot(register)

    assert slack.block_action("approve", "v-1").status_code == 200
    assert done.wait(5) and seen == ["v-1"]

    loaded = slack.block_suggestion("omi", "ami-12", view={"callback_id": "version_form"})
    assert loaded.status_code == 200
    assert loaded.json()["options"][0]["value"] == "ami-12"

    submitted_response = slack.view_submission(
        {"callback_id": "version_form"},
        state_values={"notes": {"note": {"type": "plain_text_input", "value": "empty"}}},
    )
    assert submitted_response.status_code == 200
    assert submitted_response.json() == {
        "response_action": "errors",
        "errors": {"notes": "rejected: empty"},
    }


def test_event_callback_is_dispatched(start_bot: StartBot) -> None:
    got = threading.Event()

    def register(app: App) -> None:
        @app.event("app_mention")
        def mention(event: dict[str, Any]) -> None:
            if event["text"] == "<@UBOT> hi":
                got.set()

    _, slack = start_bot(register)
    response = slack.event(
        {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "channel": "C1",
         "ts": "1700000000.000100", "event_ts": "1700000000.000100"},
        retry_num=1,
    )
    assert response.status_code == 200
    assert got.wait(5)


# ---------------------------------------------------------------------- health and routing


def test_healthz_ok_and_unavailable(start_bot: StartBot) -> None:
    healthy = threading.Event()
    healthy.set()
    server, _ = start_bot(health=healthy.is_set)

    ok = requests.get(server.url + "/healthz", timeout=10)
    assert (ok.status_code, ok.json()) == (200, {"ok": True})

    healthy.clear()
    down = requests.get(server.url + "/healthz", timeout=10)
    assert (down.status_code, down.json()) == (503, {"ok": False})


def test_healthz_that_raises_is_503_without_traceback(start_bot: StartBot) -> None:
    def broken() -> bool:
        raise RuntimeError("postgresql://user:hunter2@db/omi unreachable")

    server, _ = start_bot(health=broken)
    response = requests.get(server.url + "/healthz", timeout=10)
    assert response.status_code == 503
    assert response.json() == {"ok": False}
    assert "hunter2" not in response.text and "Traceback" not in response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/nope"), ("GET", "/slack/events"), ("POST", "/healthz")],
)
def test_other_paths_are_404(start_bot: StartBot, method: str, path: str) -> None:
    server, _ = start_bot()
    response = requests.request(method, server.url + path, timeout=10)
    assert response.status_code == 404


def test_stop_releases_the_port(start_bot: StartBot) -> None:
    server, _ = start_bot()
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/healthz", timeout=2)


# ---------------------------------------------------------------------- settings


def test_settings_from_env() -> None:
    settings = BotSettings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s3cr3t",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "PORT": "8080",
        }
    )
    assert settings.api_url == "http://127.0.0.1:9/api/"
    assert settings.port == 8080
    assert settings.app_token is None
    assert not settings.uses_real_slack

    defaults = BotSettings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    assert (defaults.api_url, defaults.port) == (SLACK_API_URL, 3000)


@pytest.mark.parametrize("missing", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"])
def test_settings_missing_variable_is_named(missing: str) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-secret-value", "SLACK_SIGNING_SECRET": "signing-value"}
    env[missing] = " "
    with pytest.raises(ValueError, match=missing) as info:
        BotSettings.from_env(env)
    assert "xoxb-secret-value" not in str(info.value)
    assert "signing-value" not in str(info.value)


def test_settings_bad_port() -> None:
    with pytest.raises(ValueError, match="PORT"):
        BotSettings.from_env({"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "y", "PORT": "abc"})


def test_settings_repr_hides_secrets() -> None:
    settings = BotSettings("xoxb-very-secret", "signing-very-secret", "xapp-very-secret",
                           SLACK_API_URL, 3000)
    text = repr(settings) + str(settings)
    assert "very-secret" not in text
    assert "api_url='https://slack.com/api/'" in text


def test_create_app_against_fake_does_not_call_auth_test(
    bot_settings: BotSettings, fake_slack: FakeSlackAPI
) -> None:
    registered: list[App] = []
    app = create_app(bot_settings, registered.append)
    assert registered == [app]
    assert app.client.base_url == fake_slack.url
    assert fake_slack.calls == []


# ---------------------------------------------------------------------- the fake itself


@pytest.fixture
def client(fake_slack: FakeSlackAPI) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=fake_slack.url)


def test_rate_limit_is_honored_by_retry_handler(
    fake_slack: FakeSlackAPI, client: WebClient
) -> None:
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    # slack_sdk only retries 429s when this handler is installed; the bot's client needs it.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))

    response = client.chat_postMessage(channel="C1", text="after the limit")

    assert response["ok"] is True
    first, second = fake_slack.calls_to("chat.postMessage")
    assert second.at - first.at >= 1.0  # waited for Retry-After


def test_rate_limit_without_handler_surfaces_429(
    fake_slack: FakeSlackAPI, client: WebClient
) -> None:
    fake_slack.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.response["error"] == "ratelimited"


def test_failure_injection(fake_slack: FakeSlackAPI, client: WebClient) -> None:
    fake_slack.fail("chat.postMessage", "channel_not_found", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel="C404", text="x")
        assert info.value.response.status_code == 200
        assert info.value.response.data == {"ok": False, "error": "channel_not_found"}
    assert client.chat_postMessage(channel="C404", text="x")["ok"] is True
    assert len(fake_slack.calls_to("chat.postMessage")) == 3


def test_unknown_method_and_bad_token(fake_slack: FakeSlackAPI, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        client.api_call("omi.nothing")
    assert info.value.response["error"] == "unknown_method"

    stranger = WebClient(token="xoxb-other", base_url=fake_slack.url)
    with pytest.raises(SlackApiError) as info:
        stranger.auth_test()
    assert info.value.response["error"] == "invalid_auth"


def test_default_answers(fake_slack: FakeSlackAPI, client: WebClient) -> None:
    auth = client.auth_test()
    assert (auth["user_id"], auth["team_id"]) == ("UBOT", "T1")

    first = client.chat_postMessage(channel="C1", text="one")
    second = client.chat_postMessage(channel="C1", text="two", blocks=[{"type": "divider"}])
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["text"] == "one"
    assert second["message"]["blocks"] == [{"type": "divider"}]

    updated = client.chat_update(channel="C1", ts=first["ts"], text="edited")
    assert updated["ts"] == first["ts"] and updated["message"]["text"] == "edited"
    assert client.chat_postEphemeral(channel="C1", user="U1", text="psst")["message_ts"]

    dm = client.conversations_open(users="U7")["channel"]["id"]
    assert dm.startswith("D")
    assert client.chat_postMessage(channel="U7", text="hi")["channel"] == dm
    assert client.conversations_info(channel="C1")["channel"]["id"] == "C1"
    link = client.chat_getPermalink(channel="C1", message_ts=first["ts"])["permalink"]
    assert "/archives/C1/p" in link


def test_users_and_usergroups(fake_slack: FakeSlackAPI, client: WebClient) -> None:
    fake_slack.set_user("U2", locale="fr-FR", name="marie")
    assert client.users_info(user="U1", include_locale=True)["user"]["locale"] == "en-US"
    marie = client.users_info(user="U2", include_locale=True)["user"]
    assert (marie["locale"], marie["name"]) == ("fr-FR", "marie")
    assert "locale" not in client.users_info(user="U2")["user"]

    fake_slack.set_usergroup("S1", ["U1", "U2"])
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    with pytest.raises(SlackApiError) as info:
        client.usergroups_users_list(usergroup="S404")
    assert info.value.response["error"] == "no_such_subteam"


def modal(blocks: int = 1, title: str = "Publish") -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "version_form",
        "title": {"type": "plain_text", "text": title},
        "blocks": [{"type": "divider"}] * blocks,
    }


def test_views(fake_slack: FakeSlackAPI, client: WebClient) -> None:
    opened = client.views_open(trigger_id="1.2.abc", view={**modal(), "external_id": "ext-1"})
    view = opened["view"]
    assert view["id"].startswith("V") and view["hash"]
    assert view["callback_id"] == "version_form"

    by_id = client.views_update(view_id=view["id"], view=modal(2), hash=view["hash"])
    assert by_id["view"]["id"] == view["id"] and len(by_id["view"]["blocks"]) == 2
    with pytest.raises(SlackApiError) as info:
        client.views_update(view_id=view["id"], view=modal(), hash=view["hash"])  # stale hash
    assert info.value.response["error"] == "hash_conflict"

    by_external = client.views_update(external_id="ext-1", view=modal(3))
    assert by_external["view"]["id"] == view["id"]

    pushed = client.views_push(trigger_id="1.2.def", view=modal())
    assert pushed["view"]["id"] != view["id"]
    home = client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert home["view"]["type"] == "home"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.views_open(trigger_id="", view=modal()), "invalid_arguments"),
        (lambda c: c.views_open(trigger_id="t", view=modal(101)), "invalid_arguments"),
        (lambda c: c.views_open(trigger_id="t", view=modal(title="x" * 25)), "invalid_arguments"),
        (lambda c: c.api_call("views.update", json={"view": modal()}), "invalid_arguments"),
        (lambda c: c.chat_postMessage(channel="", text="x"), "channel_not_found"),
        (lambda c: c.chat_postMessage(channel="C1"), "no_text"),
        (lambda c: c.chat_postMessage(channel="C1", text="x", blocks=[{"type": "divider"}] * 51),
         "invalid_blocks"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_what_slack_rejects(client: WebClient, call: Any, error: str) -> None:
    with pytest.raises(SlackApiError) as info:
        call(client)
    assert info.value.response["error"] == error


def test_delay_and_reset(fake_slack: FakeSlackAPI, client: WebClient) -> None:
    fake_slack.delay("auth.test", 0.2)
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.2
    fake_slack.fail("auth.test", "invalid_auth", times=None)
    fake_slack.reset()
    assert fake_slack.calls == []
    assert client.auth_test()["ok"] is True


def test_response_url_records_json_posts(fake_slack: FakeSlackAPI) -> None:
    url = fake_slack.response_url("cmd-1")
    assert url.endswith("/response/cmd-1")
    answer = requests.post(url, json={"text": "hi", "replace_original": True}, timeout=10)
    assert (answer.status_code, answer.text) == (200, "ok")
    (call,) = fake_slack.calls_to("response_url")
    assert call.name == "cmd-1" and call.params == {"text": "hi", "replace_original": True}
    assert json.loads(json.dumps(call.params))  # plain JSON, no client objects
