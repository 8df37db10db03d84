//go:build unix

package term

import (
	"os"
	"testing"
)

func TestIsTerminal(t *testing.T) {
	ptmx, tty := openPTY(t, Size{Rows: 24, Cols: 80})
	r, _ := pipe(t)
	closed, _ := pipe(t)
	closed.Close()

	tests := []struct {
		name string
		f    *os.File
		want bool
	}{
		{"pty slave", tty, true},
		{"pty master", ptmx, true},
		{"pipe", r, false},
		{"closed file", closed, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTerminal(tt.f); got != tt.want {
				t.Errorf("IsTerminal() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGetSize(t *testing.T) {
	_, tty := openPTY(t, Size{Rows: 33, Cols: 101})
	r, _ := pipe(t)

	tests := []struct {
		name    string
		f       *os.File
		want    Size
		wantErr bool
	}{
		{"pty", tty, Size{Rows: 33, Cols: 101}, false},
		{"pipe", r, Size{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GetSize(tt.f)
			if (err != nil) != tt.wantErr {
				t.Fatalf("GetSize() error = %v, want error: %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("GetSize() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
