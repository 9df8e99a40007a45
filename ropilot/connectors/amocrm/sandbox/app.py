"""The sandbox's Flask application: amoCRM API v4 routes, OAuth, limits and faults."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, request

from ropilot.connectors.amocrm.sandbox import render
from ropilot.connectors.amocrm.sandbox.auth import OAuthError, oauth_error
from ropilot.connectors.amocrm.sandbox.limits import (
    FORBIDDEN_BODY,
    TOO_MANY_BODY,
    Fault,
    nginx_page,
)
from ropilot.connectors.amocrm.sandbox.query import (
    as_int,
    parse_brackets,
    with_values,
)
from ropilot.connectors.amocrm.sandbox.state import (
    BadRequest,
    SandboxState,
    ValidationFailed,
)

HAL = "application/hal+json"
PROBLEM = "application/problem+json"
_CLOUD_HOSTS = (".amocrm.ru", ".amocrm.com", ".kommo.com")
ENTITY_RE = "any(leads,contacts,companies)"


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def hal(obj: Any, status: int = 200) -> Response:
    """A success answer (``application/hal+json``)."""
    return Response(_dump(obj), status=status, content_type=HAL)


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    """An error answer (``application/problem+json``)."""
    body = {
        **extra,
        "title": title,
        "type": f"https://httpstatus.es/{status}",
        "status": status,
        "detail": detail,
    }
    return Response(_dump(body), status=status, content_type=PROBLEM)


def unauthorized() -> Response:
    """401 for a missing, invalid or expired Bearer token (verbatim amoCRM body)."""
    return problem(401, "Unauthorized", "Неверный логин или пароль")


def no_content() -> Response:
    """204 with an empty body and no Content-Type."""
    response = Response(status=204)
    response.headers.pop("Content-Type", None)
    return response


def html(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    """A non-JSON answer (nginx pages for 403, 429 and 5xx)."""
    return Response(body, status=status, content_type="text/html", headers=headers or {})


def validation_failed(errors: list[dict[str, Any]]) -> Response:
    """400 with amoCRM's ``validation-errors`` body."""
    body = {
        "validation-errors": errors,
        "title": "Bad Request",
        "type": "https://httpstatus.es/400",
        "status": 400,
        "detail": "Request validation failed",
    }
    return Response(_dump(body), status=400, content_type=PROBLEM)


def create_app(state: SandboxState) -> Flask:
    """The Flask app serving ``state`` (one account)."""
    app = Flask("ropilot.connectors.amocrm.sandbox")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024

    def base() -> str:
        return request.host_url.rstrip("/")

    def args() -> dict[str, Any]:
        return parse_brackets(request.args.items(multi=True))

    def withs() -> set[str]:
        return with_values(args().get("with"))

    def user_id() -> int:
        claims = getattr(g, "claims", None) or {}
        return as_int(claims.get("sub")) or state.current_user_id

    def body() -> Any:
        raw = request.get_data(cache=True)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("The request body is not valid JSON") from None

    def fault_response(fault: Fault) -> Response:
        if fault.delay > 0:
            time.sleep(fault.delay)
        status = fault.status
        if status == 0:
            sock = request.environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            return html(502, nginx_page(502))
        headers = dict(fault.headers)
        if fault.body is not None:
            response = Response(
                fault.body, status=status, content_type=fault.content_type or "text/html"
            )
        elif status == 204:
            response = no_content()
        elif status == 401:
            response = unauthorized()
        elif status == 402:
            response = problem(402, "Payment Required", "Аккаунт не оплачен")
        elif status == 403:
            response = html(403, FORBIDDEN_BODY)
        elif status == 429:
            response = html(429, TOO_MANY_BODY)
            if state.config.retry_after is not None:
                response.headers["Retry-After"] = str(state.config.retry_after)
        elif status >= 500:
            response = html(status, nginx_page(status))
        elif status == 400:
            response = problem(400, "Bad Request", "Bad request")
        else:
            response = problem(status, "Error", f"Planned fault {status}")
        for key, value in headers.items():
            response.headers[key] = value
        return response

    @app.before_request
    def gate() -> Response | None:
        state.sync_switches()
        cfg = state.config
        if state.limiter.blocked:
            return html(403, FORBIDDEN_BODY)
        api = request.path.startswith("/api/")
        host = request.host.split(":")[0].lower()
        if api and host.endswith(_CLOUD_HOSTS) and host.split(".")[0] != state.subdomain:
            return unauthorized()
        if cfg.latency > 0:
            time.sleep(cfg.latency)
        claims = None
        if api:
            with state.lock:
                claims = state.auth.check_bearer(request.headers.get("Authorization"))
            key = str(claims.get("aud")) if claims else "anonymous"
            if not state.limiter.check(key):
                response = html(429, TOO_MANY_BODY)
                if cfg.retry_after is not None:
                    response.headers["Retry-After"] = str(cfg.retry_after)
                return response
        fault = state.faults.take(request.method, request.path)
        if fault is not None:
            return fault_response(fault)
        if api:
            if cfg.payment_required:
                return problem(402, "Payment Required", "Аккаунт не оплачен")
            if claims is None:
                return unauthorized()
            g.claims = claims
        return None

    @app.errorhandler(BadRequest)
    def _bad_request(exc: BadRequest) -> Response:
        return problem(400, "Bad Request", str(exc))

    @app.errorhandler(ValidationFailed)
    def _invalid(exc: ValidationFailed) -> Response:
        return validation_failed(exc.errors)

    @app.errorhandler(404)
    def _not_found(_exc: Exception) -> Response:
        return problem(404, "Not Found", "Not found")

    @app.errorhandler(405)
    def _not_allowed(_exc: Exception) -> Response:
        return problem(405, "Method Not Allowed", "Method not allowed")

    # ------------------------------------------------------------------ paging ----------
    def paged(
        ids: list[Any],
        key: str,
        render_one: Callable[[Any], dict[str, Any]],
        *,
        max_limit: int = 250,
        default_limit: int = 50,
        totals: bool = False,
    ) -> Response:
        a = args()
        page = as_int(a.get("page")) or 1
        page = max(page, 1)
        limit = as_int(a.get("limit")) or default_limit
        limit = min(max(limit, 1), max_limit)
        start = (page - 1) * limit
        chunk = ids[start : start + limit]
        if not chunk:
            return no_content()
        others = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "limit")]

        def href(n: int) -> dict[str, str]:
            query = urlencode([*others, ("limit", str(limit)), ("page", str(n))], safe="[],")
            return {"href": f"{base()}{request.path}?{query}"}

        links: dict[str, Any] = {"self": href(page)}
        if start + limit < len(ids):
            links["next"] = href(page + 1)
        if page > 1:
            links["first"] = href(1)
            links["prev"] = href(page - 1)
        page_count = (len(ids) + limit - 1) // limit
        out: dict[str, Any] = {}
        if totals:
            out["_total_items"] = len(ids)
        out["_page"] = page
        if totals:
            out["_page_count"] = page_count
            links["last"] = href(page_count)
        out["_links"] = links
        out["_embedded"] = {key: [render_one(i) for i in chunk]}
        return hal(out)

    def self_links(path: str) -> dict[str, Any]:
        return render.link(base(), path)

    # ------------------------------------------------------------------ OAuth -----------
    @app.post("/oauth2/access_token")
    def access_token() -> Response:
        raw = request.get_data(cache=True)
        payload: Any
        try:
            payload = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            payload = None
        if payload is None and request.form:
            payload = request.form.to_dict()
        try:
            with state.lock:
                pair = state.auth.token_request(payload, request.host)
        except OAuthError as exc:
            return Response(_dump(exc.body), status=exc.status, content_type="application/json")
        return Response(_dump(pair.as_json()), status=200, content_type="application/json")

    @app.get("/oauth2/account/current/subdomain")
    def current_subdomain() -> Response:
        token = request.headers.get("X-Refresh-Token", "")
        with state.lock:
            ok = bool(token) and state.auth.refresh_token_valid(token)
        if not ok:
            body = oauth_error(401, "Unauthorized", "Refresh token is invalid")
            return Response(_dump(body), status=401, content_type="application/json")
        return Response(
            _dump(
                {
                    "id": state.account["id"],
                    "subdomain": state.subdomain,
                    "domain": f"{state.subdomain}.amocrm.ru",
                    "top_level_domain": "ru",
                }
            ),
            content_type="application/json",
        )

    # ------------------------------------------------------------------ account, users --
    @app.get("/api/v4/account")
    def account() -> Response:
        with state.lock:
            return hal(render.account(state, base(), withs()))

    @app.get("/api/v4/users")
    def users() -> Response:
        w = withs()
        with state.lock:
            ids = state.list_ids("users", args())
            return paged(
                ids, "users", lambda i: render.user(state, state.users[i], base(), w), totals=True
            )

    @app.get("/api/v4/users/<int:uid>")
    def user(uid: int) -> Response:
        with state.lock:
            rec = state.users.get(uid)
            return no_content() if rec is None else hal(render.user(state, rec, base(), withs()))

    # ------------------------------------------------------------------ pipelines -------
    @app.get("/api/v4/leads/pipelines")
    def pipelines() -> Response:
        with state.lock:
            items = [render.pipeline(state, p, base()) for p in state.pipelines.values()]
        if not items:
            return no_content()
        return hal(
            {
                "_total_items": len(items),
                "_links": self_links("/api/v4/leads/pipelines"),
                "_embedded": {"pipelines": items},
            }
        )

    @app.get("/api/v4/leads/pipelines/<int:pid>")
    def pipeline(pid: int) -> Response:
        with state.lock:
            rec = state.pipelines.get(pid)
            return no_content() if rec is None else hal(render.pipeline(state, rec, base()))

    @app.get("/api/v4/leads/pipelines/<int:pid>/statuses")
    def statuses(pid: int) -> Response:
        with state.lock:
            rec = state.pipelines.get(pid)
            if rec is None:
                return no_content()
            items = [render.status(state, s, base()) for s in rec["statuses"]]
        return hal(
            {
                "_total_items": len(items),
                "_links": self_links(f"/api/v4/leads/pipelines/{pid}/statuses"),
                "_embedded": {"statuses": items},
            }
        )

    @app.get("/api/v4/leads/pipelines/<int:pid>/statuses/<int:sid>")
    def status(pid: int, sid: int) -> Response:
        with state.lock:
            rec = state.pipelines.get(pid)
            found = next((s for s in rec["statuses"] if s["id"] == sid), None) if rec else None
            return no_content() if found is None else hal(render.status(state, found, base()))

    # ------------------------------------------------------------------ loss reasons ----
    @app.get("/api/v4/leads/loss_reasons")
    def loss_reasons() -> Response:
        with state.lock:
            ids = sorted(state.loss_reasons, key=lambda i: (state.loss_reasons[i]["sort"], i))
            return paged(
                ids,
                "loss_reasons",
                lambda i: render.loss_reason(state.loss_reasons[i], base()),
                totals=True,
            )

    @app.get("/api/v4/leads/loss_reasons/<int:rid>")
    def loss_reason(rid: int) -> Response:
        with state.lock:
            rec = state.loss_reasons.get(rid)
            return no_content() if rec is None else hal(render.loss_reason(rec, base()))

    # ------------------------------------------------------------------ leads -----------
    @app.get("/api/v4/leads")
    def leads() -> Response:
        w = withs()
        with state.lock:
            ids = state.list_ids("leads", args())
            recs = state.records["leads"]
            return paged(ids, "leads", lambda i: render.lead(state, recs[i], base(), w))

    @app.get("/api/v4/leads/unsorted")
    def unsorted() -> Response:
        return no_content()  # no pipeline has the unsorted stage switched on

    @app.get("/api/v4/leads/<int:lid>")
    def lead(lid: int) -> Response:
        with state.lock:
            rec = state.records["leads"].get(lid)
            return no_content() if rec is None else hal(render.lead(state, rec, base(), withs()))

    def _write_response(
        entity: str, results: list[dict[str, Any]], hooks: list[Any], single: bool = False
    ) -> Response:
        state.dispatcher.enqueue(hooks, base())
        items = [{**r, "_links": self_links(f"/api/v4/{entity}/{r['id']}")} for r in results]
        if single:
            return hal(items[0])
        return hal({"_links": self_links(f"/api/v4/{entity}"), "_embedded": {entity: items}})

    @app.post("/api/v4/leads")
    def create_leads() -> Response:
        results, hooks = state.write_leads(body(), user_id(), create=True)
        return _write_response("leads", results, hooks)

    @app.patch("/api/v4/leads")
    def patch_leads() -> Response:
        results, hooks = state.write_leads(body(), user_id(), create=False)
        return _write_response("leads", results, hooks)

    @app.patch("/api/v4/leads/<int:lid>")
    def patch_lead(lid: int) -> Response:
        item = body()
        if not isinstance(item, dict):
            raise BadRequest("The request body must be a JSON object")
        results, hooks = state.write_leads(
            {**item, "id": lid}, user_id(), create=False, as_object=True
        )
        return _write_response("leads", results, hooks, single=True)

    # ------------------------------------------------------------------ contacts, companies
    def _clients(entity: str) -> Response:
        w = withs()
        with state.lock:
            ids = state.list_ids(entity, args())
            recs = state.records[entity]
            return paged(ids, entity, lambda i: render.contact(state, recs[i], base(), w, entity))

    def _client(entity: str, cid: int) -> Response:
        with state.lock:
            rec = state.records[entity].get(cid)
            if rec is None:
                return no_content()
            return hal(render.contact(state, rec, base(), withs(), entity))

    @app.get("/api/v4/contacts")
    def contacts() -> Response:
        return _clients("contacts")

    @app.get("/api/v4/contacts/<int:cid>")
    def contact(cid: int) -> Response:
        return _client("contacts", cid)

    @app.get("/api/v4/companies")
    def companies() -> Response:
        return _clients("companies")

    @app.get("/api/v4/companies/<int:cid>")
    def company(cid: int) -> Response:
        return _client("companies", cid)

    # ------------------------------------------------------------------ tasks -----------
    @app.get("/api/v4/tasks")
    def tasks() -> Response:
        with state.lock:
            ids = state.list_ids("tasks", args())
            recs = state.records["tasks"]
            return paged(ids, "tasks", lambda i: render.task(state, recs[i], base()))

    @app.get("/api/v4/tasks/<int:tid>")
    def task(tid: int) -> Response:
        with state.lock:
            rec = state.records["tasks"].get(tid)
            return no_content() if rec is None else hal(render.task(state, rec, base()))

    @app.post("/api/v4/tasks")
    def create_tasks() -> Response:
        results, hooks = state.write_tasks(body(), user_id(), create=True)
        return _write_response("tasks", results, hooks)

    @app.patch("/api/v4/tasks")
    def patch_tasks() -> Response:
        results, hooks = state.write_tasks(body(), user_id(), create=False)
        return _write_response("tasks", results, hooks)

    @app.patch("/api/v4/tasks/<int:tid>")
    def patch_task(tid: int) -> Response:
        item = body()
        if not isinstance(item, dict):
            raise BadRequest("The request body must be a JSON object")
        results, hooks = state.write_tasks(
            {**item, "id": tid}, user_id(), create=False, as_object=True
        )
        return _write_response("tasks", results, hooks, single=True)

    # ------------------------------------------------------------------ notes -----------
    def _notes(entity: str, entity_id: int | None) -> Response:
        with state.lock:
            if entity_id is not None and entity_id not in state.records[entity]:
                return no_content()
            ids = state.list_ids("notes", args(), entity=entity, entity_id=entity_id)
            recs = state.notes[entity]
            return paged(ids, "notes", lambda i: render.note(state, entity, recs[i], base()))

    @app.get(f"/api/v4/<{ENTITY_RE}:entity>/notes")
    def notes(entity: str) -> Response:
        return _notes(entity, None)

    @app.get(f"/api/v4/<{ENTITY_RE}:entity>/<int:eid>/notes")
    def entity_notes(entity: str, eid: int) -> Response:
        return _notes(entity, eid)

    @app.get(f"/api/v4/<{ENTITY_RE}:entity>/notes/<int:nid>")
    @app.get(f"/api/v4/<{ENTITY_RE}:entity>/<int:eid>/notes/<int:nid>")
    def note(entity: str, nid: int, eid: int | None = None) -> Response:
        with state.lock:
            rec = state.notes[entity].get(nid)
            if rec is None or (eid is not None and rec["entity_id"] != eid):
                return no_content()
            return hal(render.note(state, entity, rec, base()))

    def _note_response(entity: str, results: list[dict[str, Any]], hooks: list[Any]) -> Response:
        state.dispatcher.enqueue(hooks, base())
        items = [
            {**r, "_links": self_links(f"/api/v4/{entity}/{r['entity_id']}/notes/{r['id']}")}
            for r in results
        ]
        return hal({"_links": self_links(f"/api/v4/{entity}/notes"), "_embedded": {"notes": items}})

    @app.post(f"/api/v4/<{ENTITY_RE}:entity>/notes")
    def add_notes(entity: str) -> Response:
        results, hooks = state.add_notes(entity, body(), user_id())
        return _note_response(entity, results, hooks)

    @app.post(f"/api/v4/<{ENTITY_RE}:entity>/<int:eid>/notes")
    def add_entity_notes(entity: str, eid: int) -> Response:
        results, hooks = state.add_notes(entity, body(), user_id(), entity_id=eid)
        return _note_response(entity, results, hooks)

    # ------------------------------------------------------------------ events ----------
    @app.get("/api/v4/events")
    def events() -> Response:
        with state.lock:
            ids = state.list_ids("events", args())
            return paged(
                ids,
                "events",
                lambda i: render.event(state, state.events[i], base()),
                max_limit=100,
            )

    @app.get("/api/v4/events/types")
    def event_types() -> Response:
        with state.lock:
            kinds = sorted({e["type"] for e in state.events.values()})
        items = [{"key": k, "type": n + 1, "lang": {"ru": k, "en": k}} for n, k in enumerate(kinds)]
        return hal(
            {"_links": self_links("/api/v4/events/types"), "_embedded": {"events_types": items}}
        )

    @app.get("/api/v4/events/<eid>")
    def event(eid: str) -> Response:
        with state.lock:
            rec = state.events.get(eid)
            return no_content() if rec is None else hal(render.event(state, rec, base()))

    # ------------------------------------------------------------------ custom fields ---
    @app.get(f"/api/v4/<{ENTITY_RE}:entity>/custom_fields")
    def custom_fields(entity: str) -> Response:
        with state.lock:
            defs = state.fields[entity]
            order = args().get("order")
            ids = sorted(defs, key=lambda i: (defs[i].sort, i))
            if isinstance(order, dict) and "id" in order:
                ids = sorted(defs, reverse=str(order["id"]).lower() == "desc")
            return paged(
                ids,
                "custom_fields",
                lambda i: render.custom_field(state, defs[i], base()),
                max_limit=50,
                totals=True,
            )

    @app.get(f"/api/v4/<{ENTITY_RE}:entity>/custom_fields/<int:fid>")
    def custom_field(entity: str, fid: int) -> Response:
        with state.lock:
            fdef = state.fields[entity].get(fid)
            return no_content() if fdef is None else hal(render.custom_field(state, fdef, base()))

    # ------------------------------------------------------------------ webhooks --------
    @app.get("/api/v4/webhooks")
    def webhooks() -> Response:
        a = args()
        filt = a.get("filter") if isinstance(a.get("filter"), dict) else {}
        dest = filt.get("destination") if isinstance(filt, dict) else None
        with state.lock:
            items = [
                render.webhook(h)
                for h in sorted(state.webhooks.values(), key=lambda h: (h["sort"], h["id"]))
                if dest is None or h["destination"] == dest
            ]
        if not items:
            return no_content()
        return hal(
            {
                "_total_items": len(items),
                "_links": self_links("/api/v4/webhooks"),
                "_embedded": {"webhooks": items},
            }
        )

    @app.post("/api/v4/webhooks")
    def add_webhook() -> Response:
        hook = state.upsert_webhook(body(), user_id())
        return hal(render.webhook(hook), status=201)

    @app.delete("/api/v4/webhooks")
    def delete_webhook() -> Response:
        payload = body()
        dest = payload.get("destination") if isinstance(payload, dict) else None
        if dest is None:
            dest = request.args.get("destination")
        if not dest:
            return validation_failed(
                [
                    {
                        "request_id": "0",
                        "errors": [
                            {
                                "code": "NotBlank",
                                "path": "destination",
                                "detail": "This value should not be blank.",
                            }
                        ],
                    }
                ]
            )
        if not state.delete_webhook(dest):
            return problem(404, "Not Found", "Webhook not found")
        return no_content()

    return app
