schema_version = 1

gateway {
  dashboard_listen = "127.0.0.1:8080"
  state_dir        = "./clawpatrol-state"
  public_url       = "https://gw.example.com"
  actions_keep     = "720h"
  telemetry        = false
  limits {
    body_buffer  = "1MiB"
    body_storage = "4KiB"
  }
  wireguard {
    subnet_cidr = "10.55.0.0/24"
    listen_port = 51820
    endpoint    = "gw.example.com:51820"
  }
}

defaults {
  unknown_host  = "passthrough"
  human_timeout = 600
  llm_cache_ttl = 300
}

endpoint "postgres" "pg" {
  host        = "db.internal:5432"
  sslmode     = "prefer"
  description = "primary database"
  retention   = "720h"
}

endpoint "https" "github" {
  hosts = ["api.github.com", "github.com"]
}

endpoint "ssh" "build-host" {
  hosts = ["build.example.com:2222"]
}

endpoint "kubernetes" "prod" {
  server = "10.0.0.1:6443"
}

credential "postgres_credential" "pg-ro" {
  endpoint = postgres.pg
  user     = "readonly"
  database = "app"
}

credential "bearer_token" "github" {
  endpoint = https.github
}

credential "bearer_token" "anthropic" {
  endpoint = https.github
  placeholder = "PH_anthropic"
}

credential "ssh_key" "build" {
  endpoint = ssh.build-host
}

credential "passthrough" "k8s" {
  endpoint = kubernetes.prod
}

approver "llm_approver" "judge" {
  model      = "claude-3-5-haiku-latest"
  credential = bearer_token.anthropic
  policy     = <<-EOT
    Deny anything that reads customer PII.
  EOT
}

approver "human_approver" "ops" {
  channel           = "#agent-ops"
  timeout           = 90
  require_approvers = 1
  interactive       = true
}

profile "default" {
  credentials = [postgres_credential.pg-ro, bearer_token.github, bearer_token.anthropic, ssh_key.build, passthrough.k8s]
  hitl_async_grants = false
}

rule "pg-no-ddl" {
  endpoint  = postgres.pg
  priority  = 100
  condition = "sql.verb in ['drop', 'truncate', 'alter']"
  verdict   = "deny"
  reason    = "Schema changes go through a migration PR"
}

rule "pg-deletes-need-a-human" {
  endpoint  = postgres.pg
  priority  = 50
  condition = "sql.verb == 'delete'"
  approve   = [llm_approver.judge, human_approver.ops]
}

rule "pg-reads" {
  endpoint  = postgres.pg
  condition = "sql.verb == 'select' && !sets.intersects(sql.tables, ['users'])"
  verdict   = "allow"
}

rule "pg-default-deny" {
  endpoint  = postgres.pg
  priority  = -100
  verdict   = "deny"
}

rule "gh-read" {
  endpoint  = https.github
  condition = "http.method in ['get', 'head']"
  verdict   = "allow"
}

rule "ssh-exec-allowed" {
  endpoint  = ssh.build-host
  condition = "ssh.verb == 'exec' && ssh.command.startsWith('uname')"
  verdict   = "allow"
}

rule "k8s-no-exec" {
  endpoint  = kubernetes.prod
  priority  = 10
  condition = "k8s.resource == 'pods' && k8s.verb in ['exec', 'attach']"
  verdict   = "deny"
}

rule "k8s-reads" {
  endpoint  = kubernetes.prod
  condition = "k8s.verb in ['get', 'list', 'watch']"
  verdict   = "allow"
  disabled  = false
}
