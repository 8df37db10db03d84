package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
)

// addSessionFlags adds the persistent flags that shape every session StartTerminalSession starts,
// whichever command starts it.
func addSessionFlags(pf *pflag.FlagSet) {
	pf.String("connection-type", "", "network of the sessions' WebSocket URL: internet, or intranet for a client inside the VPC with no way out (config connection_type; default: the service's, internet)")
	pf.String("password-name", "", "Windows instances: the name of the password Cloud Assistant keeps for the -l user")
	// Asked for by name, it says why it is not there; it is not advertised.
	pf.Bool("encrypt", false, "end-to-end session encryption: not available")
	_ = pf.MarkHidden("encrypt")
}

// errNoEncryption says why StartTerminalSession's EncryptionOptions are not offered.
const errNoEncryption = "--encrypt: session encryption (EncryptionOptions) is not available: the agent's side is published " +
	"but not how a client's frames change under it, and a guess would fail or, worse, seem to work; " +
	"sessions still travel over TLS (wss) to the service"

// checkSessionFlags refuses, before anything is called, what no session of this command can do.
func checkSessionFlags(cmd *cobra.Command, _ []string) error {
	fl := cmd.Flags()
	if fl.Changed("encrypt") {
		return cmdutil.FlagErrorf("%s", errNoEncryption)
	}
	if fl.Changed("password-name") {
		if v, _ := fl.GetString("password-name"); v == "" {
			return cmdutil.FlagErrorf("--password-name is empty")
		}
		if fl.Lookup("user") == nil {
			return cmdutil.FlagErrorf("--password-name goes with a user (-l USER) on commands that log in: connect, exec, cp")
		}
	}
	return nil
}
