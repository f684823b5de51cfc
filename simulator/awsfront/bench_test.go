package awsfront_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/awsfront"
	"github.com/iot-dr/iot-dr/simulator/shadow"
)

// workers is how many callers share the endpoint, each with its own connection.
var benchWorkers = flag.Int("simapi.workers", 2, "BenchmarkSimAPI: concurrent callers")

// BenchmarkSimAPI measures the AWS endpoint through the real SDK clients over loopback
// HTTP with rate limits off: DescribeThing (control plane, REST-JSON) and
// UpdateThingShadow (data plane), reporting calls/s across -simapi.workers callers and
// the p99 latency of one call. Every shadow update is captured and replicated by the
// whole pipeline (documents on the broker, rule, capture, state table, stream, apply,
// the secondary's shadow), so UpdateThingShadow measures the World on the same two
// cores; UpdateThingShadow/paused pauses the global table's replication;
// UpdateThingShadow/endpoint serves a shadow service with no broker behind it, so it
// measures the endpoint, the SDK and the shadow fake alone.
func BenchmarkSimAPI(b *testing.B) {
	workers := *benchWorkers
	ctx := context.Background()
	w, err := simulator.New(ctx, simulator.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	// No edge: health checkers probing both brokers every interval are not what is
	// measured. RegionsHandler serves the same IoT planes Front.Handler does.
	var regions []awsfront.Region
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		regions = append(regions, awsfront.Region{Name: r.Name, Registry: r.Registry, Shadows: r.Shadows})
	}
	srv := httptest.NewServer(awsfront.RegionsHandler(regions, awsfront.HandlerOptions{}))
	b.Cleanup(srv.Close)
	// One device per caller: devices update their own shadows, and one thing's
	// updates are serialised by its version.
	for wk := range workers {
		if _, err := w.ProvisionDevice(ctx, simulator.Device{Thing: benchThing(wk), Attributes: map[string]string{"fleet": "bench"}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Settle(ctx); err != nil {
		b.Fatal(err)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	b.Cleanup(transport.CloseIdleConnections)
	httpClient := &http.Client{Transport: transport}
	region := w.Primary.Name
	ctl := iot.NewFromConfig(awsConfig(region), func(o *iot.Options) { o.BaseEndpoint = aws.String(srv.URL); o.HTTPClient = httpClient })
	data := iotdataplane.NewFromConfig(awsConfig(region), func(o *iotdataplane.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.HTTPClient = httpClient
	})
	calls := []struct {
		name string
		call func(wk, i int) error
	}{
		{"DescribeThing", func(wk, _ int) error {
			_, err := ctl.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(benchThing(wk))})
			return err
		}},
		{"UpdateThingShadow", func(wk, i int) error {
			_, err := data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(benchThing(wk)),
				Payload: fmt.Appendf(nil, `{"state":{"reported":{"seq":%d}}}`, i)})
			return err
		}},
	}
	bareSrv := httptest.NewServer(awsfront.RegionsHandler([]awsfront.Region{{Name: region, Registry: w.Primary.Registry, Shadows: shadow.New(discard{})}}, awsfront.HandlerOptions{}))
	b.Cleanup(bareSrv.Close)
	bare := iotdataplane.NewFromConfig(awsConfig(region), func(o *iotdataplane.Options) {
		o.BaseEndpoint = aws.String(bareSrv.URL)
		o.HTTPClient = &http.Client{Transport: transport}
	})
	calls = append(calls, struct {
		name string
		call func(wk, i int) error
	}{"UpdateThingShadow/paused", calls[1].call}, struct {
		name string
		call func(wk, i int) error
	}{"UpdateThingShadow/endpoint", func(wk, i int) error {
		_, err := bare.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(benchThing(wk)),
			Payload: fmt.Appendf(nil, `{"state":{"reported":{"seq":%d}}}`, i)})
		return err
	}})
	for _, c := range calls {
		b.Run(c.name, func(b *testing.B) {
			if c.name == "UpdateThingShadow/paused" {
				w.Replication.Pause()
				defer w.Replication.Resume()
			}
			lat := make([][]time.Duration, workers)
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				fail error
				next = make(chan int, workers)
			)
			b.ResetTimer()
			start := time.Now()
			for wk := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						t0 := time.Now()
						if err := c.call(wk, i); err != nil {
							mu.Lock()
							fail = err
							mu.Unlock()
						}
						lat[wk] = append(lat[wk], time.Since(t0))
					}
				}()
			}
			for i := range b.N {
				next <- i
			}
			close(next)
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if fail != nil {
				b.Fatal(fail)
			}
			all := slices.Concat(lat...)
			slices.Sort(all)
			p99 := all[min(len(all)-1, len(all)*99/100)]
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
			b.ReportMetric(float64(p99)/float64(time.Millisecond), "p99-ms")
		})
	}
}

func benchThing(worker int) string { return fmt.Sprintf("bench-%d", worker) }

// discard is a shadow publisher with no broker: nothing subscribes.
type discard struct{}

func (discard) Publish(string, []byte, byte) error { return nil }

// BenchmarkHandler is the endpoint's own cost per DescribeThing, without the SDK
// client or the network: routing, decoding, the registry call and REST-JSON encoding
// (ns/op, allocs/op).
func BenchmarkHandler(b *testing.B) {
	ctx := context.Background()
	w, err := simulator.New(ctx, simulator.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	if _, err := w.ProvisionDevice(ctx, simulator.Device{Thing: "bench"}); err != nil {
		b.Fatal(err)
	}
	h := awsfront.RegionsHandler([]awsfront.Region{{Name: w.Primary.Name, Registry: w.Primary.Registry, Shadows: w.Primary.Shadows}}, awsfront.HandlerOptions{})
	auth := "AWS4-HMAC-SHA256 Credential=AKID/20260101/" + w.Primary.Name + "/iot/aws4_request, SignedHeaders=host, Signature=0"
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "http://sim/things/bench", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("DescribeThing: %d %s", rec.Code, rec.Body)
		}
	}
}
