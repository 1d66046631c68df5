gateway {
  state_dir = "./state"
  mode      = "shadow"
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

rule "no-drops" {
  endpoint  = postgres.prod-db
  condition = "sql.verb == 'drop'"
  verdict   = "deny"
}
