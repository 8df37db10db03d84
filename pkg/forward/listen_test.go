package forward

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestConnsListsLiveConnections is what ~# shows: every connection being served, on -L and -D
// listeners alike, with where it came from and where it goes, and none once they are over.
func TestConnsListsLiveConnections(t *testing.T) {
	g := newGateway(t)
	port := serveTarget(t, echo)
	fw := &Forwarder{Open: g.open, Report: newReports().add, Resolver: fakeResolver{"svc.internal": "10.0.0.7"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lns, err := fw.Bind(ctx, []LocalSpec{{Bind: "127.0.0.1", HostPort: port}}, []DynamicSpec{{Bind: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(lns) != 2 || lns[0].SOCKS || !lns[1].SOCKS {
		t.Fatalf("Bind returned %+v, want the -L listener then the -D one", lns)
	}
	if got, want := lns[0].To(), "localhost:"+strconv.Itoa(port); got != want {
		t.Errorf("-L listener goes to %q, want %q", got, want)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		fw.ServeAll(ctx, lns)
	}()

	local := dial(t, lns[0].Addr().String())
	roundTrip(t, local, 1024) // served from here on
	socks := dial(t, lns[1].Addr().String())
	if _, err := socks.Write(socksConnect(1, 3, []byte("svc.internal"), port)); err != nil {
		t.Fatal(err)
	}
	if code := socksReplyCode(t, socks); code != 0 {
		t.Fatalf("SOCKS reply code %d", code)
	}
	roundTrip(t, socks, 1024)

	got := fw.Conns()
	if len(got) != 2 || fw.Active() != 2 {
		t.Fatalf("Conns() = %+v, Active() = %d; want the 2 open connections", got, fw.Active())
	}
	want := []Conn{
		{ID: 1, Listen: lns[0].Addr().String(), From: local.LocalAddr().String(), To: "localhost:" + strconv.Itoa(port)},
		{ID: 2, SOCKS: true, Listen: lns[1].Addr().String(), From: socks.LocalAddr().String(), To: "svc.internal:" + strconv.Itoa(port) + " (10.0.0.7)"},
	}
	for i, c := range got {
		if c.Since.IsZero() {
			t.Errorf("connection %d has no start time", c.ID)
		}
		c.Since = want[i].Since
		if c != want[i] {
			t.Errorf("Conns()[%d] = %+v, want %+v", i, c, want[i])
		}
	}

	cancel()
	<-served
	if n := len(fw.Conns()); n != 0 {
		t.Errorf("%d connections listed after ServeAll returned, want none", n)
	}
}

// TestBindAllOrNothing: when one listener cannot be opened, the ones already opened are closed,
// so a forward is never half set up.
func TestBindAllOrNothing(t *testing.T) {
	busy := listen(t)
	_, busyPort, _ := net.SplitHostPort(busy.Addr().String())
	bp, _ := strconv.Atoi(busyPort)
	fw := &Forwarder{}
	free := listen(t)
	freeAddr := free.Addr().String()
	_, fp, _ := net.SplitHostPort(freeAddr)
	freePort, _ := strconv.Atoi(fp)
	free.Close() // a port that was free a moment ago: the first spec binds it
	lns, err := fw.Bind(context.Background(),
		[]LocalSpec{{Bind: "127.0.0.1", Port: freePort, HostPort: 80}},
		[]DynamicSpec{{Bind: "127.0.0.1", Port: bp}})
	if err == nil {
		CloseAll(lns)
		t.Fatal("Bind succeeded with a port in use")
	}
	if !strings.Contains(err.Error(), "cannot listen on 127.0.0.1:"+busyPort) {
		t.Errorf("error %q does not name the address in use", err)
	}
	// The first listener was closed again: its port can be bound anew.
	ln, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("the first listener was left open: %v", err)
	}
	ln.Close()
}
