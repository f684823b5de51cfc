package fleetsync

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress reports a sync's progress on a writer (stderr): on a terminal one line
// rewritten in place with a bar, the count, the rate and the ETA; otherwise plain
// lines, at most one per Interval and at least one per 10% of the total. It is safe
// for concurrent use.
type Progress struct {
	w        io.Writer
	tty      bool
	interval time.Duration
	now      func() time.Time

	mu          sync.Mutex
	start       time.Time
	total       int // -1 while unknown
	done, fails int
	lastPrint   time.Time
	lastDecile  int
	width       int // length of the last terminal line, to blank leftovers
}

// NewProgress returns a Progress writing to w; tty selects the in-place terminal
// form. interval is the plain form's period (2 s when 0).
func NewProgress(w io.Writer, tty bool, interval time.Duration) *Progress {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	return &Progress{w: w, tty: tty, interval: interval, now: time.Now, total: -1}
}

// begin starts the clock: rates and ETAs count from the start of the sync.
func (p *Progress) begin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = p.now()
	p.lastPrint = p.start
}

// SetTotal sets the number of things expected.
func (p *Progress) SetTotal(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = n
}

// Add counts one finished thing.
func (p *Progress) Add(failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.start.IsZero() {
		p.start, p.lastPrint = now, now
	}
	p.done++
	if failed {
		p.fails++
	}
	minGap := p.interval
	if p.tty {
		minGap = 100 * time.Millisecond
	}
	decile := -1
	if p.total > 0 {
		decile = p.done * 10 / p.total
	}
	if now.Sub(p.lastPrint) < minGap && (p.tty || decile <= p.lastDecile) {
		return
	}
	p.lastPrint = now
	if decile > p.lastDecile {
		p.lastDecile = decile
	}
	p.print(now)
}

// Finish prints the final state (and ends the terminal line).
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == 0 {
		return
	}
	p.print(p.now())
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *Progress) print(now time.Time) {
	elapsed := now.Sub(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed.Seconds()
	}
	count := fmt.Sprintf("%d things", p.done)
	pct, eta := "", ""
	if p.total > 0 {
		count = fmt.Sprintf("%d/%d things", p.done, p.total)
		pct = fmt.Sprintf(" (%.0f%%)", 100*float64(min(p.done, p.total))/float64(p.total))
		if rate > 0 && p.total > p.done {
			eta = ", ETA " + time.Duration(float64(p.total-p.done)/rate*float64(time.Second)).Round(time.Second).String()
		}
	}
	if !p.tty {
		fmt.Fprintf(p.w, "sync: %s%s, %.1f/s%s, %d failed\n", count, pct, rate, eta, p.fails)
		return
	}
	bar := ""
	if p.total > 0 {
		const n = 24
		full := min(n, p.done*n/p.total)
		bar = "[" + strings.Repeat("#", full) + strings.Repeat("-", n-full) + "] "
	}
	line := fmt.Sprintf("sync %s%s%s, %.1f/s%s, %d failed", bar, count, pct, rate, eta, p.fails)
	pad := ""
	if len(line) < p.width {
		pad = strings.Repeat(" ", p.width-len(line))
	}
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}
