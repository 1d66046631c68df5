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

rule "both" {
  endpoint  = postgres.prod-db
  verdict   = "deny"
  approve   = [human_approver.ops]
}

rule "neither" {
  endpoint = postgres.prod-db
}

rule "mixed" {
  endpoints = [postgres.prod-db, ssh.bastion]
  verdict   = "allow"
}

rule "both" {
  endpoint = postgres.prod-db
  verdict  = "allow"
}

rule "bad-refs" {
  endpoint   = postgres.nope
  credential = postgres_credential.pg-rw
  approve    = [llm_approver.judge, human_approver.missing]
}

rule "wrong-kind" {
  endpoint = profile.platform
  verdict  = "allow"
}

rule "quoted-ref" {
  endpoint = "postgres.prod-db"
  verdict  = "allow"
}

rule "typo" {
  endpoint  = postgres.prod-db
  verdict   = "alow"
  priorty   = 3
}

endpoint "ssh" "bastion" {
  hosts = ["bastion.internal:22"]
}

endpoint "clickhouse_native" "ch" {
  hosts = ["ch.internal"]
}

approver "human_approver" "ops" {
  timeout = "ten minutes"
}

approver "llm_approver" "judge" {
  model     = "llama3.2:3b"
  cache_ttl = "5x"
}

tunnel "ssh_tunnel" "jump" {
}

widget "x" {
}
