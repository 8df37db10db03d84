package term

import (
	"slices"
	"testing"
	"time"
)

func TestLatest(t *testing.T) {
	a, b, c := Size{24, 80}, Size{40, 120}, Size{50, 132}
	tests := []struct {
		name string
		// rounds of offers; after each round the consumer takes what is owed, if anything
		rounds [][]Size
		want   []Size
	}{
		{"first size is sent", [][]Size{{a}}, []Size{a}},
		{"nothing offered, nothing sent", [][]Size{{}}, nil},
		{"a change is sent", [][]Size{{a}, {b}}, []Size{a, b}},
		{"the same size is not sent again", [][]Size{{a}, {a}, {a, a}}, []Size{a}},
		{"a slow consumer gets only the latest", [][]Size{{a, b, c}}, []Size{c}},
		{"a change undone before it is taken is dropped", [][]Size{{a}, {b, c, a}}, []Size{a}},
		{"a change back after it was taken is sent", [][]Size{{a}, {b}, {a}}, []Size{a, b, a}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q latest
			var got []Size
			for _, round := range tt.rounds {
				for _, s := range round {
					q.offer(s)
				}
				if q.owed {
					got = append(got, q.pending)
					q.taken()
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("sent %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResizeHub(t *testing.T) {
	const never = time.Hour // an interval no test waits for

	t.Run("a resize reaches every watcher", func(t *testing.T) {
		var hub resizeHub
		hub.readerStarted()
		a, stopA := hub.subscribe(never, never)
		defer stopA()
		b, stopB := hub.subscribe(never, never)
		defer stopB()
		hub.resized()
		<-a
		<-b
	})

	t.Run("notices fold into one and never block the reader", func(t *testing.T) {
		var hub resizeHub
		events, stop := hub.subscribe(never, never)
		defer stop()
		for range 3 {
			hub.resized() // nobody receives: this must not block
		}
		<-events
		select {
		case <-events:
			t.Error("a second notice for resizes the watcher had not yet taken")
		default:
		}
	})

	t.Run("without a reader the poll ticks", func(t *testing.T) {
		var hub resizeHub
		events, stop := hub.subscribe(time.Millisecond, never)
		defer stop()
		<-events
		<-events
	})

	t.Run("with a reader the backstop ticks", func(t *testing.T) {
		var hub resizeHub
		hub.readerStarted()
		events, stop := hub.subscribe(never, time.Millisecond)
		defer stop()
		<-events
		<-events
	})

	t.Run("stop unsubscribes", func(t *testing.T) {
		var hub resizeHub
		events, stop := hub.subscribe(never, never)
		stop()
		hub.resized()
		select {
		case <-events:
			t.Error("a notice after stop")
		default:
		}
		if len(hub.subs) != 0 {
			t.Errorf("%d subscriptions left after stop", len(hub.subs))
		}
	})
}
