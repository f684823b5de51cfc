package fleet_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/authz"
	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/fleet"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/simulator/registry"
)

const (
	domain    = "devices.iotdr.test"
	account   = "123456789012"
	primary   = "us-east-1"
	secondary = "eu-west-1"
	ipA       = "127.0.0.11"
	ipB       = "127.0.0.12"
)

// region is one simulated Region: registry, authoriser and TLS broker.
type region struct {
	name   string
	reg    *registry.Registry
	broker *broker.Broker
}

// world is two Regions whose brokers listen on the same port, as the custom
// domain's failover records require.
type world struct {
	ca   *pki.CA
	a, b *region
	port string
}

// newWorld starts both Regions; quotas, when given, are the primary's and then the
// secondary's broker quotas (AWS's defaults otherwise).
func newWorld(tb testing.TB, quotas ...broker.Quotas) *world {
	tb.Helper()
	q := func(i int) broker.Quotas {
		if i < len(quotas) {
			return quotas[i]
		}
		return broker.Quotas{}
	}
	ca, err := pki.NewCA("fleet test CA")
	if err != nil {
		tb.Fatalf("new CA: %v", err)
	}
	server, err := ca.IssueServer([]string{domain}, nil)
	if err != nil {
		tb.Fatalf("issue server certificate: %v", err)
	}
	w := &world{ca: ca}
	// The OS picks a free port for the first broker; the second needs the
	// same port on its own IP, which something else may hold: retry.
	var lastErr error
	for range 5 {
		if w.a, lastErr = newRegion(tb, primary, ipA+":0", server, q(0)); lastErr != nil {
			continue
		}
		_, w.port, _ = net.SplitHostPort(w.a.broker.Addr())
		if w.b, lastErr = newRegion(tb, secondary, net.JoinHostPort(ipB, w.port), server, q(1)); lastErr == nil {
			break
		}
		_ = w.a.broker.Close()
	}
	if lastErr != nil {
		tb.Fatalf("start brokers: %v", lastErr)
	}
	tb.Cleanup(func() {
		_ = w.a.broker.Close()
		_ = w.b.broker.Close()
	})
	return w
}

func newRegion(tb testing.TB, name, addr string, server tls.Certificate, q broker.Quotas) (*region, error) {
	tb.Helper()
	reg := registry.New(registry.Options{Region: name, AccountID: account})
	doc, err := spec.DevicePolicy(name, account)
	if err != nil {
		tb.Fatalf("device policy: %v", err)
	}
	if _, err := reg.CreatePolicy(context.Background(), &iot.CreatePolicyInput{
		PolicyName: aws.String(spec.DevicePolicyName), PolicyDocument: aws.String(doc),
	}); err != nil {
		tb.Fatalf("create policy: %v", err)
	}
	az := authz.New(reg, name, account, nil)
	az.RequireSNI(domain)
	b, err := broker.New(broker.Options{
		Region: name,
		Addr:   addr,
		TLS:    pki.ServerTLS(server, nil),
		Auth:   az,
		Quotas: q,
	})
	if err != nil {
		return nil, err
	}
	return &region{name: name, reg: reg, broker: b}, nil
}

// provision registers dev as thing in r with the device policy, as the
// replication pipeline would.
func (r *region) provision(tb testing.TB, thing string, dev *pki.Device) {
	tb.Helper()
	ctx := context.Background()
	if _, err := r.reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(thing)}); err != nil {
		tb.Fatalf("%s: create thing %s: %v", r.name, thing, err)
	}
	out, err := r.reg.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{
		CertificatePem: aws.String(string(dev.CertPEM)), Status: types.CertificateStatusActive,
	})
	if err != nil {
		tb.Fatalf("%s: register certificate of %s: %v", r.name, thing, err)
	}
	if _, err := r.reg.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: out.CertificateArn}); err != nil {
		tb.Fatalf("%s: attach %s: %v", r.name, thing, err)
	}
	if _, err := r.reg.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(spec.DevicePolicyName), Target: out.CertificateArn}); err != nil {
		tb.Fatalf("%s: attach policy for %s: %v", r.name, thing, err)
	}
}

// devices issues n devices named prefix-000... and provisions them in the
// given Regions.
func (w *world) devices(tb testing.TB, prefix string, n int, in ...*region) []fleet.Device {
	tb.Helper()
	out := make([]fleet.Device, n)
	for i := range out {
		thing := fmt.Sprintf("%s-%04d", prefix, i)
		dev, err := w.ca.IssueDevice(thing)
		if err != nil {
			tb.Fatalf("issue %s: %v", thing, err)
		}
		for _, r := range in {
			r.provision(tb, thing, dev)
		}
		out[i] = fleet.Device{Thing: thing, Cert: dev}
	}
	return out
}

func (w *world) options(res fleet.Resolver) fleet.Options {
	return fleet.Options{
		Domain:         domain,
		Port:           w.port,
		Roots:          w.ca.Pool(),
		Resolver:       res,
		TelemetryEvery: 50 * time.Millisecond,
		ShadowEvery:    200 * time.Millisecond,
		Backoff:        fleet.Backoff{Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond},
		Seed:           1,
		Regions:        map[string]string{ipA: primary, ipB: secondary},
	}
}

// switchResolver answers with whatever IP was set last, as the failover
// records would, and counts lookups.
type switchResolver struct {
	mu      sync.Mutex
	ip      string
	lookups int
}

func (r *switchResolver) set(ip string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ip = ip
}

func (r *switchResolver) Lookup(ctx context.Context, name string) (string, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups++
	if name != domain {
		return "", 0, fmt.Errorf("NXDOMAIN %s", name)
	}
	return r.ip, time.Second, nil
}

func startFleet(tb testing.TB, devs []fleet.Device, opts fleet.Options) *fleet.Fleet {
	tb.Helper()
	f, err := fleet.Start(context.Background(), devs, opts)
	if err != nil {
		tb.Fatalf("start fleet: %v", err)
	}
	tb.Cleanup(f.Stop)
	return f
}

func waitCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// checkGoroutines fails the test if, after every later cleanup ran, more
// goroutines remain than before the test started. Register it first.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines leaked: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond) // goroutines finishing their last steps: nothing to wait on
		}
	})
}
