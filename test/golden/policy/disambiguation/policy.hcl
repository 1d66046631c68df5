gateway {
  state_dir = "./state"
  wireguard {
    subnet_cidr = "100.64.0.0/24"
  }
}

endpoint "postgres" "db" {
  host = "db.internal:5432"
}

endpoint "https" "api" {
  hosts = ["api.internal", "*.api.internal"]
}

credential "postgres_credential" "one" {
  endpoint = postgres.db
  user     = "app"
}

credential "postgres_credential" "two" {
  endpoint = postgres.db
  user     = "app"
}

credential "bearer_token" "t1" {
  endpoint = https.api
}

credential "bearer_token" "t2" {
  endpoint    = https.api
  placeholder = "PH_t2"
}

credential "bearer_token" "t3" {
  endpoint = https.api
}

profile "clash" {
  credentials = [postgres_credential.one, postgres_credential.two]
}

profile "resolved-in-profile" {
  credentials = [
    postgres_credential.one,
    { credential = postgres_credential.two, user = "app_admin" },
  ]
}

profile "http-clash" {
  credentials = [bearer_token.t1, bearer_token.t2, bearer_token.t3]
}

endpoint "tcp" "db-raw" {
  host = "DB.internal:5432"
}

endpoint "https" "api-again" {
  hosts = ["api.internal:443"]
}
