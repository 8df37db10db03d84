//go:build unix

// Command ecsterm-load holds many concurrent sessions open through the emulator, each driven by
// its own ecsterm process, and reports ecsterm's peak memory per session and how quota refusals
// read. It builds ecsterm, starts the emulator in-process with a fleet large enough for -n
// sessions at the per-instance limit, then starts -n `ecsterm exec` processes that all hold
// their session until every one is connected.
//
//	go run ./cmd/ecsterm-load -n 200
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

func main() {
	n := flag.Int("n", 200, "concurrent sessions")
	perInstance := flag.Int("per-instance", 10, "connected sessions the emulator allows per instance")
	flag.Parse()
	if err := run(*n, *perInstance); err != nil {
		fmt.Fprintln(os.Stderr, "ecsterm-load:", err)
		os.Exit(1)
	}
}

func run(n, perInstance int) error {
	dir, err := os.MkdirTemp("", "ecsterm-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "ecsterm")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/ecsterm").CombinedOutput(); err != nil {
		return fmt.Errorf("building ecsterm (run from the repository root): %v\n%s", err, out)
	}
	instances := (n + perInstance - 1) / perInstance
	var fleet strings.Builder
	fleet.WriteString("region: cn-hangzhou\ninstances:\n")
	for i := range instances {
		fmt.Fprintf(&fleet, "  - {id: i-emuload%05d, name: load-%03d, agent: {version: 2.2.3.1032, online: true, sessionManager: true}}\n", i, i)
	}
	f, err := emulator.ParseFleet([]byte(fleet.String()))
	if err != nil {
		return err
	}
	emu, err := emulator.New(emulator.Options{Fleet: f, SessionsPerInstance: perInstance, SessionsPerRegion: n + 100})
	if err != nil {
		return err
	}
	defer emu.Close()
	c := emu.Credential()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + c.AccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + c.AccessKeySecret,
		"ALIBABA_CLOUD_REGION_ID=" + emu.Region(), "ECSTERM_ENDPOINT=" + emu.Endpoint()}

	// Every command waits for a gate file, so all n sessions are open at the same time.
	gate := filepath.Join(dir, "gate")
	ready := filepath.Join(dir, "ready")
	if err := os.Mkdir(ready, 0o700); err != nil {
		return err
	}
	type result struct {
		rss  int64 // KiB
		err  string
		code int
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("i-emuload%05d", i/perInstance)
			script := fmt.Sprintf("touch %s/%d; while [ ! -e %s ]; do sleep 0.1; done; echo ok", ready, i, gate)
			cmd := exec.Command(bin, "exec", "-T", id, "--", script)
			cmd.Env = env
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			r := result{err: strings.TrimSpace(errb.String())}
			if cmd.ProcessState != nil {
				r.code = cmd.ProcessState.ExitCode()
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
					r.rss = ru.Maxrss
				}
			}
			if err != nil && r.err == "" {
				r.err = err.Error()
			}
			results[i] = r
		}()
	}
	// Wait until every session has started its command, then let them all finish.
	for {
		entries, _ := os.ReadDir(ready)
		if len(entries) == n {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("only %d of %d sessions opened in 5 minutes", len(entries), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	allOpen := time.Since(start)
	os.WriteFile(gate, nil, 0o600)
	wg.Wait()

	var rss []int64
	failed := 0
	for _, r := range results {
		if r.code != 0 {
			failed++
			continue
		}
		rss = append(rss, r.rss)
	}
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	fmt.Printf("ecsterm-load: %d concurrent sessions on %d emulated instances (limit %d connected per instance)\n", n, instances, perInstance)
	fmt.Printf("all %d sessions open after %.1f s; %d failed\n", n, allOpen.Seconds(), failed)
	if len(rss) > 0 {
		fmt.Printf("peak RSS per ecsterm process (one session each): median %.1f MiB, max %.1f MiB\n",
			float64(rss[len(rss)/2])/1024, float64(rss[len(rss)-1])/1024)
	}

	// One more session than the limit on one instance: the refusal must say what it is.
	id := "i-emuload00000"
	var hold []*exec.Cmd
	for range perInstance {
		cmd := exec.Command(bin, "exec", "-T", id, "--", fmt.Sprintf("while [ ! -e %s2 ]; do sleep 0.1; done", gate))
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			return err
		}
		hold = append(hold, cmd)
	}
	for emu.ConnectedSessions(id) < perInstance {
		time.Sleep(50 * time.Millisecond)
	}
	over := exec.Command(bin, "exec", "-T", id, "--", "true")
	over.Env = env
	out, _ := over.CombinedOutput()
	fmt.Printf("session %d on one instance: exit %d: %s\n", perInstance+1, over.ProcessState.ExitCode(), strings.TrimSpace(string(out)))
	os.WriteFile(gate+"2", nil, 0o600)
	for _, c := range hold {
		c.Wait()
	}
	return nil
}
