package simserver

import (
	"context"
	"time"

	"github.com/iot-dr/iot-dr/simulator"
)

// regionState is one Region and the chaos state the server applied to it.
type regionState struct {
	role string
	r    *simulator.Region
	ip   string

	// down and brokerDown are guarded by Server.mu: down is the Region-outage verb
	// (broker, APIs, replication), brokerDown the broker alone (set by either verb).
	// The probe's force-fail switch lives on the Edge (Edge.ProbeFailing).
	down, brokerDown bool
	flap             *flapRun // guarded by Server.mu
}

// flapRun is one background flap of a Region's probe.
type flapRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	period time.Duration
	count  int
}

func (f *flapRun) running() bool {
	if f == nil {
		return false
	}
	select {
	case <-f.done:
		return false
	default:
		return true
	}
}

// stopFlapLocked cancels a running flap and waits for it; Server.mu must be held.
func (rs *regionState) stopFlapLocked() {
	if rs.flap != nil {
		rs.flap.cancel()
		<-rs.flap.done
		rs.flap = nil
	}
}

// startFlapLocked replaces any flap of rs with a new one: count toggles period apart,
// starting with a failing probe and alternating; the probe is left passing at the end,
// and when the flap is cancelled. Server.mu must be held.
func (s *Server) startFlapLocked(rs *regionState, period time.Duration, count int) *flapRun {
	rs.stopFlapLocked()
	ctx, cancel := context.WithCancel(context.Background())
	f := &flapRun{cancel: cancel, done: make(chan struct{}), period: period, count: count}
	rs.flap = f
	go func() {
		defer close(f.done)
		defer s.edge.SetProbeFailing(rs.r.Name, false)
		t := time.NewTicker(period)
		defer t.Stop()
		for i := range count {
			s.edge.SetProbeFailing(rs.r.Name, i%2 == 0)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return f
}
