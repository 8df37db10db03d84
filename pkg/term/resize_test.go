package term

import (
	"slices"
	"testing"
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
