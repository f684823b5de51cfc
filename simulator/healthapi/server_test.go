package healthapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iot-dr/iot-dr/functions/probe"
	"github.com/iot-dr/iot-dr/simulator/lambdart"
)

// recorder is a fake invoke that records events and answers with a fixed
// output or error.
type recorder struct {
	out []byte
	err error

	mu     sync.Mutex
	events []events.APIGatewayV2HTTPRequest
}

func (f *recorder) invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
	return f.out, f.err
}

func (f *recorder) last(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		t.Fatal("function not invoked")
	}
	return f.events[len(f.events)-1]
}

// start runs a server on loopback and returns it, its URL and an HTTP client
// whose idle connections are closed at cleanup.
func start(t *testing.T, invoke Invoker, configure func(*Server)) (*Server, string, *http.Client) {
	t.Helper()
	s := New(invoke, nil)
	if configure != nil {
		configure(s)
	}
	u, err := s.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return s, u, &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func get(t *testing.T, c *http.Client, u string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func TestRequestEvent(t *testing.T) {
	rec := &recorder{out: []byte(`{"statusCode":204}`)}
	_, base, c := start(t, rec.invoke, nil)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/probe/a%2Fb?secret=a%2Bb%26c&x=1&x=2&flag", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Add("X-Custom", "one")
	req.Header.Add("X-Custom", "two")
	req.Header.Set("X-IoTDR-Probe-Secret", "s")
	req.Header.Set("User-Agent", "Amazon-Route53-Health-Check-Service")
	req.Header.Set("Cookie", "a=1; b=2")
	ans := do(t, c, req)
	if ans.status != http.StatusNoContent {
		t.Fatalf("status %d", ans.status)
	}
	ev := rec.last(t)
	checks := []struct {
		what      string
		got, want any
	}{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, "$default"},
		{"rawPath", ev.RawPath, "/probe/a%2Fb"},
		{"rawQueryString", ev.RawQueryString, "secret=a%2Bb%26c&x=1&x=2&flag"},
		{"queryStringParameters", ev.QueryStringParameters, map[string]string{"secret": "a+b&c", "x": "1,2", "flag": ""}},
		{"x-custom", ev.Headers["x-custom"], "one,two"},
		{"secret header", ev.Headers["x-iotdr-probe-secret"], "s"},
		{"cookie header", ev.Headers["cookie"], ""},
		{"cookies", ev.Cookies, []string{"a=1", "b=2"}},
		{"host", ev.Headers["host"], strings.TrimPrefix(base, "http://")},
		{"x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1"},
		{"http.method", ev.RequestContext.HTTP.Method, "GET"},
		{"http.path", ev.RequestContext.HTTP.Path, "/probe/a/b"},
		{"http.protocol", ev.RequestContext.HTTP.Protocol, "HTTP/1.1"},
		{"http.sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
		{"http.userAgent", ev.RequestContext.HTTP.UserAgent, "Amazon-Route53-Health-Check-Service"},
		{"stage", ev.RequestContext.Stage, "$default"},
		{"domainName", ev.RequestContext.DomainName, "127.0.0.1"},
		{"requestId", ev.RequestContext.RequestID, ans.header.Get("Apigw-Requestid")},
		{"body", ev.Body, ""},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	if ev.RequestContext.RequestID == "" || ev.RequestContext.APIID == "" || ev.RequestContext.TimeEpoch == 0 || ev.RequestContext.Time == "" {
		t.Errorf("request context incomplete: %+v", ev.RequestContext)
	}
}

func TestRequestBody(t *testing.T) {
	tests := []struct {
		name     string
		body     []byte
		wantBody string
		wantB64  bool
	}{
		{name: "text", body: []byte(`{"hello":"wörld"}`), wantBody: `{"hello":"wörld"}`},
		{name: "binary", body: []byte{0xff, 0x00, 0xfe}, wantBody: base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0xfe}), wantB64: true},
	}
	rec := &recorder{out: []byte(`{"statusCode":200}`)}
	_, base, c := start(t, rec.invoke, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/x", strings.NewReader(string(tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			do(t, c, req)
			ev := rec.last(t)
			if ev.Body != tc.wantBody || ev.IsBase64Encoded != tc.wantB64 || ev.RequestContext.HTTP.Method != "POST" {
				t.Errorf("body %q base64 %v method %s; want %q %v POST", ev.Body, ev.IsBase64Encoded, ev.RequestContext.HTTP.Method, tc.wantBody, tc.wantB64)
			}
		})
	}
}

func TestResponse(t *testing.T) {
	tests := []struct {
		name       string
		out        string
		err        error
		wantStatus int
		wantBody   string
		wantHeader map[string]string // "" means absent
		wantCookie []string
	}{
		{
			name:       "proxy response",
			out:        `{"statusCode":503,"headers":{"content-type":"application/json","cache-control":"no-store"},"body":"{\"status\":\"unhealthy\"}","multiValueHeaders":null,"cookies":null}`,
			wantStatus: 503, wantBody: `{"status":"unhealthy"}`,
			wantHeader: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		},
		{
			name:       "base64 body and cookies",
			out:        `{"statusCode":200,"body":"aGVsbG8=","isBase64Encoded":true,"cookies":["a=1; Path=/","b=2"]}`,
			wantStatus: 200, wantBody: "hello", wantCookie: []string{"a=1; Path=/", "b=2"},
			wantHeader: map[string]string{"Content-Type": ""}, // not sniffed
		},
		{
			name:       "inferred from an object without statusCode",
			out:        `{"message":"hi"}`,
			wantStatus: 200, wantBody: `{"message":"hi"}`, wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:       "inferred from a JSON string",
			out:        `"Hello from Lambda!"`,
			wantStatus: 200, wantBody: "Hello from Lambda!",
		},
		{
			name:       "function error",
			err:        &lambdart.FunctionError{Type: "errorString", Message: "boom"},
			wantStatus: 500, wantBody: bodyInternalError, wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{name: "function missing", err: lambdart.ErrFunctionNotFound, wantStatus: 500, wantBody: bodyInternalError},
		{
			name:       "inferred from an array",
			out:        `[1,2]`,
			wantStatus: 200, wantBody: `[1,2]`, wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:       "inferred from an object without statusCode, whatever its fields",
			out:        `{"headers":5,"body":7}`,
			wantStatus: 200, wantBody: `{"headers":5,"body":7}`, wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{name: "not JSON", out: `nope`, wantStatus: 500, wantBody: bodyInternalError},
		{name: "truncated JSON", out: `{"statusCode":200`, wantStatus: 500, wantBody: bodyInternalError},
		{name: "null status", out: `{"statusCode":null,"body":"x"}`, wantStatus: 500, wantBody: bodyInternalError},
		{name: "status as a string", out: `{"statusCode":"200","body":"x"}`, wantStatus: 500, wantBody: bodyInternalError},
		{name: "malformed field beside a status", out: `{"headers":5,"statusCode":200}`, wantStatus: 500, wantBody: bodyInternalError},
		{name: "status out of range", out: `{"statusCode":42}`, wantStatus: 500, wantBody: bodyInternalError},
		{name: "bad base64", out: `{"statusCode":200,"body":"!!","isBase64Encoded":true}`, wantStatus: 500, wantBody: bodyInternalError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{out: []byte(tc.out), err: tc.err}
			_, base, c := start(t, rec.invoke, nil)
			ans := get(t, c, base+"/probe")
			if ans.status != tc.wantStatus || ans.body != tc.wantBody {
				t.Errorf("answer %d %q, want %d %q", ans.status, ans.body, tc.wantStatus, tc.wantBody)
			}
			for k, want := range tc.wantHeader {
				if got := ans.header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if got := ans.header.Values("Set-Cookie"); len(tc.wantCookie) > 0 && !reflect.DeepEqual(got, tc.wantCookie) {
				t.Errorf("Set-Cookie %q, want %q", got, tc.wantCookie)
			}
			if ans.header.Get("Apigw-Requestid") == "" {
				t.Error("no Apigw-Requestid header")
			}
		})
	}
}

func TestIntegrationTimeout(t *testing.T) {
	invoke := func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	_, base, c := start(t, invoke, func(s *Server) { s.Timeout = 50 * time.Millisecond })
	ans := get(t, c, base+"/probe")
	if ans.status != http.StatusServiceUnavailable || ans.body != bodyUnavailable {
		t.Errorf("answer %d %q, want 503 %q", ans.status, ans.body, bodyUnavailable)
	}
}

func TestSetDown(t *testing.T) {
	rec := &recorder{out: []byte(`{"statusCode":200,"body":"ok"}`)}
	s, base, c := start(t, rec.invoke, nil)
	if ans := get(t, c, base+"/probe"); ans.status != 200 {
		t.Fatalf("up: status %d", ans.status)
	}
	s.SetDown(true) // also cuts the client's idle keep-alive connection
	for range 3 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/probe", nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("down: got status %d, want a connection error", resp.StatusCode)
		}
	}
	s.SetDown(false)
	if ans := get(t, c, base+"/probe"); ans.status != 200 || ans.body != "ok" {
		t.Fatalf("back up: %d %q", ans.status, ans.body)
	}
	if s.URL() != base {
		t.Errorf("URL changed: %s -> %s", base, s.URL())
	}
}

func TestCloseCancelsInvocations(t *testing.T) {
	entered, canceled := make(chan struct{}), make(chan struct{})
	invoke := func(ctx context.Context, _ []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done()
		close(canceled)
		return nil, ctx.Err()
	}
	s := New(invoke, nil)
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, base+"/probe", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-canceled: // Close returned only after the invocation saw the cancellation
	default:
		t.Fatal("Close returned while an invocation was still running")
	}
	if err := <-errc; err == nil {
		t.Error("request succeeded against a closed server")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Errorf("Start after Close = %v, want ErrStarted", err)
	}
}

// okProbe is a probe round trip that always succeeds.
type okProbe struct{}

func (okProbe) RoundTrip(context.Context) (probe.Report, error) {
	return probe.Report{Received: 2, Expected: 2, Connect: time.Millisecond}, nil
}

// TestThroughLambdaRuntime runs the real probe handler in lambdart behind the
// server, as the simulator wires it.
func TestThroughLambdaRuntime(t *testing.T) {
	rt := lambdart.New("test-1", "123456789012", nil)
	h := &probe.Handler{
		Secret: probe.FixedSecret("open sesame"),
		Probe:  okProbe{},
	}
	fn, err := rt.Register("probe", h.Handle, lambdart.FunctionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	panicky, err := rt.Register("panicky", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		panic("boom")
	}, lambdart.FunctionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, base, c := start(t, func(ctx context.Context, p []byte) ([]byte, error) { return rt.Invoke(ctx, fn, p) }, nil)
	_, panicBase, _ := start(t, func(ctx context.Context, p []byte) ([]byte, error) { return rt.Invoke(ctx, panicky, p) }, nil)

	tests := []struct {
		name       string
		url        string
		wantStatus int
		wantBody   string
	}{
		{"secret in query", base + "/probe?" + url.Values{"secret": {"open sesame"}}.Encode(), 200, `"status":"healthy"`},
		{"wrong secret", base + "/probe?secret=nope", 403, `{"status":"forbidden"}`},
		{"no secret", base + "/probe", 403, `{"status":"forbidden"}`},
		{"function panics", panicBase + "/probe", 500, bodyInternalError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ans := get(t, c, tc.url)
			if ans.status != tc.wantStatus || !strings.Contains(ans.body, tc.wantBody) {
				t.Errorf("answer %d %s, want %d containing %s", ans.status, ans.body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/probe", nil)
	req.Header.Set(probe.SecretHeader, "open sesame")
	if ans := do(t, c, req); ans.status != 200 || ans.header.Get("Content-Type") != "application/json" {
		t.Errorf("secret in header: %d %s %v", ans.status, ans.body, ans.header)
	}
}
