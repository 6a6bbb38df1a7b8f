from app.services.runtime import Runtime
from tests.api.client import Api
from tests.support import make_person

VIEWER = "query { viewer { name email } }"


async def test_viewer_reads_own_email(api: Api, runtime: Runtime) -> None:
    carol = await make_person(runtime, "Carol")
    data = await api.ok(VIEWER, token=carol.token)
    assert data["viewer"] == {"name": "Carol", "email": "carol@example.com"}


async def test_viewer_without_token_is_unauthenticated(api: Api) -> None:
    result = await api.raw(VIEWER)
    assert result.codes == ["UNAUTHENTICATED"]
