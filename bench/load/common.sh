# Shared by the load scripts (sourced): loopback ports and waiting for a server to answer.

# A free loopback port, chosen by the kernel.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (5 s at most) until URL answers 2xx; exits the script otherwise.
wait_http() {
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "not answering: $1" >&2; exit 1
}
