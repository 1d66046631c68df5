gateway {
  state_dir = "../state"
  wireguard {
    subnet_cidr = "100.64.0.0/24"
  }
}
