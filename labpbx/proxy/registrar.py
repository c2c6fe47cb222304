"""Registrar and location service (RFC 3261 §10.3; OpenSIPS registrar/usrloc), pure.

Rules
- An address-of-record is the To URI of the REGISTER: its user part alone (OpenSIPS default
  use_domain=0) or "user@domain" when use_domain is set. lookup() uses the R-URI the same way.
- Bindings expire by the injected monotonic ``now``; expired ones are ignored and purged lazily.
- Expiry per contact: the Contact ;expires param, else the Expires header, else default_expires;
  a non-zero value below min_expires is raised to it (OpenSIPS does not answer 423), capped at max_expires.
- ``Contact: *`` with Expires 0 removes every binding of the AoR (§10.3 step 6).
- A binding with the same Call-ID and a CSeq not higher than the stored one is refused with 500
  (§10.3 step 7) — it is an out-of-order or replayed REGISTER.
- lookup() return codes as OpenSIPS: 1 found, -1 no contact, -2 contacts but none allows the method,
  -3 internal error. Contacts come back ordered by q (highest first), then most recent first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from labpbx.errors import SipParseError
from labpbx.sip.message import NameAddr, Request, parse_name_addr, parse_uri, split_values

Addr = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Binding:
    aor: str
    contact: str  # the contact URI
    expires_at: float  # monotonic
    q: float
    call_id: str
    cseq: int
    received: Addr
    user_agent: str = ""
    methods: frozenset[str] | None = None  # from the Contact ;methods param, None = all


@dataclass(frozen=True, slots=True)
class SaveResult:
    status: int
    reason: str
    bindings: tuple[Binding, ...]  # the AoR's bindings after the change (for the 200's Contacts)
    changed: bool


class Location:
    def __init__(self, *, use_domain: bool = False, default_expires: int = 3600,
                 min_expires: int = 60, max_expires: int = 0, max_contacts: int = 0) -> None:
        self.use_domain = use_domain
        self.default_expires = default_expires
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.max_contacts = max_contacts
        self._table: dict[str, list[Binding]] = {}

    # --- keys ----------------------------------------------------------------------------------
    def aor_of(self, uri_text: str) -> str | None:
        try:
            uri = parse_uri(uri_text)
        except SipParseError:
            return None
        if uri.user is None:
            return None
        return f"{uri.user}@{uri.host.lower()}" if self.use_domain else uri.user

    # --- REGISTER ------------------------------------------------------------------------------
    def save(self, request: Request, source: Addr, now: float) -> SaveResult:
        to_value = request.headers.get("To")
        aor = self.aor_of(parse_name_addr(to_value).uri.__str__()) if to_value else None
        if aor is None:
            return SaveResult(400, "Bad To header", (), False)
        contacts_raw = request.headers.get_all("Contact")
        header_expires = _int_or_none(request.headers.get("Expires"))
        call_id = request.call_id
        cseq = request.cseq[0]
        current = self._alive(aor, now)
        if not contacts_raw:
            return SaveResult(200, "OK", tuple(current), False)
        if any(c.strip() == "*" for c in contacts_raw):
            if len(contacts_raw) != 1 or header_expires != 0:
                return SaveResult(400, "Invalid Contact *", tuple(current), False)
            self._table.pop(aor, None)
            return SaveResult(200, "OK", (), bool(current))
        bindings = {b.contact: b for b in current}
        changed = False
        for raw in contacts_raw:
            try:
                addr = parse_name_addr(raw)
            except SipParseError:
                return SaveResult(400, "Bad Contact", tuple(current), False)
            contact = str(addr.uri)
            expires = self._expires_for(addr, header_expires)
            old = bindings.get(contact)
            if old is not None and old.call_id == call_id and cseq <= old.cseq:
                return SaveResult(500, "Out of order REGISTER", tuple(current), False)
            if expires == 0:
                if bindings.pop(contact, None) is not None:
                    changed = True
                continue
            q = _q_of(addr)
            methods_param = addr.param("methods") or addr.uri.param("methods")
            methods = (frozenset(m.strip().upper() for m in methods_param.strip('"').split(","))
                       if methods_param else None)
            bindings[contact] = Binding(
                aor=aor, contact=contact, expires_at=now + expires, q=q, call_id=call_id,
                cseq=cseq, received=source, user_agent=request.headers.get("User-Agent") or "",
                methods=methods,
            )
            changed = True
        ordered = sorted(bindings.values(), key=lambda b: (-b.q, -b.expires_at))
        if self.max_contacts and len(ordered) > self.max_contacts:
            return SaveResult(503, "Too many registered contacts", tuple(current), False)
        if ordered:
            self._table[aor] = ordered
        else:
            self._table.pop(aor, None)
        return SaveResult(200, "OK", tuple(ordered), changed)

    def _expires_for(self, addr: NameAddr, header_expires: int | None) -> int:
        value = _int_or_none(addr.param("expires"))
        if value is None:
            value = header_expires if header_expires is not None else self.default_expires
        if value <= 0:
            return 0
        value = max(value, self.min_expires)
        if self.max_expires:
            value = min(value, self.max_expires)
        return value

    # --- lookup --------------------------------------------------------------------------------
    def lookup(self, ruri: str, method: str, now: float) -> tuple[int, list[Binding]]:
        aor = self.aor_of(ruri)
        if aor is None:
            return -3, []
        alive = self._alive(aor, now)
        if not alive:
            return -1, []
        allowed = [b for b in alive if b.methods is None or method.upper() in b.methods]
        if not allowed:
            return -2, []
        return 1, allowed

    def bindings(self, aor: str, now: float) -> list[Binding]:
        return self._alive(aor, now)

    def all_bindings(self, now: float) -> dict[str, list[Binding]]:
        return {aor: alive for aor in list(self._table) if (alive := self._alive(aor, now))}

    def restore(self, binding: Binding) -> None:
        """Load a binding persisted by an earlier run (the caller converts its expiry to ``now``)."""
        rows = [b for b in self._table.get(binding.aor, []) if b.contact != binding.contact]
        rows.append(binding)
        self._table[binding.aor] = sorted(rows, key=lambda b: (-b.q, -b.expires_at))

    def _alive(self, aor: str, now: float) -> list[Binding]:
        rows = self._table.get(aor)
        if not rows:
            return []
        alive = [b for b in rows if b.expires_at > now]
        if len(alive) != len(rows):
            if alive:
                self._table[aor] = alive
            else:
                del self._table[aor]
        return alive


def contact_header_values(bindings: tuple[Binding, ...] | list[Binding], now: float) -> list[str]:
    """The Contact values of a 200 to REGISTER: every current binding with its remaining expiry."""
    return [f"<{b.contact}>;expires={max(0, round(b.expires_at - now))}" for b in bindings]


def with_expiry(binding: Binding, expires_at: float) -> Binding:
    return replace(binding, expires_at=expires_at)


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _q_of(addr: NameAddr) -> float:
    raw = addr.param("q")
    if raw is None:
        return 1.0
    try:
        return max(0.0, min(1.0, float(raw)))
    except ValueError:
        return 1.0


__all__ = ["Binding", "Location", "SaveResult", "contact_header_values", "split_values"]
