package awsfront

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
	"github.com/iot-dr/iot-dr/simulator/registry"
	"github.com/iot-dr/iot-dr/simulator/shadow"
)

// MaxRequestBytes bounds a request body; a larger one is answered 413
// RequestEntityTooLargeException without being read further.
const MaxRequestBytes = 1 << 20

// Signing names of the served services, as the SigV4 credential scope carries them.
const (
	ServiceIoT     = "iot"
	ServiceIoTData = "iotdata"
	ServiceRoute53 = "route53"
	ServiceSSM     = "ssm"
	ServiceDynamo  = "dynamodb"
	// ServiceCloudWatch is CloudWatch's signing name.
	ServiceCloudWatch = "monitoring"
)

// HandlerOptions configures Front.Handler.
type HandlerOptions struct {
	// Rates limits the shadow data-plane operations (GetThingShadow,
	// UpdateThingShadow, DeleteThingShadow) in each Region, in calls per second with a
	// burst of max(1, TPS); missing or 0 means unlimited. The control-plane operations
	// are limited by the registries' own rates (registry.Options.Rates, SetRate).
	Rates map[string]float64
	// Logger receives one line per request answered with a 5xx, and debug lines for
	// the rest; nil discards them. Bodies are never logged.
	Logger *slog.Logger
}

// handler is Front.Handler's http.Handler.
type handler struct {
	route53 *Route53 // nil: Route 53 is not served
	log     *slog.Logger
	regions map[string]*backend
	names   []string
	iot     *router
	methods map[string]reflect.Method // IoT operation -> *registry.Registry method
}

// Region is one Region's fakes behind the endpoint.
type Region struct {
	// Name is the Region's name, as credential scopes carry it.
	Name     string
	Registry *registry.Registry
	Shadows  *shadow.Service
	// Data is the broker's data-plane API (Publish, retained messages).
	Data *broker.DataPlane
	// SSM is the Region's parameter store; nil answers SSM calls with
	// UnknownOperationException.
	SSM *SSM
	// Tables are the Region's DynamoDB tables; a name not among them is a
	// ResourceNotFoundException.
	Tables []*dynamo.Table
	// Alarms are the Region's CloudWatch alarms; nil answers CloudWatch calls with
	// UnknownOperationException.
	Alarms *Alarms
}

// backend is one Region's services behind the endpoint.
type backend struct {
	Region
	reg reflect.Value
	// limiters are the shadow operations' buckets; the map is not written after
	// newHandler (rate.Limiter is safe for concurrent use).
	limiters map[string]*rate.Limiter
}

// Handler returns the AWS API endpoint for both Regions of the World: one
// http.Handler that answers the AWS IoT control plane (REST-JSON), the IoT data-plane
// shadow API, Route 53 (REST-XML) and SSM (JSON 1.1), choosing the Region and the
// service from each request's SigV4 credential scope. See the package documentation
// for what it checks and how it answers.
func (f *Front) Handler(o HandlerOptions) http.Handler {
	var regions []Region
	for _, r := range []*simulator.Region{f.w.Primary, f.w.Secondary} {
		regions = append(regions, Region{Name: r.Name, Registry: r.Registry, Shadows: r.Shadows, Data: r.Broker.DataPlane(), SSM: f.SSM[r.Name],
			Tables: []*dynamo.Table{r.State, r.Errors, r.Marks}, Alarms: f.Alarms[r.Name]})
	}
	return newHandler(f.Route53, regions, o)
}

// RegionsHandler is Front.Handler for fakes without a World: the IoT control and data
// planes (and SSM where given) of each Region, no Route 53. The conformance suite runs
// the SDK clients through it.
func RegionsHandler(regions []Region, o HandlerOptions) http.Handler {
	return newHandler(nil, regions, o)
}

func newHandler(r53 *Route53, regions []Region, o HandlerOptions) http.Handler {
	h := &handler{route53: r53, log: o.Logger, regions: map[string]*backend{}, iot: newRouter(iotOperations), methods: map[string]reflect.Method{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	regT := reflect.TypeFor[*registry.Registry]()
	for _, op := range iotOperations {
		m, ok := regT.MethodByName(op.Name)
		if !ok {
			panic("awsfront: registry has no method " + op.Name + "; run go generate ./simulator/awsfront")
		}
		h.methods[op.Name] = m
	}
	for _, r := range regions {
		b := &backend{Region: r, reg: reflect.ValueOf(r.Registry), limiters: map[string]*rate.Limiter{}}
		for _, api := range []string{opGetThingShadow, opUpdateThingShadow, opDeleteThingShadow} {
			if tps := o.Rates[api]; tps > 0 {
				b.limiters[api] = rate.NewLimiter(rate.Limit(tps), max(1, int(tps)))
			}
		}
		h.regions[r.Name] = b
		h.names = append(h.names, r.Name)
	}
	sort.Strings(h.names)
	return h
}

// allow takes a token of api's bucket, if it has one.
func (b *backend) allow(api string) bool {
	l := b.limiters[api]
	return l == nil || l.Allow()
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w}
	rw.Header().Set("X-Amzn-Requestid", requestID())
	op := h.serve(rw, r)
	level := slog.LevelDebug
	if rw.status >= 500 {
		level = slog.LevelWarn
	}
	if h.log.Enabled(r.Context(), level) { // spare the hot path the attributes' allocations
		h.log.Log(r.Context(), level, "awsfront: request", "method", r.Method, "path", r.URL.Path, "operation", op,
			"status", rw.status, "error_code", rw.Header().Get("X-Amzn-Errortype"), "duration", time.Since(start))
	}
}

// serve answers one request and returns the operation's name, for the log.
func (h *handler) serve(w http.ResponseWriter, r *http.Request) string {
	sc, aerr := credentialScope(r)
	if aerr != nil {
		writeJSONError(w, aerr)
		return ""
	}
	var body []byte
	var err error
	if r.Body != nil { // nil only for requests built by hand, never from a server
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.writeError(w, sc.Service, newAPIError(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
				"request body is larger than %d bytes", MaxRequestBytes))
			return ""
		}
		h.writeError(w, sc.Service, newAPIError(http.StatusBadRequest, "InvalidRequestException", "reading the request body: %v", err))
		return ""
	}
	if sc.Service == ServiceRoute53 {
		// A global service: any Region in the scope (the SDKs sign with us-east-1).
		return h.serveRoute53(w, r, body)
	}
	b := h.regions[sc.Region]
	if b == nil {
		writeJSONError(w, newAPIError(http.StatusForbidden, "InvalidSignatureException",
			"Credential should be scoped to a valid Region, not %q: the simulator serves %s", sc.Region, strings.Join(h.names, " and ")))
		return ""
	}
	switch sc.Service {
	case ServiceIoT:
		// The control plane has no /things/{name}/shadow: a shadow path signed for iot
		// (a hand-made request) is the data plane's.
		if isShadowPath(r.URL.EscapedPath()) {
			return h.serveShadow(w, r, b, body)
		}
		return h.serveIoT(w, r, b, body)
	case ServiceIoTData:
		return h.serveData(w, r, b, body)
	case ServiceSSM:
		return h.serveSSM(w, r, b, body)
	case ServiceDynamo:
		return h.serveDynamo(w, r, b, body)
	case ServiceCloudWatch:
		return h.serveCloudWatch(w, r, b, body)
	}
	writeJSONError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException",
		"service %q (from the credential scope) is not served by the simulator; it serves %s, %s, %s, %s, %s and %s",
		sc.Service, ServiceIoT, ServiceIoTData, ServiceRoute53, ServiceSSM, ServiceDynamo, ServiceCloudWatch))
	return ""
}

func (h *handler) writeError(w http.ResponseWriter, service string, e *apiError) {
	if service == ServiceRoute53 {
		writeXMLError(w, e)
		return
	}
	writeJSONError(w, e)
}

// serveIoT answers an AWS IoT control-plane request through the Region's registry.
func (h *handler) serveIoT(w http.ResponseWriter, r *http.Request, b *backend, body []byte) string {
	op, labels, allowed, err := h.iot.match(r.Method, r.URL.EscapedPath())
	switch {
	case err != nil:
		writeJSONError(w, newAPIError(http.StatusBadRequest, "InvalidRequestException", "%v", err))
		return ""
	case op == nil && allowed != nil:
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeJSONError(w, newAPIError(http.StatusMethodNotAllowed, "MethodNotAllowedException",
			"%s %s: the simulator serves this path with %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
		return ""
	case op == nil:
		writeJSONError(w, newAPIError(http.StatusNotFound, "UnknownOperationException",
			"no AWS IoT operation the simulator serves matches %s %s", r.Method, r.URL.Path))
		return ""
	}
	m := h.methods[op.Name]
	in, err := decodeInput(m.Type.In(2).Elem(), op, labels, r.URL.Query(), r.Header, body)
	if err != nil {
		writeJSONError(w, fromError(err))
		return op.Name
	}
	res := m.Func.Call([]reflect.Value{b.reg, reflect.ValueOf(r.Context()), in})
	if e, _ := res[1].Interface().(error); e != nil {
		writeJSONError(w, fromError(e))
		return op.Name
	}
	writeJSON(w, http.StatusOK, toJSON(res[0]))
	return op.Name
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSONError(w, newAPIError(http.StatusInternalServerError, "InternalFailureException", "encoding the answer: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// statusWriter remembers the status written, for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
