gateway {
  state_dir = "./state"
  wireguard {
    subnet_cidr = "100.64.0.0/24"
  }
}

peer "oncall" {
  public_key = "kP8xKmSGJ1hqWzJ6cVk0bVlQeE9XU2FxQ3d4TnN3cE0="
  address    = "100.64.0.2"
  profile    = profile.platform
}

peer "intern" {
  public_key = "Wm9uZGVyYmFyQmF6UXV4UXV1eFF1dXhRdXV4UXV1eDA="
  address    = "100.64.0.3"
  profile    = profile.readonly
}

endpoint "postgres" "prod-db" {
  host = "db.internal:5432"
}

endpoint "postgres" "analytics" {
  host = "warehouse.internal:5432"
}

credential "postgres_credential" "pg-ro" {
  endpoints = [postgres.prod-db, postgres.analytics]
  user      = "ro"
  password  = env("PG_RO_PASSWORD")
}

credential "postgres_credential" "pg-rw" {
  endpoint = postgres.prod-db
  user     = "rw"
  password = env("PG_RW_PASSWORD")
}

profile "platform" {
  credentials = [postgres_credential.pg-ro, postgres_credential.pg-rw]
}

profile "readonly" {
  credentials = [postgres_credential.pg-ro]
}

rule "unknown-fact" {
  endpoint  = postgres.prod-db
  condition = "sql.verbb == 'select'"
  verdict   = "allow"
}

rule "heredoc-type-error" {
  endpoint  = postgres.prod-db
  condition = <<-CEL
    sql.verb == 'select'
      && size(sql.tables) > 0
      && sql.verb + 1 == 2
  CEL
  verdict   = "allow"
}

rule "js-regex-refused" {
  endpoint  = postgres.prod-db
  condition = "sql.statement.matches('^(a+)+$')"
  verdict   = "deny"
}

rule "not-bool" {
  endpoint  = postgres.prod-db
  condition = "sql.verb"
  verdict   = "deny"
}

rule "wrong-family-fact" {
  endpoint  = postgres.prod-db
  condition = "http.method == 'get'"
  verdict   = "deny"
}

rule "syntax" {
  endpoint  = postgres.prod-db
  condition = "sql.verb == 'select' &&"
  verdict   = "deny"
}

rule "bad-re2" {
  endpoint  = postgres.prod-db
  condition = "re.matches('(unclosed', sql.statement)"
  verdict   = "deny"
}

rule "fine-literal-mentioning-matches" {
  endpoint  = postgres.prod-db
  condition = "sql.statement == 'x.matches(y)' || re.matches('^select', sql.statement)"
  verdict   = "deny"
}
