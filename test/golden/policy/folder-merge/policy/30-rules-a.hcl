# Declared first (file order): wins the priority tie.
rule "from-file-30" {
  endpoint  = postgres.db
  condition = "sql.verb == 'select'"
  verdict   = "allow"
}
