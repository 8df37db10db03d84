package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/ecsterm/ecsterm/internal/bench"
)

// The persist section: warm sessions (exec and cp --persist) against a cold exec and against
// OpenSSH's warm connection (ControlMaster with ControlPersist), on the realistic agent (the
// agent's start-up delay, over TLS when TLS is measured). The warm-up round starts the holder
// and the master; the rounds after it measure what a script's second to thirtieth command
// costs.

// persistSize is the file warm cp and scp copy.
const persistSize = 1 << 20

func persistSection(r *rig, rep *report) error {
	t := r.slow
	control := []string{"-o", "ControlMaster=auto", "-o", "ControlPersist=60", "-o", "ControlPath=" + filepath.Join(r.dir, "cm-%C")}
	defer func() {
		_ = r.ecsterm(t, "persist", "stop").Run()
		_ = r.ssh(append([]string{"-O", "exit"}, control...), "").Run()
	}()
	file := filepath.Join(r.dir, "persist.bin")
	if err := writeRandomFile(file, persistSize); err != nil {
		return err
	}
	defer os.Remove(file)
	warm := []string{"--persist", "60s"}
	execWarm := timed(func() *exec.Cmd {
		return r.ecsterm(t, append(append([]string{"exec"}, warm...), "-T", inst, "--", "true")...)
	})
	execCold := timed(func() *exec.Cmd { return r.ecsterm(t, "exec", "-T", inst, "--", "true") })
	sshWarm := timed(func() *exec.Cmd { return r.ssh(control, "true") })
	r.logf("persist: exec -- true warm, cold and ssh ControlMaster, %d runs, agent delay %s", r.cfg.runs, r.cfg.delay)
	res, err := bench.Interleave(r.cfg.runs, execWarm, execCold, sshWarm)
	if err != nil {
		return err
	}
	warmS, coldS, sshS := bench.Summarise(res[0]), bench.Summarise(res[1]), bench.Summarise(res[2])
	metric := "exec --persist -- true, warm, wall time, realistic agent delay " + r.cfg.delay.String()
	rep.add(row{Section: "persist", Metric: metric, Transport: t.name, Ecsterm: warmS, RefName: "cold exec -- true", Reference: &coldS,
		Note: "aim: median ≤ 50 ms"})
	rep.add(row{Section: "persist", Metric: metric, Transport: t.name, Ecsterm: warmS,
		RefName: "ssh -o ControlMaster=auto -o ControlPersist=60 true", Reference: &sshS, Aim: atMost(1.5, "ssh ControlMaster")})
	p := panel{Title: "Warm sessions: exec -- true (ms, log scale)", Unit: "ms", Log: true, Series: []series{
		{Label: "ecsterm exec --persist, warm", Kind: "ecsterm-" + t.name, Values: msValues(res[0])},
		{Label: "ecsterm exec, cold", Kind: "ecsterm-" + t.name, Values: msValues(res[1])},
		{Label: "ssh, ControlMaster warm", Kind: "ssh", Values: msValues(res[2])}}}
	rep.Panels = append(rep.Panels, p)

	dest := "/tmp/ecsterm-bench-persist.bin"
	defer os.Remove(dest)
	cpWarm := timed(func() *exec.Cmd { return r.ecsterm(t, append(append([]string{"cp"}, warm...), file, inst+":"+dest)...) })
	scpWarm := timed(func() *exec.Cmd { return r.scp(control, file, dest) })
	r.logf("persist: cp 1 MiB warm and scp over the ControlMaster, %d runs", r.cfg.runs)
	res, err = bench.Interleave(r.cfg.runs, cpWarm, scpWarm)
	if err != nil {
		return err
	}
	cpS, scpS := bench.Summarise(res[0]), bench.Summarise(res[1])
	rep.add(row{Section: "persist", Metric: fmt.Sprintf("cp --persist of %d MiB, warm, wall time", persistSize>>20), Transport: t.name, Ecsterm: cpS,
		RefName: "scp -O over the same ControlMaster", Reference: &scpS, Aim: atMost(2, "scp")})
	rep.Panels = append(rep.Panels, panel{Title: "Warm sessions: cp of 1 MiB (ms, log scale)", Unit: "ms", Log: true, Series: []series{
		{Label: "ecsterm cp --persist, warm", Kind: "ecsterm-" + t.name, Values: msValues(res[0])},
		{Label: "scp -O, ControlMaster warm", Kind: "ssh", Values: msValues(res[1])}}})
	return nil
}

// scp returns a command copying file to dest on the private sshd with OpenSSH's scp, in its
// original protocol (-O: the bench's sshd has no sftp subsystem), with the given options.
func (r *rig) scp(opts []string, file, dest string) *exec.Cmd {
	args := r.sshd.SSHArgs(opts...)
	host := args[len(args)-1]
	args = args[:len(args)-1]
	for i, a := range args {
		if a == "-p" { // ssh's port flag is scp's -P
			args[i] = "-P"
		}
	}
	cmd := exec.Command("scp", append(append([]string{"-O", "-q"}, args...), file, host+":"+dest)...)
	cmd.Env = bench.Env("HOME="+r.dir, "TERM=xterm-256color")
	return cmd
}
