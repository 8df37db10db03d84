// Command ecsterm-bench measures ecsterm as a whole process against OpenSSH on this machine, in
// one run, and prints a markdown table (and JSON with -json). It starts the emulator in-process
// and a private sshd on loopback.
//
//	go run ./cmd/ecsterm-bench -runs 20 -json bench.json
//	go run ./cmd/ecsterm-bench -only forward -size 256 -fwd-runs 3
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ecsterm/ecsterm/internal/bench"
	"github.com/ecsterm/ecsterm/internal/emulator"
)

// row is one line of the table.
type row struct {
	Metric    string       `json:"metric"`
	Ecsterm   bench.Stats  `json:"ecsterm"`
	Reference *bench.Stats `json:"reference,omitempty"`
	RefName   string       `json:"reference_name,omitempty"`
	Ratio     float64      `json:"ratio,omitempty"` // ecsterm median / reference median
	Note      string       `json:"note,omitempty"`
}

func main() {
	runs := flag.Int("runs", 20, "measurements of each kind")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	only := flag.String("only", "", "run one section: startup or forward (default both)")
	size := flag.Int64("size", 256, "forward section: MiB moved per measurement")
	fwdRuns := flag.Int("fwd-runs", 3, "forward section: measurements of each kind")
	flag.Parse()
	if *only != "" && *only != "startup" && *only != "forward" {
		fmt.Fprintln(os.Stderr, "ecsterm-bench: -only takes startup or forward")
		os.Exit(2)
	}
	if err := run(*runs, *jsonOut, *only, *size<<20, *fwdRuns); err != nil {
		fmt.Fprintln(os.Stderr, "ecsterm-bench:", err)
		os.Exit(1)
	}
}

func run(runs int, jsonOut, only string, size int64, fwdRuns int) error {
	ctx := context.Background()
	os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	dir, err := os.MkdirTemp("", "ecsterm-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "ecsterm")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/ecsterm").CombinedOutput(); err != nil {
		return fmt.Errorf("building ecsterm (run from the repository root): %v\n%s", err, out)
	}

	emu, err := emulator.New(emulator.Options{})
	if err != nil {
		return err
	}
	defer emu.Close()
	slow, err := emulator.New(emulator.Options{AgentStartDelay: time.Second})
	if err != nil {
		return err
	}
	defer slow.Close()
	sshd, err := bench.StartSSHD(ctx)
	if err != nil {
		return err
	}
	defer sshd.Close()

	envFor := func(e *emulator.Emulator) []string {
		c := e.Credential()
		return bench.Env("ALIBABA_CLOUD_ECS_METADATA_DISABLED=true", "ALIBABA_CLOUD_ACCESS_KEY_ID="+c.AccessKeyID,
			"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+c.AccessKeySecret, "ALIBABA_CLOUD_REGION_ID="+e.Region(),
			"ECSTERM_ENDPOINT="+e.Endpoint(), "TERM=xterm-256color")
	}
	const inst = "i-emu0demo000000001"
	ecsterm := func(e *emulator.Emulator, args ...string) func() *exec.Cmd {
		return func() *exec.Cmd {
			c := exec.Command(bin, args...)
			c.Env = envFor(e)
			return c
		}
	}
	ssh := func(args ...string) func() *exec.Cmd {
		return func() *exec.Cmd {
			c := exec.Command("ssh", append(sshd.SSHArgs(args[:len(args)-1]...), args[len(args)-1])...)
			c.Env = bench.Env("TERM=xterm-256color")
			return c
		}
	}
	wall := func(mk func() *exec.Cmd) func() (time.Duration, error) {
		return func() (time.Duration, error) { return bench.WallTime(mk) }
	}
	first := func(mk func() *exec.Cmd) func() (time.Duration, error) {
		return func() (time.Duration, error) { return bench.FirstByte(ctx, mk) }
	}
	var rows []row
	pair := func(metric, refName string, a, b func() (time.Duration, error)) error {
		sa, sb, err := bench.Pair(runs, a, b)
		if err != nil {
			return fmt.Errorf("%s: %w", metric, err)
		}
		ea, eb := bench.Summarise(sa), bench.Summarise(sb)
		rows = append(rows, row{Metric: metric, Ecsterm: ea, Reference: &eb, RefName: refName, Ratio: ea.Median / eb.Median})
		return nil
	}
	single := func(metric, note string, a func() (time.Duration, error)) error {
		var s []time.Duration
		if _, err := a(); err != nil {
			return fmt.Errorf("%s: %w", metric, err)
		}
		for range runs {
			d, err := a()
			if err != nil {
				return fmt.Errorf("%s: %w", metric, err)
			}
			s = append(s, d)
		}
		rows = append(rows, row{Metric: metric, Ecsterm: bench.Summarise(s), Note: note})
		return nil
	}

	var fwdRows []fwdRow
	if only != "startup" {
		// Its own emulator: 8 connections at a time, run after run, need more than the default
		// 10 connected channels while the last run's are still being unregistered.
		fe, err := emulator.New(emulator.Options{SessionsPerInstance: 64})
		if err != nil {
			return err
		}
		defer fe.Close()
		mk := func(args ...string) *exec.Cmd { return ecsterm(fe, args...)() }
		if fwdRows, err = forwardSection(ctx, mk, sshd, inst, size, fwdRuns); err != nil {
			return fmt.Errorf("forward: %w", err)
		}
		if only == "forward" {
			printForward(fwdRows, size, fwdRuns)
			return writeJSON(jsonOut, map[string]any{"cpus": runtime.NumCPU(), "go": runtime.Version(), "forward": fwdRows})
		}
	}

	calls0 := totalCalls(emu)
	if err := pair("exec -- true, wall time (agent delay 0)", "ssh localhost true",
		wall(ecsterm(emu, "exec", "-T", inst, "--", "true")), wall(ssh("true"))); err != nil {
		return err
	}
	perExec := float64(totalCalls(emu)-calls0) / float64(runs+1)
	if err := pair("connect, start to first output byte (agent delay 0)", "ssh -tt localhost, first byte",
		first(ecsterm(emu, "connect", inst)), first(ssh("-tt", "bash"))); err != nil {
		return err
	}
	if err := single("exec -- true, wall time (realistic agent delay 1 s)", "the real agent starts its PTY about 1 s after the connection",
		wall(ecsterm(slow, "exec", "-T", inst, "--", "true"))); err != nil {
		return err
	}
	if err := single("connect, start to first output byte (realistic agent delay 1 s)", "",
		first(ecsterm(slow, "connect", inst))); err != nil {
		return err
	}

	host, _ := os.Hostname()
	fmt.Printf("ecsterm-bench: %d runs each, %s/%s, %d CPUs, %s, host %s, %s\n\n", runs, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), host, time.Now().UTC().Format(time.RFC3339))
	fmt.Println("| metric | ecsterm median (p10–p90) | reference | reference median (p10–p90) | ratio |")
	fmt.Println("|---|---:|---|---:|---:|")
	for _, r := range rows {
		ref, refStats, ratio := "—", "—", "—"
		if r.Reference != nil {
			ref, refStats, ratio = r.RefName, fmtStats(*r.Reference), fmt.Sprintf("%.2f×", r.Ratio)
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.Metric, fmtStats(r.Ecsterm), ref, refStats, ratio)
	}
	fmt.Printf("\nAPI calls per exec: %.1f (preflight's two in parallel with StartTerminalSession, then EndTerminalSession)\n", perExec)
	if fwdRows != nil {
		printForward(fwdRows, size, fwdRuns)
	}
	return writeJSON(jsonOut, map[string]any{"runs": runs, "cpus": runtime.NumCPU(), "go": runtime.Version(), "rows": rows, "api_calls_per_exec": perExec, "forward": fwdRows})
}

func writeJSON(file string, v any) error {
	if file == "" {
		return nil
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return os.WriteFile(file, b, 0o644)
}

func fmtStats(s bench.Stats) string {
	return fmt.Sprintf("%.1f ms (%.1f–%.1f)", s.Median, s.P10, s.P90)
}

func totalCalls(e *emulator.Emulator) int {
	n := 0
	for _, a := range []string{"DescribeInstances", "DescribeCloudAssistantStatus", "StartTerminalSession", "EndTerminalSession"} {
		n += e.Calls(a)
	}
	return n
}
