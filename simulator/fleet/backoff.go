package fleet

import (
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential backoff with full jitter, as recommended
// for AWS IoT devices: before retry n (counting from 0) a device sleeps a
// uniformly random duration in [0, min(Cap, Base*2^n)).
type Backoff struct {
	// Base is the ceiling of the first sleep.
	Base time.Duration
	// Cap bounds every ceiling.
	Cap time.Duration
}

// Ceiling returns min(Cap, Base*2^attempt), the longest sleep before retry
// attempt; it is the backoff term of a failover's time bound.
func (b Backoff) Ceiling(attempt int) time.Duration {
	if b.Base <= 0 {
		return 0
	}
	c := b.Base
	for range max(attempt, 0) {
		if c >= b.Cap || c > b.Cap/2 {
			return b.Cap
		}
		c *= 2
	}
	return min(c, b.Cap)
}

// Delay returns the sleep before retry attempt, drawn from rng.
func (b Backoff) Delay(attempt int, rng *rand.Rand) time.Duration {
	c := b.Ceiling(attempt)
	if c <= 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(c)))
}
