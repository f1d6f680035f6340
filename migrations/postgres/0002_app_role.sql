-- jishi ledger, PostgreSQL, version 2: the application role.
--
-- `jishi_app` may read the ledger and append to it, nothing else: no UPDATE,
-- DELETE or TRUNCATE, no DDL. It is created NOLOGIN (roles are shared by the
-- whole cluster, and a password does not belong in a migration); to run jishi
-- under it, either
--   * give it a login:        ALTER ROLE jishi_app LOGIN PASSWORD '…';
--   * or log in as a member:  CREATE ROLE recorder LOGIN PASSWORD '…' IN ROLE jishi_app;
--                             ALTER ROLE recorder SET role = 'jishi_app';
--   * or, connected as a member, add `options=-crole=jishi_app` to the URL.
-- When the role initialising the ledger may not create roles, the role is
-- skipped with a notice saying how a DBA creates it; the grants below are
-- then given once it exists by re-running this file's GRANT statements.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jishi_app') THEN
        IF (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            CREATE ROLE jishi_app NOLOGIN;
        ELSE
            RAISE NOTICE 'jishi: cannot create role jishi_app as %; ask a DBA to run CREATE ROLE jishi_app NOLOGIN and the grants of migrations/postgres/0002_app_role.sql', current_user;
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jishi_app') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO jishi_app', current_schema());
        GRANT SELECT, INSERT ON events TO jishi_app;
        GRANT SELECT ON jishi_migrations TO jishi_app;
    END IF;
END
$$;
