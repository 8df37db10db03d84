// Command ecsterm-bench measures ecsterm as a whole process against OpenSSH and raw TCP on this
// machine, side by side in one run, and writes one table of medians with their spread over the
// runs, ratios to the reference and the project's aims: as markdown (stdout and -md), as JSON
// (-json) and as an SVG chart (-svg). It builds ecsterm, starts the emulator in-process (plain
// and over TLS, agent start-up delay zero, and once with the realistic delay) and a private
// sshd on loopback.
//
//	go run ./cmd/ecsterm-bench -runs 10 -size 256MiB -md bench.md -json bench.json -svg bench.svg
//	go run ./cmd/ecsterm-bench -quick                # every section, small and fast (CI)
//	go run ./cmd/ecsterm-bench -only bulk -tls on    # one section, TLS only
//
// Sections: startup (exec -- true and connect's first byte vs ssh), echo (keystroke round trips
// on a PTY vs ssh -tt), bulk (exec -- cat of -size bytes to /dev/null vs ssh and raw TCP),
// forward (forward -L with 1 and 8 connections vs ssh -L and raw TCP). CPU seconds per GiB and
// peak RSS come from each client process's rusage.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) }

// config is one run's settings, from the flags.
type config struct {
	runs  int
	size  int64         // bytes per bulk or forward measurement
	keys  int           // keystrokes per echo session per run
	delay time.Duration // the realistic agent start-up delay
	tls   string        // both, on or off
	only  map[string]bool

	mdOut, jsonOut, svgOut string
	bin                    string // a prebuilt ecsterm; empty builds one
	profDir                string // CPU profiles of every ecsterm process go here
	from                   string // render this JSON report instead of measuring
	args                   []string

	stdout, progress io.Writer
}

var sections = []string{"startup", "echo", "bulk", "forward", "persist"}

// Main parses args, runs the suite and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ecsterm-bench:", err)
		return 2
	}
	cfg.stdout, cfg.progress = stdout, stderr
	if cfg.profDir != "" && cfg.from == "" {
		stop, err := profileSelf(filepath.Join(cfg.profDir, "bench.prof"))
		if err != nil {
			fmt.Fprintln(stderr, "ecsterm-bench:", err)
			return 1
		}
		defer stop()
	}
	if cfg.from != "" {
		err = render(cfg)
	} else {
		_, err = run(cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, "ecsterm-bench:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("ecsterm-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{args: args}
	fs.IntVar(&cfg.runs, "runs", 10, "runs of every measurement (medians and p10–p90 are over these)")
	size := fs.String("size", "256MiB", "bytes per bulk and forward measurement: 256MiB, 64M, 1GiB or a byte count")
	fs.IntVar(&cfg.keys, "keys", 200, "keystrokes per echo session and run")
	fs.DurationVar(&cfg.delay, "realistic-delay", time.Second, "the real agent's PTY start-up delay, for the realistic rows")
	fs.StringVar(&cfg.tls, "tls", "both", "emulator transport: both (plain and TLS side by side), on (TLS only) or off (plain only)")
	only := fs.String("only", "", "comma-separated sections to run: "+strings.Join(sections, ","))
	quick := fs.Bool("quick", false, "a fast run of every section with tiny sizes, to check that the suite works (CI); figures are not meaningful")
	fs.StringVar(&cfg.mdOut, "md", "", "also write the markdown report to this file")
	fs.StringVar(&cfg.jsonOut, "json", "", "write the results, raw samples included, as JSON to this file")
	fs.StringVar(&cfg.svgOut, "svg", "", "write a chart of the latency distributions and throughputs to this SVG file")
	fs.StringVar(&cfg.bin, "ecsterm", "", "ecsterm binary to measure (default: build ./cmd/ecsterm from this module)")
	fs.StringVar(&cfg.from, "from", "", "measure nothing: render -md, -svg (and the table on stdout) from the -json file of an earlier run")
	fs.StringVar(&cfg.profDir, "cpuprofile-dir", "", "write a CPU profile of every ecsterm process to this directory (ECSTERM_CPUPROFILE), named by command, emulator and sequence, and one of this process (the emulators, sources and sinks) as bench.prof")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.size, err = parseSize(*size); err != nil {
		return cfg, err
	}
	if *quick {
		cfg.runs, cfg.size, cfg.keys = 2, 4<<20, 20
	}
	switch {
	case cfg.runs < 1:
		return cfg, errors.New("-runs must be at least 1")
	case cfg.keys < 1:
		return cfg, errors.New("-keys must be at least 1")
	case cfg.size < 8 || cfg.size%8 != 0:
		return cfg, errors.New("-size must be a positive multiple of 8 bytes (it is split over 8 connections)")
	case cfg.tls != "both" && cfg.tls != "on" && cfg.tls != "off":
		return cfg, fmt.Errorf("-tls takes both, on or off, not %q", cfg.tls)
	}
	cfg.only = map[string]bool{}
	for s := range strings.SplitSeq(*only, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !isSection(s) {
			return cfg, fmt.Errorf("-only: unknown section %q (have %s)", s, strings.Join(sections, ", "))
		}
		cfg.only[s] = true
	}
	return cfg, nil
}

func isSection(s string) bool {
	for _, x := range sections {
		if s == x {
			return true
		}
	}
	return false
}

// wants reports whether section runs.
func (c config) wants(section string) bool { return len(c.only) == 0 || c.only[section] }

// parseSize reads 256MiB, 256M, 1GiB, 4KiB or a plain byte count.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"G", 30}, {"M", 20}, {"K", 10}}
	num, shift := s, uint(0)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > 1<<(62-shift) {
		return 0, fmt.Errorf("size %q is not a byte count like 256MiB", s)
	}
	return n << shift, nil
}

// render writes the outputs of an earlier run from its JSON report.
func render(cfg config) error {
	b, err := os.ReadFile(cfg.from)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", cfg.from, err)
	}
	rep.judge() // by today's rules: the measurements are the run's, the wording is not
	cfg.jsonOut = ""
	return rep.write(cfg)
}

// run runs the selected sections and writes the outputs.
func run(cfg config) (*report, error) {
	r, err := newRig(cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	rep := newReport(cfg, r)
	steps := []struct {
		name string
		fn   func(*rig, *report) error
	}{{"startup", startupSection}, {"echo", echoSection}, {"bulk", bulkSection}, {"forward", forwardSection}, {"persist", persistSection}}
	for _, s := range steps {
		if !cfg.wants(s.name) {
			continue
		}
		start := time.Now()
		if err := s.fn(r, rep); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		r.logf("%s done in %s", s.name, time.Since(start).Round(time.Second))
	}
	rep.finish()
	return rep, rep.write(cfg)
}

// profileSelf writes a CPU profile of this process, which hosts the emulators (gateway and
// agents), the TCP source and the sinks: the server side of every ecsterm figure, which shares
// the machine with the client and so bounds what the client can show.
func profileSelf(path string) (stop func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
