rule "from-file-40" {
  endpoint  = postgres.db
  condition = "sql.verb == 'select'"
  verdict   = "deny"
}

rule "references-a-later-file" {
  endpoint  = postgres.db
  priority  = 5
  condition = "sql.verb == 'drop'"
  approve   = [human_approver.ops]
}
