// Command ecsterm is an ssh-like terminal for Alibaba Cloud ECS instances.
package main

import (
	"os"

	"github.com/ecsterm/ecsterm/internal/cli"
)

func main() { os.Exit(cli.Main()) }
