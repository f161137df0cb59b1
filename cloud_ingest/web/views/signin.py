"""Sign-in with an API token, and sign-out.

The token is checked by the same lookup as the API's bearer authentication; on success it is
sealed into the session cookie (``session.py``) and the CSRF nonce is renewed. A wrong or
revoked token, an expired or foreign cookie all come back to this page with a message.
"""

from __future__ import annotations

from typing import Annotated

import psycopg
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from cloud_ingest.api.auth import Refused, client_address
from cloud_ingest.web import csrf, session
from cloud_ingest.web.deps import DatabaseDown, web_state
from cloud_ingest.web.render import is_https, page

router = APIRouter()

WHY = {
    "expired": "会话已过期，请重新登录。 Your session expired: please sign in again.",
    "invalid": "登录凭据无效（服务可能已更换密钥），请重新登录。 The sign-in cookie is not valid "
               "(the service's key may have changed): please sign in again.",
    "revoked": "此令牌已失效或已被撤销。 This token is no longer valid (revoked or changed).",
    "signed_out": "已退出登录。 You are signed out.",
}


def safe_next(target: str | None) -> str:
    """Only a path of this site: never a redirect elsewhere (``//evil``, ``https://…``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


@router.get("/signin")
def signin_form(request: Request, next: str | None = None, why: str | None = None) -> Response:
    return page(request, "signin.html", viewer=None, next=safe_next(next), message=WHY.get(why or ""),
                error=None)


@router.post("/signin")
def signin(
    request: Request,
    token: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    web = web_state(request)
    try:
        csrf.check(request, web.keys.csrf, csrf_token)
    except csrf.CsrfRejected as err:
        return page(request, "signin.html", viewer=None, status=403, next=safe_next(next), message=None,
                    error=f"表单已失效，请重试。 {err.why}.")
    limiter = web.limiter()
    address = client_address(request)
    if limiter is not None and (wait := limiter.retry_after(address)) is not None:
        return page(request, "signin.html", viewer=None, status=429, next=safe_next(next), message=None,
                    headers={"Retry-After": str(wait)},
                    error=f"登录失败次数过多，请 {wait} 秒后再试。 Too many failed sign-ins from this "
                          f"address: try again in {wait} s.")
    refused = None
    try:
        principal = web.lookup(token.strip()) if token.strip() else None
    except Refused as err:
        principal, refused = None, str(err)
    except (psycopg.OperationalError, TimeoutError) as err:
        raise DatabaseDown(str(err).strip().splitlines()[0] if str(err).strip() else "unreachable") from err
    if principal is None:
        if not token.strip():
            error = "请输入令牌。 Please enter your token."
        else:
            if limiter is not None:
                limiter.failed(address)
            error = (f"此令牌已失效（{refused}）。 This token no longer opens anything ({refused})."
                     if refused else "令牌无效。 Unknown token: check that you copied all of it.")
        return page(request, "signin.html", viewer=None, status=401, next=safe_next(next), message=None,
                    error=error)
    response = RedirectResponse(safe_next(next), status_code=303)
    secure = is_https(request)
    response.set_cookie(session.COOKIE, session.seal(web.keys, token.strip()), max_age=session.MAX_AGE_S,
                        httponly=True, samesite="strict", secure=secure, path="/")
    csrf.set_cookie(response, csrf.new_nonce(), secure=secure)
    return response


@router.post("/signout")
def signout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    web = web_state(request)
    try:
        csrf.check(request, web.keys.csrf, csrf_token)
    except csrf.CsrfRejected as err:
        return page(request, "error.html", status=403, title="表单已失效 Form expired",
                    detail=f"退出未执行。 You are still signed in: {err.why}.")
    response = RedirectResponse("/signin?why=signed_out", status_code=303)
    secure = is_https(request)
    response.delete_cookie(session.COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
    csrf.set_cookie(response, csrf.new_nonce(), secure=secure)
    return response
