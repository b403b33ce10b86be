"""The client against ``responses``: request shape and signing, every error path, every retry
sequence, secrets kept out of errors and logs. Nothing sleeps for real (fake clock)."""

from __future__ import annotations

import logging
from http.client import RemoteDisconnected
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from responses.registries import OrderedRegistry
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from marketplace_adapter import License, MarketplaceClient, errors, signing

from .conftest import ENDPOINT
from .test_market_parsing import DEMO_ANSWER

CODE = "SECRET-AUTH-CODE-9Z8Y"
URL = ENDPOINT + "/"


@pytest.fixture
def mocked():
    with responses.RequestsMock(registry=OrderedRegistry,
                                assert_all_requests_are_fired=True) as mock:
        yield mock


def query_of(request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


def _actions(mocked) -> list[str]:
    return [query_of(call.request)["Action"] for call in mocked.calls]


def ok_license(status: str = "INACTIVATED") -> dict:
    body = {"RequestId": "RID-OK", "License": dict(DEMO_ANSWER["License"])}
    body["License"]["LicenseStatus"] = status
    return body


def error_body(code: str, message: str = "failed", request_id: str = "RID-ERR") -> dict:
    return {"RequestId": request_id, "HostId": "market.aliyuncs.com", "Code": code,
            "Message": message, "Recommend": "https://api.aliyun.com/troubleshoot"}


# What requests raises when the request went out (or may have) and its answer did not come back,
# as it raises them over a socket, and the local code each becomes.
LOST_ANSWERS = {
    "read timeout": (requests.exceptions.ReadTimeout("read timed out"), "ReadTimeout"),
    "answer cut off": (requests.exceptions.ChunkedEncodingError("cut off"), "ChunkedEncodingError"),
    "closed without an answer": (requests.exceptions.ConnectionError(ProtocolError(
        "Connection aborted.", RemoteDisconnected("Remote end closed connection without response"))),
        "ConnectionAborted"),
    "reset after sending": (requests.exceptions.ConnectionError(ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))),
        "ConnectionAborted"),
    "body read timeout": (requests.exceptions.ConnectionError(ReadTimeoutError(
        None, "/", "Read timed out.")), "ReadTimeout"),
}
# ... and when it never reached the marketplace.
UNSENT = {
    "refused": (requests.exceptions.ConnectionError(MaxRetryError(
        None, "/", NewConnectionError(None, "Connection refused"))), "ConnectionError"),
    "connect timeout": (requests.exceptions.ConnectTimeout("connect timed out"), "ConnectTimeout"),
}


# ------------------------------------------------------------- request shape and signing


def test_v1_request_is_signed_post_with_params_in_the_query(mocked, make_client, fake_time):
    mocked.post(URL, json=ok_license())
    lic = make_client().describe_license(CODE)
    assert isinstance(lic, License) and lic.code == CODE and lic.status == "INACTIVATED"

    request = mocked.calls[0].request
    assert request.method == "POST"
    assert urlsplit(request.url).path == "/"
    assert not request.body
    params = query_of(request)
    assert params.pop("Signature") == signing.sign_v1("POST", params, "testsecret")
    assert params == {
        "AccessKeyId": "testid", "Action": "DescribeLicense", "Format": "JSON",
        "LicenseCode": CODE, "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": params["SignatureNonce"], "SignatureVersion": "1.0",
        "Timestamp": "2024-01-01T12:00:00Z", "Version": "2015-11-01",
    }
    assert request.req_kwargs["timeout"] == 10.0


def test_v1_query_is_sent_exactly_in_canonical_form(mocked, make_client):
    mocked.post(URL, json=ok_license())
    make_client(nonce_factory=lambda: "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf").describe_license("ABC")
    query = urlsplit(mocked.calls[0].request.url).query
    # Case A of the reference, signed with POST.
    assert query == (
        "AccessKeyId=testid&Action=DescribeLicense&Format=JSON&LicenseCode=ABC"
        "&SignatureMethod=HMAC-SHA1&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
        "&SignatureVersion=1.0&Timestamp=2024-01-01T12%3A00%3A00Z&Version=2015-11-01"
        "&Signature=P22QXVDDMbe5mRoSyczxJO%2Bh41U%3D"
    )


def test_v1_tricky_code_and_sts_token(mocked, make_client):
    mocked.post(URL, json={"RequestId": "R", "Success": True})
    client = make_client(security_token="sts/token+with=special*chars~ok")
    assert client.activate_license("a b*c~d+e/f=g&h%i中", 1234567890123456) is True
    params = query_of(mocked.calls[0].request)
    assert params["LicenseCode"] == "a b*c~d+e/f=g&h%i中"
    assert params["Identification"] == "1234567890123456"
    assert params["SecurityToken"] == "sts/token+with=special*chars~ok"
    assert params.pop("Signature") == signing.sign_v1("POST", params, "testsecret")


def test_v3_request_headers_and_authorization(mocked, make_client):
    mocked.post(URL, json={"RequestId": "R", "Success": "true"})
    client = make_client(signature_version="v3", security_token="sts-token")
    assert client.activate_license(CODE, "1234567890123456") is True
    request = mocked.calls[0].request
    assert query_of(request) == {"LicenseCode": CODE, "Identification": "1234567890123456"}
    headers = request.headers
    assert headers["x-acs-action"] == "ActivateLicense"
    assert headers["x-acs-version"] == "2015-11-01"
    assert headers["x-acs-date"] == "2024-01-01T12:00:00Z"
    assert headers["x-acs-content-sha256"] == signing.EMPTY_SHA256
    assert headers["x-acs-security-token"] == "sts-token"
    assert headers["Host"] == "market.aliyuncs.com"
    assert "json" in headers["Accept"]
    auth = signing.parse_authorization_v3(headers["Authorization"])
    assert auth.access_key_id == "testid"
    assert set(auth.signed_headers) == {"host", "x-acs-action", "x-acs-content-sha256",
                                        "x-acs-date", "x-acs-signature-nonce", "x-acs-version",
                                        "x-acs-security-token"}
    signed = {name: headers[name] for name in auth.signed_headers}
    assert headers["Authorization"] == signing.authorization_v3(
        "POST", "/", query_of(request), signed, "testid", "testsecret")


def test_endpoint_with_a_port_is_signed_with_the_port(mocked, make_client):
    mocked.post("http://127.0.0.1:8089/", json=ok_license())
    make_client(endpoint="http://127.0.0.1:8089", signature_version="v3").describe_license("ABC")
    request = mocked.calls[0].request
    assert request.headers["Host"] == "127.0.0.1:8089"
    assert request.url.startswith("http://127.0.0.1:8089/?")


@pytest.mark.parametrize(
    "endpoint",
    ["market.aliyuncs.com", "ftp://market.aliyuncs.com", "https://market.aliyuncs.com/api",
     "https://market.aliyuncs.com/?x=1", "https://"],
)
def test_bad_endpoints_are_refused(endpoint):
    with pytest.raises(ValueError):
        MarketplaceClient("id", "secret", endpoint=endpoint)


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        MarketplaceClient("id", "secret", signature_version="v2")
    with pytest.raises(ValueError):
        MarketplaceClient("", "secret")
    with pytest.raises(ValueError):
        MarketplaceClient("id", "secret", timeout=0)
    with pytest.raises(ValueError):
        MarketplaceClient("id", "secret").describe_license("  ")


def test_trailing_slash_on_the_endpoint_is_fine(mocked, make_client):
    mocked.post(URL, json=ok_license())
    make_client(endpoint=ENDPOINT + "/").describe_license(CODE)
    assert mocked.calls[0].request.url.startswith(URL + "?")


def test_injected_session_is_used_as_given_and_not_closed(mocked, make_client):
    class CountingSession(requests.Session):
        sent = 0
        closed = False

        def send(self, request, **kwargs):
            CountingSession.sent += 1
            return super().send(request, **kwargs)

        def close(self):
            CountingSession.closed = True
            super().close()

    mocked.post(URL, json=ok_license())
    mocked.post(URL, json=ok_license())
    session = CountingSession()
    with make_client(session=session) as client:
        assert client.session is session
        client.describe_license(CODE)
        client.describe_license(CODE)
    assert CountingSession.sent == 2
    assert not CountingSession.closed


def test_own_session_is_reused_and_closed():
    client = MarketplaceClient("id", "secret")
    session = client.session
    assert isinstance(session, requests.Session)
    client.close()
    assert client.session is session


def test_repr_hides_the_secret():
    client = MarketplaceClient("LTAIexampleid", "very-secret-value", security_token="tok")
    assert "very-secret-value" not in repr(client) and "tok" not in repr(client)


# ------------------------------------------------------------- error paths

ERROR_CASES = [
    ("License.NotFound", 400, errors.CodeNotFound),
    ("License.Invalid", 400, errors.CodeInvalid),
    ("License.Expired", 400, errors.CodeExpired),
    ("License.Discard", 400, errors.CodeDiscarded),
    ("Auth.Match", 400, errors.CodeNotForThisSeller),
    ("Auth.ISV.Error", 400, errors.CredentialsRejected),
    ("Auth.ISV", 400, errors.CredentialsRejected),
    ("Auth.SubAccount.Error", 400, errors.CredentialsRejected),
    ("Auth.CallerType", 400, errors.CredentialsRejected),
    ("Auth.Authorized", 400, errors.CredentialsRejected),
    ("InvalidAccessKeyId.NotFound", 404, errors.CredentialsRejected),
    ("InvalidAccessKeyId.Inactive", 400, errors.CredentialsRejected),
    ("SignatureDoesNotMatch", 400, errors.CredentialsRejected),
    ("InvalidTimeStamp.Expired", 400, errors.CredentialsRejected),
    ("SignatureNonceUsed", 400, errors.CredentialsRejected),
    ("Some.Undocumented", 400, errors.MarketplaceError),
]


@pytest.mark.parametrize("operation", ["describe", "activate"])
@pytest.mark.parametrize(("code", "status", "cls"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_4xx_errors_raise_their_class_once_without_retry(mocked, make_client, fake_time, operation,
                                                         code, status, cls):
    mocked.post(URL, status=status, json=error_body(code, "the message", "RID-42"))
    client = make_client()
    with pytest.raises(cls) as caught:
        if operation == "describe":
            client.describe_license(CODE)
        else:
            client.activate_license(CODE, "123")
    error = caught.value
    assert type(error) is cls
    assert (error.code, error.request_id, error.http_status) == (code, "RID-42", status)
    assert "the message" in error.message
    assert error.advice
    assert len(mocked.calls) == 1 and fake_time.sleeps == []


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [("Throttling", 400, errors.Throttled), ("Throttling.User", 400, errors.Throttled),
     ("Service.Flow.Control", 503, errors.Throttled), (None, 429, errors.Throttled),
     ("InternalError", 500, errors.MarketplaceUnavailable),
     ("ServiceUnavailable", 503, errors.MarketplaceUnavailable),
     (None, 502, errors.MarketplaceUnavailable)],
)
def test_retryable_errors_are_retried_up_to_max_attempts(mocked, make_client, fake_time, code,
                                                         status, cls):
    for _ in range(3):
        if code:
            mocked.post(URL, status=status, json=error_body(code))
        else:
            mocked.post(URL, status=status, body="<html>gateway</html>")
    with pytest.raises(cls) as caught:
        make_client(max_attempts=3).describe_license(CODE)
    assert caught.value.http_status == status
    assert len(mocked.calls) == 3
    assert len(fake_time.sleeps) == 2


def test_not_json_success_is_a_bad_response(mocked, make_client):
    mocked.post(URL, body="<html>portal</html>", content_type="text/html",
                headers={"x-acs-request-id": "RID-H"})
    with pytest.raises(errors.BadResponse) as caught:
        make_client().describe_license(CODE)
    assert caught.value.request_id == "RID-H" and caught.value.http_status == 200
    assert len(mocked.calls) == 1


def test_json_nested_past_what_python_parses_is_a_bad_response(mocked, make_client):
    """Issue 11: the parser's RecursionError is not a ValueError; the answer is unreadable all the same."""
    mocked.post(URL, body="[" * 100_000, content_type="application/json")
    with pytest.raises(errors.BadResponse):
        make_client().describe_license(CODE)


def test_xml_answer_is_a_bad_response(mocked, make_client):
    mocked.post(URL, body="<?xml version='1.0'?><DescribeLicenseResponse/>",
                content_type="text/xml")
    with pytest.raises(errors.BadResponse):
        make_client().describe_license(CODE)


@pytest.mark.parametrize("body", [{"RequestId": "R"}, {"RequestId": "R", "License": {}}, [1, 2]])
def test_missing_fields_are_bad_responses(mocked, make_client, body):
    mocked.post(URL, json=body)
    with pytest.raises(errors.BadResponse):
        make_client().describe_license(CODE)


def test_activate_without_success_is_a_bad_response(mocked, make_client):
    mocked.post(URL, json={"RequestId": "R"})
    with pytest.raises(errors.BadResponse):
        make_client().activate_license(CODE, "1")


def test_error_shaped_200_is_an_error(mocked, make_client):
    mocked.post(URL, json=error_body("License.NotFound"))
    with pytest.raises(errors.CodeNotFound):
        make_client().describe_license(CODE)


def test_html_404_is_a_bad_response(mocked, make_client):
    mocked.post(URL, status=404, body="<html>not found</html>")
    with pytest.raises(errors.BadResponse) as caught:
        make_client().describe_license(CODE)
    assert caught.value.http_status == 404


def test_redirect_is_not_followed(mocked, make_client):
    mocked.post(URL, status=302, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(errors.BadResponse):
        make_client().describe_license(CODE)


def test_request_id_from_header_when_body_has_none(mocked, make_client):
    mocked.post(URL, status=400, json={"Code": "License.NotFound", "Message": "m"},
                headers={"x-acs-request-id": "RID-HEADER"})
    with pytest.raises(errors.CodeNotFound) as caught:
        make_client().describe_license(CODE)
    assert caught.value.request_id == "RID-HEADER"


@pytest.mark.parametrize("success", [False, "false"])
def test_activate_success_false(mocked, make_client, success):
    mocked.post(URL, json={"RequestId": "R", "Success": success})
    assert make_client().activate_license(CODE, "1") is False


def test_activate_without_identification_sends_none(mocked, make_client):
    mocked.post(URL, json={"RequestId": "R", "Success": True})
    assert make_client().activate_license(CODE, None) is True
    assert "Identification" not in query_of(mocked.calls[0].request)


@pytest.mark.parametrize("status", ["EXPIRED", "DISCARD"])
def test_dead_codes_as_200_are_licenses_not_errors(mocked, make_client, status):
    mocked.post(URL, json=ok_license(status))
    lic = make_client().describe_license(CODE)
    assert lic.status == status and not lic.is_live()


# ------------------------------------------------------------- retry sequences


def test_5xx_then_success(mocked, make_client, fake_time):
    mocked.post(URL, status=503, json=error_body("ServiceUnavailable"))
    mocked.post(URL, json=ok_license())
    assert make_client().describe_license(CODE).status == "INACTIVATED"
    assert len(fake_time.sleeps) == 1 and 0.125 <= fake_time.sleeps[0] <= 0.25


def test_connection_errors_then_success(mocked, make_client, fake_time):
    mocked.post(URL, body=requests.exceptions.ConnectionError("refused"))
    mocked.post(URL, body=requests.exceptions.ConnectTimeout("slow connect"))
    mocked.post(URL, json=ok_license())
    assert make_client().describe_license(CODE)
    assert len(mocked.calls) == 3
    first, second = fake_time.sleeps
    assert 0.125 <= first <= 0.25 and 0.25 <= second <= 0.5  # exponential


def test_each_attempt_is_signed_anew(mocked, make_client, fake_time):
    # Waits of 2 s (x-acs-retry-after) move the fake clock on, so a reused timestamp would show.
    for _ in range(2):
        mocked.post(URL, status=400, json=error_body("Throttling.User"),
                    headers={"x-acs-retry-after": "2000"})
    mocked.post(URL, json=ok_license())
    nonces = iter(["n1", "n2", "n3"])
    make_client(nonce_factory=lambda: next(nonces)).describe_license(CODE)
    seen = [query_of(call.request) for call in mocked.calls]
    assert [params["SignatureNonce"] for params in seen] == ["n1", "n2", "n3"]
    assert [params["Timestamp"] for params in seen] == [
        "2024-01-01T12:00:00Z", "2024-01-01T12:00:02Z", "2024-01-01T12:00:04Z"]
    assert len({params["Signature"] for params in seen}) == 3
    for params in seen:
        assert params.pop("Signature") == signing.sign_v1("POST", params, "testsecret")


def test_v3_retries_are_signed_anew(mocked, make_client):
    mocked.post(URL, status=400, json=error_body("Throttling"), headers={"x-acs-retry-after": "3000"})
    mocked.post(URL, json=ok_license())
    make_client(signature_version="v3").describe_license(CODE)
    headers = [call.request.headers for call in mocked.calls]
    assert len({h["x-acs-signature-nonce"] for h in headers}) == 2
    assert [h["x-acs-date"] for h in headers] == ["2024-01-01T12:00:00Z", "2024-01-01T12:00:03Z"]
    for h in headers:
        signed = {name: h[name] for name in signing.parse_authorization_v3(h["Authorization"])
                  .signed_headers}
        assert h["Authorization"] == signing.authorization_v3(
            "POST", "/", {"LicenseCode": CODE}, signed, "testid", "testsecret")


def test_throttling_honours_retry_after(mocked, make_client, fake_time):
    mocked.post(URL, status=400, json=error_body("Throttling.User"),
                headers={"x-acs-retry-after": "2000"})
    mocked.post(URL, json=ok_license())
    make_client().describe_license(CODE)
    assert fake_time.sleeps == [2.0]


def test_throttled_error_carries_retry_after(mocked, make_client):
    mocked.post(URL, status=400, json=error_body("Throttling"), headers={"x-acs-retry-after": "1500"})
    with pytest.raises(errors.Throttled) as caught:
        make_client(max_attempts=1).describe_license(CODE)
    assert caught.value.retry_after == 1.5


def test_retry_after_beyond_the_deadline_gives_up_at_once(mocked, make_client, fake_time):
    mocked.post(URL, status=400, json=error_body("Throttling.User"),
                headers={"x-acs-retry-after": "60000"})
    with pytest.raises(errors.Throttled) as caught:
        make_client(deadline=30).describe_license(CODE)
    assert caught.value.retry_after == 60.0
    assert fake_time.sleeps == [] and len(mocked.calls) == 1


def test_deadline_bounds_the_retries(mocked, make_client, fake_time):
    for _ in range(4):
        mocked.post(URL, status=503, json=error_body("ServiceUnavailable"))
    mocked.assert_all_requests_are_fired = False
    with pytest.raises(errors.MarketplaceUnavailable):
        make_client(max_attempts=50, deadline=1.0, backoff_base=0.3, backoff_cap=0.3).describe_license(CODE)
    assert sum(fake_time.sleeps) < 1.0
    assert len(mocked.calls) == len(fake_time.sleeps) + 1 < 50


def test_attempt_timeout_shrinks_to_the_remaining_deadline(mocked, make_client, fake_time):
    mocked.post(URL, status=503, json=error_body("ServiceUnavailable"))
    mocked.post(URL, json=ok_license())
    make_client(timeout=10.0, deadline=5.0, backoff_base=1.0, backoff_cap=1.0).describe_license(CODE)
    first, second = (call.request.req_kwargs["timeout"] for call in mocked.calls)
    assert first == 5.0
    assert second == pytest.approx(5.0 - fake_time.sleeps[0])


@pytest.mark.parametrize("failure", {**LOST_ANSWERS, **UNSENT}.values(),
                         ids=[*LOST_ANSWERS, *UNSENT])
def test_describe_is_retried_after_any_transport_failure(mocked, make_client, failure):
    exception, local_code = failure
    mocked.post(URL, body=exception)
    mocked.post(URL, json=ok_license())
    assert make_client().describe_license(CODE).status == "INACTIVATED"
    assert _actions(mocked) == ["DescribeLicense"] * 2


@pytest.mark.parametrize("failure", {**LOST_ANSWERS, **UNSENT}.values(),
                         ids=[*LOST_ANSWERS, *UNSENT])
def test_transport_failure_carries_its_local_code(mocked, make_client, failure):
    exception, local_code = failure
    mocked.post(URL, body=exception)
    with pytest.raises(errors.MarketplaceUnavailable) as caught:
        make_client(max_attempts=1).describe_license(CODE)
    assert caught.value.code == local_code and caught.value.http_status is None


def test_read_timeouts_exhausted_raise_unavailable(mocked, make_client):
    for _ in range(2):
        mocked.post(URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(errors.MarketplaceUnavailable) as caught:
        make_client(max_attempts=2).describe_license(CODE)
    assert caught.value.code == "ReadTimeout"


def test_ssl_errors_are_not_retried(mocked, make_client):
    mocked.post(URL, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(errors.MarketplaceUnavailable) as caught:
        make_client().describe_license(CODE)
    assert caught.value.code == "SSLError" and len(mocked.calls) == 1


def test_activate_5xx_then_success(mocked, make_client):
    mocked.post(URL, status=503, json=error_body("ServiceUnavailable"))
    mocked.post(URL, json={"RequestId": "R", "Success": True})
    assert make_client().activate_license(CODE, "1") is True


@pytest.mark.parametrize("failure", UNSENT.values(), ids=list(UNSENT))
def test_activate_that_never_went_out_is_sent_again_without_reading(mocked, make_client, failure):
    mocked.post(URL, body=failure[0])
    mocked.post(URL, json={"RequestId": "R", "Success": True})
    assert make_client().activate_license(CODE, "1") is True
    assert _actions(mocked) == ["ActivateLicense", "ActivateLicense"]


@pytest.mark.parametrize("failure", LOST_ANSWERS.values(), ids=list(LOST_ANSWERS))
def test_activate_lost_answer_resolved_by_reading_activated(mocked, make_client, failure):
    mocked.post(URL, body=failure[0])
    mocked.post(URL, json=ok_license("ACTIVATED"))
    assert make_client().activate_license(CODE, "1") is True
    assert _actions(mocked) == ["ActivateLicense", "DescribeLicense"]


def test_activate_read_timeout_not_activated_sends_again(mocked, make_client):
    mocked.post(URL, body=requests.exceptions.ReadTimeout("lost request"))
    mocked.post(URL, json=ok_license("INACTIVATED"))
    mocked.post(URL, json={"RequestId": "R", "Success": True})
    assert make_client().activate_license(CODE, "1") is True
    assert _actions(mocked) == ["ActivateLicense", "DescribeLicense", "ActivateLicense"]


def test_activate_read_timeout_with_no_attempts_left(mocked, make_client):
    mocked.post(URL, body=requests.exceptions.ReadTimeout("lost request"))
    mocked.post(URL, json=ok_license("INACTIVATED"))
    with pytest.raises(errors.MarketplaceUnavailable) as caught:
        make_client(max_attempts=1).activate_license(CODE, "1")
    assert caught.value.code == "ReadTimeout"
    assert _actions(mocked) == ["ActivateLicense", "DescribeLicense"]


def test_activate_read_timeout_and_the_read_fails_too(mocked, make_client):
    mocked.post(URL, body=requests.exceptions.ReadTimeout("lost"))
    for _ in range(3):
        mocked.post(URL, status=503, json=error_body("ServiceUnavailable"))
    with pytest.raises(errors.MarketplaceUnavailable) as caught:
        make_client().activate_license(CODE, "1")
    assert caught.value.code == "ReadTimeout"
    assert "unknown" in caught.value.message
    assert _actions(mocked) == ["ActivateLicense"] + ["DescribeLicense"] * 3


def test_activate_read_timeout_then_code_not_found_is_raised(mocked, make_client):
    mocked.post(URL, body=requests.exceptions.ReadTimeout("lost"))
    mocked.post(URL, status=400, json=error_body("License.NotFound"))
    with pytest.raises(errors.CodeNotFound):
        make_client().activate_license(CODE, "1")


def test_activate_read_timeouts_every_time(mocked, make_client):
    for _ in range(3):
        mocked.post(URL, body=requests.exceptions.ReadTimeout("lost"))
        mocked.post(URL, json=ok_license("INACTIVATED"))
    with pytest.raises(errors.MarketplaceUnavailable):
        make_client(max_attempts=3).activate_license(CODE, "1")
    assert _actions(mocked) == ["ActivateLicense", "DescribeLicense"] * 3


# ------------------------------------------------------------- nothing secret leaks


def test_no_code_or_secret_in_errors_or_logs(mocked, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    string_to_sign = signing.string_to_sign_v1("POST", {"LicenseCode": CODE, "x": "y"})
    mocked.post(URL, status=400, json=error_body(
        "SignatureDoesNotMatch",
        f"Specified signature is not matched. server string to sign is:{string_to_sign} "
        f"code {CODE} secret testsecret"))
    mocked.post(URL, body=requests.exceptions.ConnectionError(
        f"HTTPSConnectionPool: Max retries exceeded with url: /?LicenseCode={CODE}&Signature=x"))
    mocked.post(URL, body=requests.exceptions.ConnectionError(f"/?LicenseCode={CODE}"))
    mocked.post(URL, body=requests.exceptions.ConnectionError(f"/?LicenseCode={CODE}"))
    client = make_client()
    raised = []
    for _ in range(2):
        try:
            client.describe_license(CODE)
        except errors.MarketplaceError as exc:
            raised.append(exc)
    assert [type(exc) for exc in raised] == [errors.CredentialsRejected,
                                              errors.MarketplaceUnavailable]
    texts = [str(exc) for exc in raised] + [repr(exc) for exc in raised]
    texts += [exc.message for exc in raised] + [record.getMessage() for record in caplog.records]
    assert caplog.records, "the client logs its attempts"
    for text in texts:
        assert "SECRET-AUTH" not in text and "testsecret" not in text, text
    assert "****9Z8Y" in str(raised[0])
    for exc in raised:
        assert exc.__cause__ is None and exc.__context__ is None


def test_proxy_from_the_environment_is_used(mocked, make_client, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    mocked.post(URL, json=ok_license())
    make_client().describe_license(CODE)
    assert mocked.calls[0].request.req_kwargs["proxies"].get("https") == "http://proxy.example:3128"



def test_the_environment_settings_are_worked_out_once_and_a_change_is_still_seen(
        mocked, make_client, monkeypatch):
    """Issue 12: the proxies and CA bundle from the environment are not worked out anew for each
    call (requests scans the whole environment for them), yet a changed variable applies."""
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    client = make_client()
    worked_out = []
    real = client.session.merge_environment_settings
    monkeypatch.setattr(client.session, "merge_environment_settings",
                        lambda *a: worked_out.append(1) or real(*a))
    for _ in range(4):
        mocked.post(URL, json=ok_license())
    client.describe_license(CODE)
    client.describe_license(CODE)
    assert len(worked_out) == 1
    assert not mocked.calls[1].request.req_kwargs["proxies"].get("https")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    client.describe_license(CODE)
    assert mocked.calls[2].request.req_kwargs["proxies"].get("https") == "http://proxy.example:3128"
    client.session.verify = "/etc/ssl/other-bundle.pem"
    client.describe_license(CODE)
    assert mocked.calls[3].request.req_kwargs["verify"] == "/etc/ssl/other-bundle.pem"
    assert len(worked_out) == 3
