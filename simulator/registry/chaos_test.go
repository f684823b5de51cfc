package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestThrottling(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.SetRate("CreateThing", 2) // burst 2, refills 1 token per 500ms of the fake clock
	create := func(name string) error {
		_, err := f.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)})
		return err
	}
	wantErr(t, create("a"), "")
	wantErr(t, create("b"), "")
	err := create("c")
	mustAs[*types.ThrottlingException](t, err)
	if _, err := f.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("a")}); err != nil {
		t.Errorf("other operations must not be throttled: %v", err)
	}
	_, err = f.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("c")})
	wantErr(t, err, "ResourceNotFoundException") // the throttled call changed nothing

	f.clock.Advance(500 * time.Millisecond)
	wantErr(t, create("c"), "") // recovered: one token refilled
	wantErr(t, create("d"), "ThrottlingException")

	f.SetRate("CreateThing", 0)
	for i := range 20 {
		wantErr(t, create(fmt.Sprintf("free%d", i)), "")
	}

	limited := New(Options{Region: testRegion, AccountID: testAccount, Rates: map[string]float64{"ListThings": 0.5}, Now: f.clock.Now})
	_, err = limited.ListThings(ctx, &iot.ListThingsInput{})
	wantErr(t, err, "")
	_, err = limited.ListThings(ctx, &iot.ListThingsInput{})
	wantErr(t, err, "ThrottlingException") // burst is max(1, tps)
}

func TestSetAvailable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateThing(t, "a", nil, "")
	f.pub.take()
	f.SetAvailable(false)
	_, err := f.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("b")})
	mustAs[*types.ServiceUnavailableException](t, err)
	_, err = f.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("a")})
	wantErr(t, err, "ServiceUnavailableException")
	_, err = f.ListCertificates(ctx, nil)
	wantErr(t, err, "ServiceUnavailableException")
	f.SetAvailable(true)
	_, err = f.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("b")})
	wantErr(t, err, "ResourceNotFoundException")
	if n := len(f.pub.take()); n != 0 {
		t.Errorf("%d events published while down", n)
	}
}

func TestCancelledContext(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("a")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if _, err := f.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String("a")}); err == nil {
		t.Error("a cancelled call created the thing")
	}
}

// TestConcurrentUse hammers one registry from many goroutines (run with
// -race) and checks that the final state and the per-thing event order are
// consistent.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateThingType(t, "ty")
	f.mustCreateGroup(t, "g", "")
	f.mustCreatePolicy(t, "pol")
	const workers, perWorker, updaters = 8, 25, 4
	type certificate struct{ pem, id string }
	certs := make([][]certificate, workers) // generated here: t.Fatal only on the test goroutine
	for w := range certs {
		for range perWorker {
			p, id := certPEM(t)
			certs[w] = append(certs[w], certificate{p, id})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker+updaters)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := fmt.Sprintf("w%d-t%d", w, i)
				pemText, id := certs[w][i].pem, certs[w][i].id
				err := func() error {
					if _, err := f.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name), ThingTypeName: aws.String("ty")}); err != nil {
						return err
					}
					reg, err := f.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(pemText), Status: types.CertificateStatusActive})
					if err != nil {
						return err
					}
					if _, err := f.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(name), Principal: reg.CertificateArn}); err != nil {
						return err
					}
					if _, err := f.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("pol"), Target: reg.CertificateArn}); err != nil {
						return err
					}
					if _, err := f.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(name), ThingGroupName: aws.String("g")}); err != nil {
						return err
					}
					if info, ok := f.CertificateByFingerprint(id); !ok || len(info.Things) != 1 {
						return fmt.Errorf("CertificateByFingerprint(%s) = %+v, %v", id, info, ok)
					}
					_, err = f.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(10)})
					return err
				}()
				if err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
				}
			}
		})
	}
	// Concurrent updates of one thing: its events must carry versions in order.
	f.mustCreateThing(t, "shared", nil, "")
	for u := range updaters {
		wg.Go(func() {
			for i := range perWorker {
				_, err := f.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("shared"),
					AttributePayload: &types.AttributePayload{Merge: true, Attributes: map[string]string{fmt.Sprintf("u%d", u): fmt.Sprint(i)}}})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	var count int
	p := iot.NewListThingsPaginator(f, &iot.ListThingsInput{ThingTypeName: aws.String("ty")}, func(o *iot.ListThingsPaginatorOptions) { o.Limit = 250 })
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		count += len(out.Things)
	}
	if count != workers*perWorker {
		t.Errorf("listed %d things, want %d", count, workers*perWorker)
	}
	targets, err := f.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("pol"), PageSize: aws.Int32(250)})
	if err != nil || len(targets.Targets) != workers*perWorker {
		t.Errorf("policy targets = %d, %v", len(targets.Targets), err)
	}
	if d := f.mustDescribeThing(t, "shared"); d.Version != 1+updaters*perWorker {
		t.Errorf("shared version = %d, want %d", d.Version, 1+updaters*perWorker)
	}
	last := int64(0)
	for _, m := range f.pub.take() {
		if m.Topic != "$aws/events/thing/shared/updated" && m.Topic != "$aws/events/thing/shared/created" {
			continue
		}
		v := int64(decode(t, m)["versionNumber"].(float64))
		if v != last+1 {
			t.Fatalf("shared thing events out of order: version %d after %d", v, last)
		}
		last = v
	}
	if last != 1+updaters*perWorker {
		t.Errorf("last shared event version %d, want %d", last, 1+updaters*perWorker)
	}
}

// blockingPublisher blocks until released, to show that a slow broker does
// not hold the registry lock.
type blockingPublisher struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingPublisher) Publish(string, []byte) error {
	b.entered <- struct{}{}
	<-b.release
	return nil
}

func TestPublishOutsideLock(t *testing.T) {
	ctx := context.Background()
	pub := &blockingPublisher{entered: make(chan struct{}, 1), release: make(chan struct{})}
	r := New(Options{Region: testRegion, AccountID: testAccount, Publisher: pub})
	done := make(chan error, 1)
	go func() {
		_, err := r.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("a")})
		done <- err
	}()
	<-pub.entered
	// The creating call is stuck in Publish; reads still go through.
	if _, err := r.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("a")}); err != nil {
		t.Errorf("DescribeThing while publishing: %v", err)
	}
	close(pub.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type discard struct{}

func (discard) Publish(string, []byte) error { return nil }

// BenchmarkCreateThing measures CreateThing throughput with events enabled.
func BenchmarkCreateThing(b *testing.B) {
	ctx := context.Background()
	r := New(Options{Region: testRegion, AccountID: testAccount, Publisher: discard{}})
	attrs := map[string]string{"serial": "abc", "fw": "1.2.3"}
	start := time.Now()
	i := 0
	for b.Loop() {
		if _, err := r.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(fmt.Sprintf("t%d", i)),
			AttributePayload: &types.AttributePayload{Attributes: attrs}}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "creates/s")
}
