"""The registry of built-in script functions: names, modules, signatures, where they may be used.

The loader refuses a call to a name that is not here, a wrong number of arguments, an argument of the
wrong kind (a route name that does not exist, a malformed pseudo-variable, a non-integer where an int is
required) and a function used in a route type where OpenSIPS does not allow it. The implementations live
in the proxy (it is the ScriptHost); this table is the single source of the signatures and of the help
text the script editor shows. Semantics: ../../docs/SEMANTICS.md and the OpenSIPS 2.4 module docs.

Argument kinds
  "fmt"            string; pseudo-variables in it are expanded when the call runs (xlog, t_reply reason …)
  "str"            string taken literally (no expansion)
  "int"            integer (a quoted integer "486" is accepted and converted)
  "pvar"           a pseudo-variable spec written as a string, e.g. "$avp(callfwd)"
  "avpsrc"         avp_db_load/avp_db_store source: a pseudo-variable with an optional /username, /domain,
                   /uri or /uuid suffix, e.g. "$ru", "$ru/domain", "$fu/username"
  "route", "failure_route", "onreply_route", "branch_route"
                   the name of a route block of that type that must exist in the script
  "level"          an xlog level name: L_ALERT L_CRIT L_ERR L_WARN L_NOTICE L_INFO L_DBG
"""

from __future__ import annotations

from dataclasses import dataclass

from labpbx.script.host import RouteKind

_R = RouteKind.REQUEST
_F = RouteKind.FAILURE
_O = RouteKind.ONREPLY
_B = RouteKind.BRANCH
_L = RouteKind.LOCAL
_E = RouteKind.ERROR
_S = RouteKind.STARTUP
ANY = frozenset({_R, _F, _O, _B, _L, _E, _S})
REQ_FAIL_BRANCH = frozenset({_R, _F, _B})
REQ_FAIL = frozenset({_R, _F})
REQ_ONLY = frozenset({_R})


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    module: str                      # "core" or the OpenSIPS module (tm, sl, rr, …)
    args: tuple[tuple[str, ...], ...]  # accepted signatures: each a tuple of argument kinds
    routes: frozenset[RouteKind]
    signature: str                   # for help text, e.g. 't_check_status("regex")'
    doc: str

    @property
    def min_args(self) -> int:
        return min(len(a) for a in self.args)

    @property
    def max_args(self) -> int:
        return max(len(a) for a in self.args)


def _f(name: str, module: str, args: tuple[tuple[str, ...], ...], routes: frozenset[RouteKind],
       signature: str, doc: str) -> FunctionSpec:
    return FunctionSpec(name, module, args, routes, signature, doc)


FUNCTIONS: dict[str, FunctionSpec] = {s.name: s for s in (
    # --- core ------------------------------------------------------------------------------------
    _f("xlog", "core", (("fmt",), ("level", "fmt")), ANY, 'xlog(["L_ERR",] "format")',
       "Print a log line with pseudo-variables expanded. No newline is added. Default level L_ERR."),
    _f("prefix", "core", (("fmt",),), REQ_FAIL_BRANCH, 'prefix("b")',
       "Insert the string before the user part of the R-URI: sip:1004@h becomes sip:b1004@h."),
    _f("strip", "core", (("int",),), REQ_FAIL_BRANCH, "strip(n)",
       "Remove the first n characters of the R-URI user part."),
    _f("revert_uri", "core", ((),), REQ_FAIL_BRANCH, "revert_uri()",
       "Undo every R-URI change: back to the Request-URI as received."),
    _f("rewritehostport", "core", (("fmt",),), REQ_FAIL_BRANCH, 'rewritehostport("host:port")',
       "Replace host and port of the R-URI, keeping user and parameters."),
    _f("sethostport", "core", (("fmt",),), REQ_FAIL_BRANCH, 'sethostport("host:port")',
       "Alias of rewritehostport."),
    _f("rewritehost", "core", (("fmt",),), REQ_FAIL_BRANCH, 'rewritehost("host")',
       "Replace the host of the R-URI."),
    _f("rewriteuser", "core", (("fmt",),), REQ_FAIL_BRANCH, 'rewriteuser("user")',
       "Replace the user part of the R-URI."),
    _f("setuser", "core", (("fmt",),), REQ_FAIL_BRANCH, 'setuser("user")',
       "Alias of rewriteuser."),
    _f("append_branch", "core", ((), ("fmt",)), REQ_FAIL, 'append_branch(["uri"])',
       "Add a branch to the destination set: the current R-URI, or the given URI."),
    _f("force_rport", "core", ((),), REQ_FAIL_BRANCH, "force_rport()",
       "Reply to the source port of the request (RFC 3581), as if rport was present."),
    _f("setflag", "core", (("int",),), ANY, "setflag(n)", "Set message flag n."),
    _f("resetflag", "core", (("int",),), ANY, "resetflag(n)", "Reset message flag n."),
    _f("isflagset", "core", (("int",),), ANY, "isflagset(n)", "True if message flag n is set."),
    # --- textops / sipmsgops ------------------------------------------------------------------------
    _f("is_method", "sipmsgops", (("str",),), ANY, 'is_method("INVITE|ACK")',
       "True if the request method is one of the |-separated names."),
    _f("has_totag", "sipmsgops", ((),), ANY, "has_totag()",
       "True if the To header has a tag (an in-dialog request)."),
    _f("append_hf", "sipmsgops", (("fmt",), ("fmt", "str")), REQ_FAIL_BRANCH,
       'append_hf("Name: value\\r\\n")', "Append a header (the text must end with CRLF)."),
    _f("remove_hf", "sipmsgops", (("str",),), REQ_FAIL_BRANCH, 'remove_hf("Name")',
       "Remove every header with that name."),
    _f("is_present_hf", "sipmsgops", (("str",),), ANY, 'is_present_hf("Name")',
       "True if the message has that header."),
    # --- maxfwd -------------------------------------------------------------------------------------
    _f("mf_process_maxfwd_header", "maxfwd", (("int",),), REQ_ONLY, 'mf_process_maxfwd_header("10")',
       "Add Max-Forwards with the given value if missing; if present decrement it; false (-1) when it is 0."),
    # --- rr -----------------------------------------------------------------------------------------
    _f("record_route", "rr", ((),), REQ_ONLY, "record_route()",
       "Add a Record-Route header pointing at this proxy (;lr) so in-dialog requests come through it."),
    _f("loose_route", "rr", ((),), REQ_ONLY, "loose_route()",
       "Process Route headers (RFC 3261 §16.4): remove our own, set the next hop. True if routed by Route."),
    # --- sl -----------------------------------------------------------------------------------------
    _f("sl_send_reply", "sl", (("int", "fmt"),), REQ_ONLY, 'sl_send_reply("404","Not Found")',
       "Send a reply statelessly."),
    _f("sl_reply_error", "sl", ((),), REQ_ONLY, "sl_reply_error()",
       "Send the reply for the last internal error (500 when unknown)."),
    # --- signaling ----------------------------------------------------------------------------------
    _f("send_reply", "signaling", (("int", "fmt"),), REQ_FAIL, 'send_reply("404","Not Found")',
       "Reply statefully if a transaction exists, else statelessly."),
    # --- tm -----------------------------------------------------------------------------------------
    _f("t_relay", "tm", ((), ("int",)), REQ_FAIL, "t_relay([flags])",
       "Relay statefully: create the transaction if needed, then one branch per destination. In "
       "failure_route this adds branches to the same transaction (serial forking). -3 once cancelled."),
    _f("t_newtran", "tm", ((),), REQ_ONLY, "t_newtran()", "Create the transaction without relaying."),
    _f("t_reply", "tm", (("int", "fmt"),), REQ_FAIL, 't_reply("404","Not Found")',
       "Reply statefully (creates the transaction if needed)."),
    _f("t_check_trans", "tm", ((),), REQ_ONLY, "t_check_trans()",
       "True if the request belongs to an existing transaction (CANCEL: the INVITE it cancels; ACK: the "
       "INVITE it acknowledges). Retransmissions are absorbed before the script runs."),
    _f("t_on_failure", "tm", (("failure_route",),), REQ_FAIL_BRANCH, 't_on_failure("name")',
       "Arm the failure route for the transaction. It is disarmed when it runs: "
       "re-arm before relaying again."),
    _f("t_on_reply", "tm", (("onreply_route",),), REQ_FAIL_BRANCH, 't_on_reply("name")',
       "Arm the reply route for the transaction's branches."),
    _f("t_on_branch", "tm", (("branch_route",),), REQ_FAIL, 't_on_branch("name")',
       "Arm the branch route, run once per new branch just before it is sent."),
    _f("t_check_status", "tm", (("str",),), frozenset({_R, _F, _O}), 't_check_status("486")',
       "True if the reply code matches the regular expression (unanchored: \"48\" matches 486)."),
    _f("t_was_cancelled", "tm", ((),), frozenset({_F, _O, _B}), "t_was_cancelled()",
       "True if the caller cancelled the transaction (CANCEL received)."),
    _f("t_local_replied", "tm", (("str",),), frozenset({_F, _O}), 't_local_replied("all"|"last"|"branch")',
       "True if the reply was generated by this proxy (e.g. the 408 of a timeout)."),
    _f("t_branch_timeout", "tm", ((),), frozenset({_F}), "t_branch_timeout()",
       "True if the failed branch ended by a timeout."),
    _f("t_branch_replied", "tm", ((),), frozenset({_F}), "t_branch_replied()",
       "True if the failed branch received any reply."),
    _f("t_any_timeout", "tm", ((),), frozenset({_F}), "t_any_timeout()", "True if any branch timed out."),
    _f("t_any_replied", "tm", ((),), frozenset({_F}), "t_any_replied()", "True if any branch got a reply."),
    # --- registrar ----------------------------------------------------------------------------------
    _f("save", "registrar", (("str",), ("str", "str")), REQ_ONLY, 'save("location")',
       "Store the REGISTER's Contact bindings and send the reply "
       "(200 with the current bindings, or an error)."),
    _f("lookup", "registrar", (("str",), ("str", "str")), REQ_FAIL, 'lookup("location")',
       "Rewrite the R-URI with the registered contact(s): 1 found, -1 none, "
       "-2 method not supported, -3 error."),
    _f("registered", "registrar", (("str",),), ANY, 'registered("location")',
       "True if the R-URI's AoR has a current binding."),
    # --- avpops -------------------------------------------------------------------------------------
    _f("avp_db_load", "avpops", (("avpsrc", "pvar"), ("avpsrc", "pvar", "str")), REQ_FAIL_BRANCH,
       'avp_db_load("$ru", "$avp(callfwd)")',
       "Load AVPs from usr_preferences for the user of the source. 1 if any row loaded, -1 otherwise."),
    _f("avp_db_store", "avpops", (("avpsrc", "pvar"), ("avpsrc", "pvar", "str")), REQ_FAIL_BRANCH,
       'avp_db_store("$ru", "$avp(callfwd)")', "Store the AVP's values in usr_preferences."),
    _f("avp_db_delete", "avpops", (("avpsrc", "pvar"), ("avpsrc", "pvar", "str")), REQ_FAIL_BRANCH,
       'avp_db_delete("$ru", "$avp(callfwd)")', "Delete the AVP's rows from usr_preferences."),
    _f("avp_delete", "avpops", (("pvar",),), ANY, 'avp_delete("$avp(callfwd)")',
       "Delete the AVP (all its values) from the current transaction."),
)}

# Functions that exist in OpenSIPS but need a module; the loader requires `loadmodule "<module>.so"` for
# them only when the script loads at least one module (so short test snippets need no loadmodule lines).
CORE_MODULES = frozenset({"core"})

# Known modparams: (module, param) -> kind ("int" or "str"). Others are refused at load, like OpenSIPS.
MODPARAMS: dict[tuple[str, str], str] = {
    ("tm", "fr_timeout"): "int",
    ("tm", "fr_inv_timeout"): "int",
    ("tm", "restart_fr_on_each_reply"): "int",
    ("tm", "auto_100trying"): "int",
    ("tm", "onreply_avp_mode"): "int",
    ("tm", "wt_timer"): "int",
    ("tm", "T1_timer"): "int",
    ("tm", "T2_timer"): "int",
    ("rr", "append_fromtag"): "int",
    ("rr", "enable_double_rr"): "int",
    ("maxfwd", "max_limit"): "int",
    ("registrar", "default_expires"): "int",
    ("registrar", "min_expires"): "int",
    ("registrar", "max_expires"): "int",
    ("registrar", "max_contacts"): "int",
    ("usrloc", "db_mode"): "int",
    ("usrloc", "db_url"): "str",
    ("avpops", "db_url"): "str",
    ("avpops", "avp_table"): "str",
    ("avpops", "use_domain"): "int",
    ("avpops", "uuid_column"): "str",
    ("avpops", "username_column"): "str",
    ("avpops", "domain_column"): "str",
    ("xlog", "buf_size"): "int",
    ("xlog", "force_color"): "int",
    ("sl", "enable_stats"): "int",
    ("mi_fifo", "fifo_name"): "str",
    ("mi_fifo", "fifo_mode"): "int",
}

# Modules the lab knows (loadmodule of anything else is refused with a clear message).
MODULES = frozenset({
    "tm", "sl", "rr", "maxfwd", "registrar", "usrloc", "avpops", "sipmsgops", "textops", "signaling",
    "xlog", "db_text", "db_mysql", "db_postgres", "db_sqlite", "mi_fifo", "mi_datagram", "proto_udp",
    "proto_tcp", "uri", "acc", "dialog", "nathelper", "auth", "auth_db",
})
# textops is the 2.x home of append_hf/remove_hf/is_present_hf; either module satisfies them.
MODULE_ALIASES: dict[str, frozenset[str]] = {"sipmsgops": frozenset({"sipmsgops", "textops"})}

# Pseudo-variables: name -> writable? Classes that take a key are listed in KEYED_PVARS.
PVARS: dict[str, bool] = {
    "ru": True, "rU": True, "rd": True, "rp": True, "du": True, "ou": False, "oU": False,
    "fu": False, "fU": False, "fd": False, "fn": False, "ft": False,
    "tu": False, "tU": False, "td": False, "tn": False, "tt": False,
    "ci": False, "cs": False, "rm": False, "rs": False, "rr": False, "si": False, "sp": False,
    "Ri": False, "Rp": False, "pr": False, "proto": False, "ua": False, "ct": False, "mb": False,
    "ml": False, "rc": False, "retcode": False, "Ts": False, "Tf": False, "pp": False,
    "T_reply_code": False, "T_branch_idx": False, "T_fr_timeout": True, "T_fr_inv_timeout": True,
    "T_id": False,
}
KEYED_PVARS: dict[str, bool] = {"avp": True, "var": True, "hdr": False}

# xlog level names (argument kind "level") and their OpenSIPS 2.4 numeric values (dprint.h).
XLOG_LEVELS: dict[str, int] = {
    "L_ALERT": -3, "L_CRIT": -2, "L_ERR": -1, "L_WARN": 1, "L_NOTICE": 2, "L_INFO": 3, "L_DBG": 4,
}
