gateway {
  state_dir = "./state"
  wireguard {
    subnet_cidr = "100.64.0.0/24"
  }
}

rule "a" {
  endpoint = postgres.db
  verdict  = "allow
}

rule "b" {
  condition = "x" "y"
}
