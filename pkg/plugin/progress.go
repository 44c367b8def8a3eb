package plugin

import (
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/term"
)

// progressInterval bounds how often the progress line is redrawn: a
// thousand tenants finish in a few seconds, and a redraw per tenant would
// cost the terminal more than the count is worth.
const progressInterval = 100 * time.Millisecond

// progress is a one-line counter ("Ready 734/1000") redrawn in place on a
// terminal. On anything else (a pipe, a file, a CI log) it writes nothing:
// a log of carriage returns helps nobody, and a program reading stderr
// wants only the errors.
type progress struct {
	w     io.Writer
	label string
	total int

	mu    sync.Mutex
	done  int
	drawn time.Time
	shown bool
}

// newProgress counts to total under label; it is silent unless w is a
// terminal.
func newProgress(w io.Writer, label string, total int) *progress {
	if !isTerminal(w) {
		w = nil
	}
	return &progress{w: w, label: label, total: total}
}

// isTerminal reports whether w is a file that is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// add counts n more done; safe from several goroutines.
func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.drawLocked(false)
}

// set replaces the count, for a wait that recounts every round.
func (p *progress) set(done int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	p.drawLocked(true)
}

func (p *progress) drawLocked(force bool) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if !force && p.done < p.total && now.Sub(p.drawn) < progressInterval {
		return
	}
	p.drawn = now
	p.shown = true
	fmt.Fprintf(p.w, "\r%s %d/%d", p.label, p.done, p.total)
}

// clear erases the line, so that what is printed next starts clean.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil && p.shown {
		// Carriage return, then erase to the end of the line (ECMA-48 EL).
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}
