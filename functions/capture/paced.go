package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"golang.org/x/time/rate"

	"github.com/iot-dr/iot-dr/functions/replication"
)

// DefaultNamedShadowListRate is AWS's default ListNamedShadowsForThing quota (10
// requests per second per account and Region): the sweep calls it once per thing.
const DefaultNamedShadowListRate = 10

// maxThrottleRetries bounds the retries of a list call throttled despite the pacing
// (another caller in the account, such as iotdr sync, shares the quota).
const maxThrottleRetries = 5

// pacedLists paces one Sweeper's ListNamedShadowsForThing calls; it is shared by
// every sweep page a warm function instance runs.
type pacedLists struct {
	once sync.Once
	lim  *rate.Limiter
}

// namedShadowLister returns the capturer's data plane with ListNamedShadowsForThing
// paced at s.NamedShadowListRate and retried when throttled.
func (s *Sweeper) namedShadowLister() replication.NamedShadowLister {
	s.paced.once.Do(func() {
		r := s.NamedShadowListRate
		if r <= 0 {
			r = DefaultNamedShadowListRate
		}
		s.paced.lim = rate.NewLimiter(rate.Limit(r), 1)
	})
	return pacedLister{next: s.Capturer.Shadows, lim: s.paced.lim}
}

type pacedLister struct {
	next replication.NamedShadowLister
	lim  *rate.Limiter
}

func (p pacedLister) ListNamedShadowsForThing(ctx context.Context, in *iotdataplane.ListNamedShadowsForThingInput, opts ...func(*iotdataplane.Options)) (*iotdataplane.ListNamedShadowsForThingOutput, error) {
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if err := p.lim.Wait(ctx); err != nil {
			return nil, fmt.Errorf("capture: pacing ListNamedShadowsForThing: %w", err)
		}
		out, err := p.next.ListNamedShadowsForThing(ctx, in, opts...)
		if err == nil || !isThrottling(err) || attempt == maxThrottleRetries {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}
