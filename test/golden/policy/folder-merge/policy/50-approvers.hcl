approver "human_approver" "ops" {
  timeout = "2m"
}
