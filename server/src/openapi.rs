//! The OpenAPI 3.1 document served at `/openapi.json`, built from one table
//! of operations. A test walks the table against the running router, so an
//! operation documented here that the router does not serve fails the build.

use serde_json::{json, Map, Value};

/// One documented operation.
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// Who may call it, in words.
    pub who: &'static str,
    pub body: Option<&'static str>,
    pub as_of: bool,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    who: &'static str,
) -> Op {
    Op {
        method,
        path,
        summary,
        who,
        body: None,
        as_of: false,
    }
}

const fn with_body(mut o: Op, body: &'static str) -> Op {
    o.body = Some(body);
    o
}

const fn with_as_of(mut o: Op) -> Op {
    o.as_of = true;
    o
}

const ANY: &str = "any signed-in user";
const SCOPED: &str =
    "recorder and inspector in their organisation and below; investigator, admin everywhere";

pub const OPS: &[Op] = &[
    op("get", "/api/health", "Liveness and the ledger head (no token needed)", "anyone"),
    op("get", "/api/me", "The signed-in user", ANY),
    with_body(
        op("post", "/api/record/{kind}", "Record a step of the procedure (as `jishi record KIND --json`); the actor is the signed-in user", "recorder (any step, own org and below), inspector (its opinions and petition handling), admin (also overrides)"),
        "The command: election_id, candidate_id (candidate-level kinds), occurred_at (RFC 3339), the kind's fields, optionally override {rule, justification}",
    ),
    op("get", "/api/elections", "Elections in scope with their compliance status", SCOPED),
    with_as_of(op("get", "/api/elections/{election}", "An election: summary, candidates, compliance, statistics", SCOPED)),
    with_as_of(op("get", "/api/elections/{election}/check", "Compliance findings with evidence positions", SCOPED)),
    with_as_of(op("get", "/api/elections/{election}/stats", "Team statistics", SCOPED)),
    with_as_of(op("get", "/api/elections/{election}/candidates", "Candidates and where each stands", SCOPED)),
    with_as_of(op("get", "/api/elections/{election}/joint-review", "The joint review (联审): candidates by department, departments that gave no verdict, who flagged whom", SCOPED)),
    with_as_of(op("get", "/api/elections/{election}/deferrals", "Every deferral (暂缓提名) and how it ended", SCOPED)),
    with_as_of(op("get", "/api/elections/{election}/supervision", "The supervision group's coverage: each step with its visits, and the findings", SCOPED)),
    op("get", "/api/composition", "A congress's composition: the elected of several units counted together (?elections=a,b or ?kind=K, those in scope) and held to its procedure's [composition] quotas", SCOPED),
    op("get", "/api/units/{unit}", "One election unit across its elections, term by term (those in scope)", SCOPED),
    with_as_of(op("get", "/api/elections/{election}/candidates/{candidate}/trail", "A candidate's full trail (recorded as an access.read event); restricted content shown as its digest", SCOPED)),
    with_as_of(op("get", "/api/elections/{election}/candidates/{candidate}/accountability", "Who nominated, inspected, checked, decided, approved (recorded as an access.read event)", SCOPED)),
    with_as_of(op("get", "/api/elections/{election}/candidates/{candidate}/up-one-level", "上查一级: the candidate's serious breaches, the direct chain and those one level up (recorded as an access.read event)", SCOPED)),
    op("get", "/api/elections/{election}/candidates/{candidate}/accesses", "Who read or exported this candidate's records, and when", "inspector (in scope), investigator, admin"),
    with_body(
        op("post", "/api/elections/{election}/petitions/{petition}/source", "Record a petitioner's identity in the confidential annex", "inspector"),
        "{candidate_id, identity, contact?}",
    ),
    op("get", "/api/elections/{election}/petitions/{petition}/source", "A petitioner's identity (recorded as an access.read event)", "inspector, investigator"),
    op("get", "/api/verify", "The last verification and the checkpoint it covers", ANY),
    op("post", "/api/verify", "Start verifying the whole ledger (chain and tree) in the background: 202 with the job (?wait=true: 200 with the outcome once done)", "investigator, admin"),
    op("get", "/api/verify/job", "The newest verification job: running with events checked of the total, or done with its outcome", "investigator, admin"),
    op("get", "/api/checkpoint", "The latest signed checkpoint", ANY),
    op("post", "/api/checkpoint", "Verify, then sign and store a checkpoint with the server's key", "admin"),
    with_body(
        op("post", "/api/export", "A candidate's case file with inclusion proofs (recorded as an access.exported event)", "investigator"),
        "{election_id, candidate_id}",
    ),
    op("get", "/api/users", "Every user", "admin"),
    with_body(op("post", "/api/users", "Add a user; the token is returned once", "admin"), "{id, name, role: recorder|inspector|investigator|admin, org, acts_as?}"),
    with_body(op("post", "/api/users/{user}/revoke", "Revoke a user", "admin"), "{reason}"),
    // Across the ledgers of one service (D112): every ledger's own routes
    // above are also served under /ledgers/{name}, users excepted.
    op("get", "/api/ledgers", "The ledgers of this service you can see something in: origin, size, newest checkpoint, elections in scope", ANY),
    op("get", "/api/search/all", "Search every ledger in your scope: ?q= words, ?person_ref=p1:… a person in every ledger, ?finding= a finding kind or any; each hit names its ledger", SCOPED),
];

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "the request field at fault (400)"},
                "rule": {"type": "string", "description": "the procedure rule that refuses (422)"},
                "source": {"type": "string", "description": "where the rule comes from"}
            }
        }}
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPS {
        let mut params: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if o.as_of {
            params.push(json!({"name": "as_of", "in": "query", "required": false,
                "description": "a ledger position, an RFC 3339 time or a date (end of that day, +08:00)",
                "schema": {"type": "string"}}));
            params.push(json!({"name": "as_of_occurred", "in": "query", "required": false,
                "description": "instead of as_of, the other clock: the events that had happened by this RFC 3339 time or date, whenever recorded; the answer names its clock",
                "schema": {"type": "string"}}));
        }
        let mut operation = json!({
            "summary": o.summary,
            "description": format!("Who may call it: {}.", o.who),
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"}
            }
        });
        if o.method == "post" {
            operation["responses"]["201"] = json!({"description": "Created"});
            operation["responses"]["409"] = json!({"$ref": "#/components/responses/Error"});
            operation["responses"]["422"] = json!({"$ref": "#/components/responses/Error"});
        }
        if o.path == "/api/health" {
            operation["security"] = json!([]);
        }
        if let Some(b) = o.body {
            operation["requestBody"] = json!({
                "required": true,
                "description": b,
                "content": {"application/json": {"schema": {"type": "object"}}}
            });
        }
        let item = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        item[o.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "jishi (纪实) API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A tamper-evident ledger of every step of candidate selection. Every request but /api/health needs `Authorization: Bearer <token>` (tokens from `jishi user add`). Errors are JSON and name the field at fault; a refused or failed request writes nothing."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": error_schema()},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
        },
        "paths": paths
    })
}
