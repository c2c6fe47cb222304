"""Services the script functions call: loose routing (§16.4), registrar save/lookup, avpops over
the preferences store. Pure; the store is injected."""

from __future__ import annotations

from labpbx.errors import SipParseError
from labpbx.proxy.context import ScriptContext
from labpbx.proxy.core import ProxyCore, _remove_last_route
from labpbx.proxy.registrar import contact_header_values
from labpbx.script.host import Value
from labpbx.sip.message import (
    make_response,
    new_tag,
    parse_name_addr,
    parse_uri,
)

Addr = tuple[str, int]


class ScriptServices(ProxyCore):
    # ---- routing helpers used by builtins --------------------------------------------------------
    def loose_route(self, ctx: ScriptContext, line: int) -> int:
        headers = ctx.msg.headers
        routes = headers.get_all("Route")
        if not routes:
            return -1
        try:
            ruri = parse_uri(ctx.ruri)
            # §16.4: a Request-URI equal to our Record-Route value (no user, ;lr) means the
            # previous hop was a strict router
            if ruri.user is None and ruri.has_param("lr") and self.is_myself(ctx.ruri):
                # §16.4: the previous hop was a strict router; the last Route is the real target
                last = parse_name_addr(routes[-1]).uri
                _remove_last_route(ctx.msg)
                ctx.set_ruri(str(last), line, "loose_route (strict router)")
                return 1
            top = parse_name_addr(routes[0]).uri
        except SipParseError:
            return -1
        if self.is_myself(str(top.with_params(()))):
            headers.remove_first_value("Route")
            self.decision(ctx, line, "loose_route", str(top), "removed our Route")
            nxt = headers.first_value("Route")
            if nxt is None:
                # OpenSIPS rr: an initial request whose only Route was ours (a phone's outbound
                # proxy setting) is routed like one without Route: false
                return 1 if ctx.msg.to_tag else -1
            try:
                next_uri = parse_name_addr(nxt).uri
            except SipParseError:
                return -1
            if not next_uri.has_param("lr"):
                # next hop is a strict router: it goes in the R-URI, the R-URI goes last (§16.6 step 6)
                headers.remove_first_value("Route")
                headers.add("Route", f"<{ctx.ruri}>")
                ctx.set_ruri(str(next_uri), line, "loose_route (to strict router)")
            return 1
        return 1  # a preloaded Route to someone else: follow it (next_hop reads it)

    def save_location(self, ctx: ScriptContext, line: int) -> int:
        request = ctx.msg
        if request.method != "REGISTER" or ctx.server is None:
            return -1
        result = self.location.save(request, ctx.source, ctx.now)
        response = make_response(request, result.status, result.reason, to_tag=new_tag())
        if result.status == 200:
            for value in contact_header_values(result.bindings, ctx.now):
                response.headers.add("Contact", value)
        self._send_response(ctx.server, response, ctx.now)
        ctx.replied = True
        to_value = request.headers.get("To") or ""
        self.decision(ctx, line, "save", to_value, f"{result.status} {len(result.bindings)} contact(s)")
        if result.changed and self.location_listener is not None:
            aor = self.location.aor_of(str(parse_name_addr(to_value).uri)) or ""
            self.location_listener(aor, list(result.bindings))
        return 1 if result.status == 200 else -1

    def lookup_location(self, ctx: ScriptContext, flags: str, line: int) -> int:
        code, bindings = self.location.lookup(ctx.ruri, ctx.msg.method if "m" in flags else "*",
                                              ctx.now)
        if code == 1:
            before = ctx.ruri
            ctx.new_uri = bindings[0].contact
            if "b" not in flags:
                ctx.extra_branches.extend((b.contact, None) for b in bindings[1:])
            self.decision(ctx, line, "lookup", before, ctx.new_uri,
                          reason=f"{len(bindings)} contact(s)")
        else:
            self.decision(ctx, line, "lookup", ctx.ruri, "", reason=f"returned {code}")
        return code

    def avp_load(self, *, uuid: str | None, username: str | None, domain: str | None,
                 attribute: str | None, table: str, line: int) -> list[tuple[str, Value]]:
        if self.preferences is None:
            return []
        try:
            rows = self.preferences.avp_lookup(username=username, domain=domain, uuid=uuid,
                                               attribute=attribute, table=table)
        except Exception as exc:  # a database problem must not stop the proxy
            self.problem("error", f"line {line}: avp_db_load: {exc}")
            return []
        return [(row.attribute, value) for row in rows
                if (value := row.typed_value) is not None]

    def avp_store(self, *, uuid: str | None, username: str | None, domain: str | None,
                  attribute: str, values: list[Value], table: str, line: int) -> int:
        store = getattr(self.preferences, "avp_store", None)
        if store is None:
            return -1
        try:
            store(uuid=uuid, username=username, domain=domain, attribute=attribute,
                  values=values, table=table)
        except Exception as exc:
            self.problem("error", f"line {line}: avp_db_store: {exc}")
            return -1
        return 1

    def avp_delete(self, *, uuid: str | None, username: str | None, domain: str | None,
                   attribute: str, table: str, line: int) -> int:
        delete = getattr(self.preferences, "avp_delete", None)
        if delete is None:
            return -1
        try:
            count = delete(uuid=uuid, username=username, domain=domain, attribute=attribute,
                           table=table)
        except Exception as exc:
            self.problem("error", f"line {line}: avp_db_delete: {exc}")
            return -1
        return 1 if count else -1
