# Fixtures here give raw statements: the facts come from the real Postgres parser, as on the wire.
gateway {
  state_dir = "./state"
  wireguard {
    subnet_cidr = "100.64.0.0/24"
  }
}

endpoint "postgres" "prod-db" {
  host = "db.internal:5432"
}

credential "postgres_credential" "app" {
  endpoint = postgres.prod-db
  user     = "app"
}

profile "default" {
  credentials = [postgres_credential.app]
}

rule "no-ddl" {
  endpoint  = postgres.prod-db
  priority  = 100
  condition = "sql.verb in ['drop', 'truncate', 'alter']"
  verdict   = "deny"
  reason    = "schema changes go through migrations"
}

rule "no-secret-columns" {
  endpoint  = postgres.prod-db
  priority  = 90
  condition = "sets.intersects(sql.columns, ['env_vars.secret', 'env_vars.*'])"
  verdict   = "deny"
  reason    = "secrets stay in the database"
}

rule "deletes-need-a-human" {
  endpoint  = postgres.prod-db
  priority  = 50
  condition = "sql.verb == 'delete'"
  approve   = [human_approver.ops]
}

rule "reads" {
  endpoint  = postgres.prod-db
  condition = "sql.verb in ['select', 'explain', 'do']"
  verdict   = "allow"
}

approver "human_approver" "ops" {
  timeout = "5m"
}
