//! Schema drift in the PostgreSQL schema (see [`crate::drift`]): the
//! append-only triggers as `pg_trigger` holds them, and what the
//! application role `jishi_app` may do, as the server would judge it
//! (`has_table_privilege` and friends count grants to PUBLIC, column grants
//! and inherited roles, which `information_schema.role_table_grants` does
//! not show).
//!
//! What `jishi_app` should hold, after migration 7 (D63): SELECT on every
//! ledger table; INSERT on `tree_nodes`, `checkpoints` and `attestations`
//! (migration 8: a row there is a signature, which the role cannot forge);
//! INSERT and
//! UPDATE on `tree_state` (the frontier row moves with each append);
//! EXECUTE on `jishi_append_events`, through which it appends events;
//! nothing else: no INSERT on `events` (it would choose positions and
//! times), no UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER, no CREATE
//! in the schema, and it must not be a superuser or bypass row security.

use tokio_postgres::GenericClient;

use super::pg;
use crate::drift::{SchemaDrift, APPEND_ONLY_TRIGGERS, POSTGRES_TRUNCATE_TRIGGERS};
use crate::store::StoreError;

/// The application role whose grants are checked.
const APP_ROLE: &str = "jishi_app";

/// Table privileges PostgreSQL knows, in the order reported.
const PRIVILEGES: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
];

/// The privileges `jishi_app` should hold on a table of the ledger's schema.
fn expected(table: &str) -> &'static [&'static str] {
    match table {
        "events" | "jishi_migrations" => &["SELECT"],
        "tree_nodes" | "checkpoints" | "attestations" => &["SELECT", "INSERT"],
        "tree_state" => &["SELECT", "INSERT", "UPDATE"],
        _ => &[],
    }
}

const TRIGGERS: &str = "SELECT c.relname::text, t.tgname::text, t.tgenabled::text, \
     p.proname::text, pg_get_triggerdef(t.oid) \
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid \
     WHERE n.nspname = current_schema() AND NOT t.tgisinternal";

const REFUSE_FUNCTION: &str = "SELECT p.prosrc FROM pg_proc p \
     JOIN pg_namespace n ON n.oid = p.pronamespace \
     WHERE n.nspname = current_schema() AND p.proname = 'jishi_refuse_change'";

const ROLE: &str = "SELECT rolsuper, rolbypassrls, \
     has_schema_privilege(oid, current_schema(), 'CREATE') FROM pg_roles WHERE rolname = $1";

/// Per table of the schema and privilege: does the role hold it? For
/// privileges that can be granted on columns, a column grant counts.
const GRANTS: &str = "SELECT c.relname::text, priv, \
     CASE WHEN priv IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') \
          THEN has_any_column_privilege($1, c.oid, priv) \
          ELSE has_table_privilege($1, c.oid, priv) END \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     CROSS JOIN unnest($2::text[]) AS priv \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
     ORDER BY c.relname, array_position($2::text[], priv)";

const APPEND_FUNCTION: &str = "SELECT p.prosecdef, p.proconfig IS NOT NULL, \
     has_function_privilege($1, p.oid, 'EXECUTE') FROM pg_proc p \
     JOIN pg_namespace n ON n.oid = p.pronamespace \
     WHERE n.nspname = current_schema() AND p.proname = 'jishi_append_events'";

pub(super) async fn schema_drift<C: GenericClient>(
    client: &C,
) -> Result<Vec<SchemaDrift>, StoreError> {
    let mut out = Vec::new();
    triggers(client, &mut out).await?;
    grants(client, &mut out).await?;
    Ok(out)
}

async fn triggers<C: GenericClient>(
    client: &C,
    out: &mut Vec<SchemaDrift>,
) -> Result<(), StoreError> {
    let what = "reading the ledger's triggers";
    let rows = client.query(TRIGGERS, &[]).await.map_err(pg(what))?;
    let found = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<_, String>(0)?,
                r.try_get::<_, String>(1)?,
                r.try_get::<_, String>(2)?,
                r.try_get::<_, String>(3)?,
                r.try_get::<_, String>(4)?,
            ))
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        .map_err(pg(what))?;
    for (table, name, op) in APPEND_ONLY_TRIGGERS
        .iter()
        .chain(POSTGRES_TRUNCATE_TRIGGERS)
    {
        let object = format!("trigger {name} on {table}");
        let Some((_, _, enabled, function, def)) =
            found.iter().find(|(t, n, ..)| t == table && n == name)
        else {
            out.push(SchemaDrift::new(
                object,
                format!("is missing (dropped): {op} on {table} is no longer refused"),
            ));
            continue;
        };
        match enabled.as_str() {
            "O" | "A" => {}
            "D" => out.push(SchemaDrift::new(
                object.clone(),
                format!(
                    "is disabled (pg_trigger.tgenabled = 'D', ALTER TABLE … DISABLE TRIGGER): \
                     {op} on {table} is no longer refused"
                ),
            )),
            other => out.push(SchemaDrift::new(
                object.clone(),
                format!(
                    "fires only in replica sessions (pg_trigger.tgenabled = '{other}'): {op} on \
                     {table} is no longer refused in ordinary sessions"
                ),
            )),
        }
        if function != "jishi_refuse_change" || !def.contains(&format!("BEFORE {op} ON ")) {
            out.push(SchemaDrift::new(
                object,
                format!(
                    "was replaced: it should run jishi_refuse_change() BEFORE {op}, but is: {def}"
                ),
            ));
        }
    }
    let body: Option<String> = client
        .query_opt(REFUSE_FUNCTION, &[])
        .await
        .map_err(pg(what))?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg(what))?;
    if !body.is_some_and(|b| b.contains("RAISE EXCEPTION")) {
        out.push(SchemaDrift::new(
            "function jishi_refuse_change()",
            "is missing or no longer raises an exception: the triggers that call it refuse nothing",
        ));
    }
    Ok(())
}

async fn grants<C: GenericClient>(
    client: &C,
    out: &mut Vec<SchemaDrift>,
) -> Result<(), StoreError> {
    let what = "reading the application role's privileges";
    let Some(role) = client
        .query_opt(ROLE, &[&APP_ROLE])
        .await
        .map_err(pg(what))?
    else {
        // No application role (the initialising role could not create it,
        // migration 2): nothing runs under it, so it has nothing to drift.
        return Ok(());
    };
    let (superuser, bypass_rls, create): (bool, bool, bool) = (
        role.try_get(0).map_err(pg(what))?,
        role.try_get(1).map_err(pg(what))?,
        role.try_get(2).map_err(pg(what))?,
    );
    if superuser {
        out.push(SchemaDrift::new(
            format!("role {APP_ROLE}"),
            "is a superuser: no grant or trigger binds it",
        ));
    }
    if bypass_rls {
        out.push(SchemaDrift::new(
            format!("role {APP_ROLE}"),
            "has BYPASSRLS, which it should not",
        ));
    }
    if create {
        out.push(SchemaDrift::new(
            format!("grant to {APP_ROLE} on the ledger's schema"),
            "holds CREATE: it could add objects next to the ledger (revoke it)",
        ));
    }
    let privileges: Vec<&str> = PRIVILEGES.to_vec();
    let rows = client
        .query(GRANTS, &[&APP_ROLE, &privileges])
        .await
        .map_err(pg(what))?;
    for r in &rows {
        let table: String = r.try_get(0).map_err(pg(what))?;
        let privilege: String = r.try_get(1).map_err(pg(what))?;
        let held: bool = r.try_get(2).map_err(pg(what))?;
        let should = expected(&table).contains(&privilege.as_str());
        if held && !should {
            out.push(SchemaDrift::new(
                format!("grant to {APP_ROLE} on {table}"),
                format!(
                    "holds {privilege} (on the table or a column), which it should not: it \
                     should hold only {} (REVOKE {privilege} ON {table} FROM {APP_ROLE})",
                    listed(expected(&table))
                ),
            ));
        } else if should && !held {
            out.push(SchemaDrift::new(
                format!("grant to {APP_ROLE} on {table}"),
                format!("lacks {privilege}, which jishi needs to run under it"),
            ));
        }
    }
    match client
        .query_opt(APPEND_FUNCTION, &[&APP_ROLE])
        .await
        .map_err(pg(what))?
    {
        None => out.push(SchemaDrift::new(
            "function jishi_append_events",
            "is missing: events cannot be appended",
        )),
        Some(r) => {
            let (definer, pinned, execute): (bool, bool, bool) = (
                r.try_get(0).map_err(pg(what))?,
                r.try_get(1).map_err(pg(what))?,
                r.try_get(2).map_err(pg(what))?,
            );
            if !definer || !pinned {
                out.push(SchemaDrift::new(
                    "function jishi_append_events",
                    "is no longer SECURITY DEFINER with its own search_path",
                ));
            }
            if !execute {
                out.push(SchemaDrift::new(
                    format!("grant to {APP_ROLE} on function jishi_append_events"),
                    "lacks EXECUTE: jishi cannot append under the role",
                ));
            }
        }
    }
    Ok(())
}

fn listed(privileges: &[&str]) -> String {
    if privileges.is_empty() {
        "nothing".into()
    } else {
        privileges.join(", ")
    }
}
