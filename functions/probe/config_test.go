package probe

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/iot-dr/iot-dr/simulator/pki"
)

// fakeSSM serves one parameter and records the calls.
type fakeSSM struct {
	mu      sync.Mutex
	value   string
	err     error
	calls   int
	decrypt []bool
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.decrypt = append(f.decrypt, aws.ToBool(in.WithDecryption))
	if f.err != nil {
		return nil, f.err
	}
	return &ssm.GetParameterOutput{Parameter: &types.Parameter{Name: in.Name, Value: aws.String(f.value)}}, nil
}

func (f *fakeSSM) set(value string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.value, f.err = value, err
}

func TestParameterCache(t *testing.T) {
	store := &fakeSSM{value: "v1"}
	clock := time.Unix(1000, 0)
	log, logs := captureLogs()
	p := &Parameter{Store: store, Name: "/iotdr/probe/secret", Decrypt: true, TTL: time.Minute, Now: func() time.Time { return clock }, Logger: log}
	get := func(want string) {
		t.Helper()
		got, err := p.Get(t.Context())
		if err != nil || got != want {
			t.Fatalf("Get = %q, %v; want %q", got, err, want)
		}
	}
	get("v1")
	store.set("v2", nil)
	clock = clock.Add(59 * time.Second)
	get("v1") // still fresh
	clock = clock.Add(time.Second)
	get("v2") // expired: re-read
	store.set("", errors.New("throttled"))
	clock = clock.Add(2 * time.Minute)
	get("v2") // refresh failed: last value served
	get("v2") // and retried on the next call
	if store.calls != 4 {
		t.Errorf("SSM called %d times, want 4", store.calls)
	}
	for _, d := range store.decrypt {
		if !d {
			t.Error("WithDecryption not set")
		}
	}
	if !strings.Contains(logs.String(), "throttled") || strings.Contains(logs.String(), "v2") {
		t.Errorf("logs should name the failure but not the value: %s", logs.String())
	}
}

func TestParameterFirstReadFails(t *testing.T) {
	p := &Parameter{Store: &fakeSSM{err: errors.New("access denied")}, Name: "/x"}
	if _, err := p.Get(t.Context()); err == nil || !strings.Contains(err.Error(), "/x") {
		t.Fatalf("Get error = %v, want one naming the parameter", err)
	}
}

func TestParameterBool(t *testing.T) {
	tests := []struct {
		value   string
		want    bool
		wantErr bool
	}{
		{"true", true, false},
		{" TRUE\n", true, false},
		{"false", false, false},
		{"", false, true},
		{"yes please", false, true},
	}
	for _, tc := range tests {
		p := &Parameter{Store: &fakeSSM{value: tc.value}, Name: "/ff"}
		got, err := p.Bool(t.Context())
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("Bool(%q) = %v, %v; want %v, error %v", tc.value, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestBrokerURL(t *testing.T) {
	tests := []struct {
		in, url, host string
		wantErr       bool
	}{
		{in: "abc-ats.iot.eu-west-1.amazonaws.com", url: "tls://abc-ats.iot.eu-west-1.amazonaws.com:8883", host: "abc-ats.iot.eu-west-1.amazonaws.com"},
		{in: "abc-ats.iot.eu-west-1.amazonaws.com:443", url: "tls://abc-ats.iot.eu-west-1.amazonaws.com:443", host: "abc-ats.iot.eu-west-1.amazonaws.com"},
		{in: "ssl://127.0.0.1:1234", url: "ssl://127.0.0.1:1234", host: "127.0.0.1"},
		{in: " ", wantErr: true},
		{in: ":8883", wantErr: true},
	}
	for _, tc := range tests {
		url, host, err := BrokerURL(tc.in)
		if (err != nil) != tc.wantErr || url != tc.url || host != tc.host {
			t.Errorf("BrokerURL(%q) = %q, %q, %v; want %q, %q, error %v", tc.in, url, host, err, tc.url, tc.host, tc.wantErr)
		}
	}
}

func TestClientTLS(t *testing.T) {
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ca.IssueDevice("probe")
	if err != nil {
		t.Fatal(err)
	}
	// The stack stores the certificate followed by the key in one parameter.
	cfg, err := ClientTLS(append(append([]byte{}, dev.CertPEM...), dev.KeyPEM...), "iot.example")
	if err != nil {
		t.Fatalf("ClientTLS: %v", err)
	}
	if cfg.ServerName != "iot.example" || len(cfg.Certificates) != 1 || cfg.RootCAs != nil {
		t.Errorf("unexpected config: server %q, %d certificates, roots %v", cfg.ServerName, len(cfg.Certificates), cfg.RootCAs)
	}
	if _, err := ClientTLS(dev.CertPEM, "x"); err == nil {
		t.Error("ClientTLS accepted a document without a key")
	}
}
