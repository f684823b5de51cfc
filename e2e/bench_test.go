package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// BenchmarkReplication drives the whole simulated pipeline (registry change in the
// primary -> rule -> table -> global table -> stream -> trigger -> state machine ->
// worker -> secondary converged) with zero replication delay.
//
// throughput: 2,000 thing creates, each with a certificate and the device policy,
// provisioned as fast as 8 clients can; events/s = creates / time to converge all.
// lag: attribute updates at a steady 200/s for 2 s; lag = from the primary's event
// timestamp to the worker's pass that changed the secondary.
func BenchmarkReplication(b *testing.B) {
	b.Run("throughput", func(b *testing.B) {
		const things, clients = 2000, 8
		var rate float64
		round := 0
		for b.Loop() {
			b.StopTimer()
			w := newWorld(b, simulator.Options{})
			round++
			// Certificates are issued by the device maker, not the pipeline: not timed.
			certs := make([]*pki.Device, things)
			for i := range certs {
				certs[i] = must(b)(w.CA.IssueDevice(fmt.Sprint(i))).(*pki.Device)
			}
			b.StartTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := c; i < things; i += clients {
						if _, err := w.ProvisionDevice(context.Background(), simulator.Device{Thing: fmt.Sprintf("r%d-dev-%05d", round, i), Cert: certs[i]}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			settle(b, w)
			rate = things / time.Since(start).Seconds()
			b.StopTimer()
			assertConverged(b, w)
			w.Close()
			b.StartTimer()
		}
		b.ReportMetric(rate, "events/s")
	})
	b.Run("lag", func(b *testing.B) {
		var p50, p99 time.Duration
		for b.Loop() {
			w := newWorld(b, simulator.Options{})
			const devices = 50
			for i := range devices {
				provision(b, w, simulator.Device{Thing: fmt.Sprintf("dev-%d", i)})
			}
			settle(b, w)
			w.Secondary.Lag.Reset()
			tick := time.NewTicker(5 * time.Millisecond) // 200 changes/s
			for i := range 400 {
				<-tick.C
				thing := fmt.Sprintf("dev-%d", i%devices)
				if _, err := w.Primary.Registry.UpdateThing(context.Background(), &iot.UpdateThingInput{ThingName: aws.String(thing),
					AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"seq": fmt.Sprint(i)}}}); err != nil {
					b.Fatal(err)
				}
			}
			tick.Stop()
			settle(b, w)
			p50, p99 = w.Secondary.Lag.Percentile(50), w.Secondary.Lag.Percentile(99)
			b.StopTimer()
			assertConverged(b, w)
			w.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(p50.Microseconds())/1000, "lag-p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "lag-p99-ms")
	})
}
