package plugin

import (
	"bytes"
	"testing"
)

func TestProgressIsSilentWhenPiped(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "Ready", 3)
	p.add(1)
	p.set(3)
	p.clear()
	if out.Len() != 0 {
		t.Errorf("progress wrote %q to a buffer", out.String())
	}
	// On a terminal it draws and clears; drawLocked is what add and set call.
	p = &progress{w: &out, label: "Ready", total: 1000}
	p.set(734)
	p.clear()
	if got, want := out.String(), "\rReady 734/1000\r\x1b[K"; got != want {
		t.Errorf("progress wrote %q, want %q", got, want)
	}
	if isTerminal(&out) {
		t.Error("a buffer is taken for a terminal")
	}
}
