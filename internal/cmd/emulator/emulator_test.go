package emulator

import (
	"testing"
	"time"
)

func TestAsReal(t *testing.T) {
	given := map[string]bool{}
	changed := func(name string) bool { return given[name] }

	o := &Options{AgentDelay: 0, SessionLimit: time.Minute}
	o.asReal(changed)
	e := o.emuOptions()
	if e.AgentStartDelay != time.Second || !e.AgentPacing || e.SessionLimit != 3*time.Hour {
		t.Errorf("--real: delay %v, pacing %v, limit %v; want 1s, on, 3h", e.AgentStartDelay, e.AgentPacing, e.SessionLimit)
	}

	given["agent-delay"], given["session-limit"] = true, true
	o = &Options{AgentDelay: 0, SessionLimit: time.Minute, StreamRate: 800_000, IdleTimeout: 5 * time.Second, PortExit: true, LaterRedial: true}
	o.asReal(changed)
	e = o.emuOptions()
	if e.AgentStartDelay != 0 || !e.AgentPacing || e.SessionLimit != time.Minute {
		t.Errorf("--real with --agent-delay 0 --session-limit 1m: delay %v, pacing %v, limit %v", e.AgentStartDelay, e.AgentPacing, e.SessionLimit)
	}
	if e.StreamRate != 800_000 || e.IdleTimeout != 5*time.Second || !e.PortCloseEndsChannel || !e.LaterAgentsRedial {
		t.Errorf("options not passed on: %+v", e)
	}
}
