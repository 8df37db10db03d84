package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ecsterm/ecsterm/internal/bench"
	"github.com/ecsterm/ecsterm/internal/emulator"
)

// The rig: the ecsterm binary, the emulators it talks to and the private sshd, set up once and
// shared by every section.

// inst is the emulated instance every measurement uses.
const inst = "i-emu0demo000000001"

// transport is one emulator and the environment that points ecsterm at it.
type transport struct {
	name string // "plain" or "TLS"
	emu  *emulator.Emulator
	env  []string
}

type rig struct {
	cfg   config
	dir   string
	bin   string
	trans []*transport // the transports measured, plain first
	slow  *transport   // the realistic agent delay, over TLS when TLS is measured
	sshd  *bench.SSHD
	procs int // ecsterm processes started, for profile names
}

func newRig(cfg config) (_ *rig, err error) {
	r := &rig{cfg: cfg}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	if r.dir, err = os.MkdirTemp("", "ecsterm-bench-"); err != nil {
		return nil, err
	}
	if r.sshd, err = bench.StartSSHD(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenSSH reference: %w", err)
	}
	if r.bin = cfg.bin; r.bin == "" {
		if r.bin, err = buildEcsterm(r.dir); err != nil {
			return nil, err
		}
	}
	var tlsModes []bool
	switch cfg.tls {
	case "both":
		tlsModes = []bool{false, true}
	case "on":
		tlsModes = []bool{true}
	default:
		tlsModes = []bool{false}
	}
	for _, on := range tlsModes {
		// 8 forwarded connections at a time, run after run, need more than the default 10
		// connected channels while the last run's are still being unregistered.
		t, err := r.startEmulator(emulator.Options{TLS: on, SessionsPerInstance: 64})
		if err != nil {
			return nil, err
		}
		r.trans = append(r.trans, t)
	}
	if r.slow, err = r.startEmulator(emulator.Options{TLS: tlsModes[len(tlsModes)-1], AgentStartDelay: cfg.delay}); err != nil {
		return nil, err
	}
	return r, nil
}

// buildEcsterm builds ./cmd/ecsterm of the module this command runs in.
func buildEcsterm(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ecsterm")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/ecsterm")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building ecsterm: %v\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot finds go.mod from the working directory up (go run and go test both start inside
// the module).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory: run from the repository, or give -ecsterm")
		}
		dir = parent
	}
}

func (r *rig) startEmulator(opts emulator.Options) (*transport, error) {
	e, err := emulator.New(opts)
	if err != nil {
		return nil, err
	}
	t := &transport{name: "plain", emu: e}
	c := e.Credential()
	t.env = bench.Env("HOME="+r.dir, "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true", "ALIBABA_CLOUD_ACCESS_KEY_ID="+c.AccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+c.AccessKeySecret, "ALIBABA_CLOUD_REGION_ID="+e.Region(),
		"ECSTERM_ENDPOINT="+e.Endpoint(), "TERM=xterm-256color")
	if opts.TLS {
		// Trusted the standard way: Go's crypto/x509 reads SSL_CERT_FILE for the system roots.
		ca := filepath.Join(r.dir, fmt.Sprintf("emulator-%p.pem", e))
		if err := os.WriteFile(ca, e.CACertPEM(), 0o644); err != nil {
			e.Close()
			return nil, err
		}
		t.name, t.env = "TLS", append(t.env, "SSL_CERT_FILE="+ca)
	}
	return t, nil
}

// ecsterm returns a command running the ecsterm under test against t.
func (r *rig) ecsterm(t *transport, args ...string) *exec.Cmd {
	cmd := exec.Command(r.bin, args...)
	cmd.Env = t.env
	if r.cfg.profDir != "" {
		r.procs++
		verb := args[0]
		if verb == "-o" && len(args) > 2 {
			verb = args[2]
		}
		name := fmt.Sprintf("%s-%s-%03d.prof", verb, t.name, r.procs)
		cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], "ECSTERM_CPUPROFILE="+filepath.Join(r.cfg.profDir, name))
	}
	return cmd
}

// ssh returns a command running OpenSSH's client against the private sshd: options, then the
// remote command.
func (r *rig) ssh(opts []string, remote string) *exec.Cmd {
	cmd := exec.Command("ssh", append(r.sshd.SSHArgs(opts...), remote)...)
	cmd.Env = bench.Env("HOME="+r.dir, "TERM=xterm-256color")
	return cmd
}

func (r *rig) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.progress, "ecsterm-bench: "+format+"\n", args...)
}

func (r *rig) close() {
	for _, t := range append(r.trans, r.slow) {
		if t != nil {
			t.emu.Close()
		}
	}
	if r.sshd != nil {
		r.sshd.Close()
	}
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}

// timed wraps a command maker as a measurement of its wall time.
func timed(mk func() *exec.Cmd) func() (time.Duration, error) {
	return func() (time.Duration, error) { return bench.Timed(mk()) }
}
