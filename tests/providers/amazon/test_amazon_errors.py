"""The Amazon provider's errors: API error responses become clear, retriable or fatal errors."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.errors import FatalProviderError, RetriableProviderError
from providers.amazon import AmazonProvider
from tests.fakes.amazon import GET_ITEMS_PATH, FakeCreatorsApi
from tests.providers.amazon.helpers import FAST, BuildContext, asins, fetch_all

REQUEST_ID = "[request id: fake-request-0001]"


# --- errors --------------------------------------------------------------------------------------

UNAUTHORIZED = {
    "type": "UnauthorizedException",
    "message": "Token is invalid",
    "reason": "InvalidToken",
}
NOT_ELIGIBLE = {
    "type": "AccessDeniedException",
    "message": "Your account is not eligible",
    "reason": "AssociateNotEligible",
}
BAD_ASSOCIATE = {
    "type": "ValidationException",
    "message": "The partner tag is not mapped to a valid associate store",
    "reason": "InvalidAssociate",
}
BAD_FIELD = {
    "type": "ValidationException",
    "message": "itemIds is not valid",
    "reason": "FieldValidationFailed",
}
THROTTLED = {"type": "ThrottleException", "message": "Rate exceeded"}
UNAVAILABLE = {"type": "InternalServerException", "message": "Service unavailable"}
NOW = {"Retry-After": "0"}
WHAT = "amazon getItems batch 1 (2 ASINs)"


@pytest.mark.parametrize(
    ("status", "body", "headers", "times", "error", "message"),
    [
        pytest.param(
            401,
            UNAUTHORIZED,
            {},
            2,
            FatalProviderError,
            f"{WHAT}: authentication failed; check AMAZON_CREATORS_CREDENTIAL_ID, "
            "AMAZON_CREATORS_CREDENTIAL_SECRET and that AMAZON_CREATORS_VERSION is the version "
            "Amazon issued them for (Authentication failed - InvalidToken; Token is invalid "
            f"{REQUEST_ID})",
            id="401-after-one-refresh",
        ),
        pytest.param(
            403,
            NOT_ELIGIBLE,
            {},
            1,
            FatalProviderError,
            f"{WHAT}: access denied; the Associates account may not be eligible for the "
            "Creators API yet (Access denied for the requested operation - "
            f"AssociateNotEligible; Your account is not eligible {REQUEST_ID})",
            id="403",
        ),
        pytest.param(
            400,
            BAD_ASSOCIATE,
            {},
            1,
            FatalProviderError,
            f"{WHAT}: AMAZON_PARTNER_TAG is not a valid tracking id for www.amazon.com "
            "(Credentials are not valid for the selected marketplace - InvalidAssociate; The "
            f"partner tag is not mapped to a valid associate store {REQUEST_ID})",
            id="400-associate",
        ),
        pytest.param(
            400,
            BAD_FIELD,
            {},
            1,
            FatalProviderError,
            f"{WHAT}: request rejected (The request was rejected by Amazon - "
            f"FieldValidationFailed; itemIds is not valid {REQUEST_ID})",
            id="400-validation",
        ),
        pytest.param(
            429,
            THROTTLED,
            NOW,
            4,
            RetriableProviderError,
            f"{WHAT}: rate limited by Amazon after retries; raise [providers.amazon] "
            f"throttling_seconds (Rate limit exceeded, try increasing throttling - Rate "
            f"exceeded {REQUEST_ID})",
            id="429-after-retries",
        ),
        pytest.param(
            503,
            UNAVAILABLE,
            NOW,
            4,
            RetriableProviderError,
            f"{WHAT}: request failed after retries (Request failed with status 503 - Service "
            f"unavailable {REQUEST_ID})",
            id="503-after-retries",
        ),
    ],
)
def test_error_responses_become_clear_errors(
    provider: AmazonProvider,
    fake: FakeCreatorsApi,
    fetch_context: BuildContext,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    times: int,
    error: type[Exception],
    message: str,
) -> None:
    fake.fail_next(status, body, headers, times=times)
    ctx = fetch_context(provider, fake.env(), {**FAST, "asins": asins(2)})

    with pytest.raises(error) as raised:
        fetch_all(provider, ctx)

    assert str(raised.value) == message
    assert len(fake.api_calls()) == times
    assert "Atc|" not in str(raised.value)


def test_rejected_credentials_at_the_token_endpoint_are_fatal(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    env = fake.env(AMAZON_CREATORS_CREDENTIAL_SECRET="wrong-secret")
    ctx = fetch_context(provider, env, {**FAST, "asins": asins(2)})

    with pytest.raises(FatalProviderError, match="authentication failed") as raised:
        fetch_all(provider, ctx)

    assert "OAuth2 token request failed with status 401" in str(raised.value)
    assert "wrong-secret" not in str(raised.value)
    assert fake.api_calls() == []


def test_one_throttled_call_is_retried_by_the_wrapper(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    fake.fail_next(429, THROTTLED, NOW)
    ctx = fetch_context(provider, fake.env(), {**FAST, "asins": asins(2)})

    assert len(fetch_all(provider, ctx)) == 2
    assert len(fake.api_calls(GET_ITEMS_PATH)) == 2
