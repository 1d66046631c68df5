endpoint "postgres" "db" {
  host = "db.internal:5432"
}

credential "postgres_credential" "app" {
  endpoint = postgres.db
  user     = "app"
}

profile "default" {
  credentials = [postgres_credential.app]
}
