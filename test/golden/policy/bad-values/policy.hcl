gateway {
  state_dir        = "./state"
  dashboard_listen = "localhost"
  mode             = "audit"
  wireguard {
    listen_port  = 0
    subnet_cidr  = "100.64.0.0"
    subnet6_cidr = "10.0.0.0/8"
    endpoint     = "https://gw.example.com"
  }
}

defaults {
  no_match      = "maybe"
  unknown_host  = "allow"
  human_timeout = "soon"
}

endpoint "postgres" "db" {
  host    = "db.internal"
  sslmode = "sometimes"
}

endpoint "https" "api" {
  hosts = []
}

credential "postgres_credential" "pg" {
  endpoint = postgres.db
  user     = "app"
  password = "hunter2"
}

credential "bearer_token" "tok" {
  endpoint  = https.api
  endpoints = [https.api]
  token     = env("")
}

credential "basic_auth" "orphan" {
  username = "u"
}

profile "p" {
  credentials = [postgres_credential.pg, bearer_token.nope, { credential = basic_auth.orphan, colour = "red" }]
}

approver "human_approver" "ops" {
  channel           = "#ops"
  bot_token         = env("SLACK_BOT_TOKEN")
  approvers         = ["U0123ABC", "alice"]
  require_approvers = 3
}

approver "llm_approver" "judge" {
  model    = "m"
  provider = "gemini"
  url      = "ftp://x"
}

peer "a" {
  public_key = "kP8xKmSGJ1hqWzJ6cVk0bVlQeE9XU2FxQ3d4TnN3cE0="
  address    = "fd00::2"
}
