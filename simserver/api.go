package simserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/capture"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/registry"
	"github.com/iot-dr/iot-dr/status"
)

// Flap limits and defaults (POST /regions/{r}/flap?period=&count=).
const (
	DefaultFlapPeriod = 500 * time.Millisecond
	DefaultFlapCount  = 6
	MinFlapPeriod     = 10 * time.Millisecond
	MaxFlapPeriod     = time.Minute
	MaxFlapCount      = 1000
)

// maxRefusals is how many of the latest broker refusals GET /regions/{r}/refusals shows.
const maxRefusals = 100

// Status is GET /status.
type Status struct {
	Domain      string            `json:"domain"`
	DNSServer   string            `json:"dns_server"`
	DNSAnswer   DNSAnswer         `json:"dns_answer"`
	Replication ReplicationStatus `json:"replication"`
	Regions     []RegionStatus    `json:"regions"`
}

// DNSAnswer is what the failover zone answers for the custom domain now.
type DNSAnswer struct {
	IP string `json:"ip"`
	// Record is PRIMARY or SECONDARY; Region names the Region it points to.
	Record string  `json:"record"`
	Region string  `json:"region"`
	TTLMS  float64 `json:"ttl_ms"`
}

// ReplicationStatus is the global table's replication state.
type ReplicationStatus struct {
	// Pending changes not yet applied to the peer table, both directions.
	Pending int `json:"pending"`
	// LagMS is the age of the oldest pending change.
	LagMS float64 `json:"lag_ms"`
	// Paused is the pause verb's state; Held is true while paused or a Region is down.
	Paused bool `json:"paused"`
	Held   bool `json:"held"`
}

// RegionStatus is one Region's state.
type RegionStatus struct {
	Role     string `json:"role"`
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
	// Down is the Region-outage verb's state (broker, IoT APIs, replication).
	Down     bool `json:"down"`
	BrokerUp bool `json:"broker_up"`
	// ConnectedClients counts MQTT sessions, the health probes' short ones included.
	ConnectedClients int `json:"connected_clients"`
	// Healthy is the Route 53 health check's aggregate status.
	Healthy      bool `json:"healthy"`
	ProbeFailing bool `json:"probe_failing"`
	Flapping     bool `json:"flapping"`
	// DNSActive is true when the custom domain resolves to this Region.
	DNSActive bool `json:"dns_active"`
	// Backlog is what this Region still has to apply from the other (the catch-up
	// gate's reading, and apply failures waiting), Conflicts its conflict records;
	// StatusErrors what of them could not be read. The same fields as `iotdr status`.
	Backlog      status.Backlog   `json:"backlog"`
	Conflicts    status.Conflicts `json:"conflicts"`
	StatusErrors []string         `json:"status_errors,omitempty"`
}

// Health is GET /regions/{r}/health.
type Health struct {
	Role             string          `json:"role"`
	Name             string          `json:"name"`
	Healthy          bool            `json:"healthy"`
	ProbeFailing     bool            `json:"probe_failing"`
	Flapping         bool            `json:"flapping"`
	IntervalMS       float64         `json:"interval_ms"`
	Threshold        int             `json:"threshold"`
	DetectionBoundMS float64         `json:"detection_bound_ms"`
	Checkers         []CheckerHealth `json:"checkers"`
	Transitions      []Transition    `json:"transitions"`
}

// CheckerHealth is one Route 53 checker's view. LastError never carries the probe's
// query string (it holds the shared secret).
type CheckerHealth struct {
	Index          int       `json:"index"`
	Healthy        bool      `json:"healthy"`
	Checks         int       `json:"checks"`
	LastOK         bool      `json:"last_ok"`
	LastStatusCode int       `json:"last_status_code"`
	LastError      string    `json:"last_error,omitempty"`
	LastAt         time.Time `json:"last_at"`
}

// Transition is one flip of a health check's aggregate status.
type Transition struct {
	At      time.Time `json:"at"`
	Healthy bool      `json:"healthy"`
}

// Things is GET /regions/{r}/things.
type Things struct {
	Region string   `json:"region"`
	Count  int      `json:"count"`
	Things []string `json:"things"`
}

// Refusal is one action a Region's broker refused.
type Refusal struct {
	At       time.Time `json:"at"`
	ClientID string    `json:"client_id"`
	Action   string    `json:"action"`
	Resource string    `json:"resource"`
	Reason   string    `json:"reason"`
}

// Flap is the answer to POST /regions/{r}/flap.
type Flap struct {
	Region   string `json:"region"`
	Period   string `json:"period"`
	Count    int    `json:"count"`
	Flapping bool   `json:"flapping"`
}

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
}

// routes lists the API for GET / and for the 404 message.
var routes = []string{
	"GET  /status",
	"POST /regions/{r}/down | /regions/{r}/up",
	"POST /regions/{r}/broker/down | /regions/{r}/broker/up",
	"POST /regions/{r}/probe/fail | /regions/{r}/probe/ok",
	"POST /regions/{r}/flap?period=500ms&count=6",
	"POST /replication/pause | /replication/resume",
	"POST /sweep | /redrive",
	"GET  /regions/{r}/things",
	"GET  /regions/{r}/health",
	"GET  /regions/{r}/refusals",
}

// Handler returns the control API. {r} is primary, secondary or a Region name.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	get := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, method(http.MethodGet, h)) }
	post := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, method(http.MethodPost, h)) }
	get("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"routes": routes})
	})
	get("/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Status()) })
	for _, v := range []struct {
		verb string
		down bool
	}{{"down", true}, {"up", false}} {
		post("/regions/{r}/"+v.verb, s.regionVerb(func(rs *regionState) {
			s.world.SetRegionDown(rs.r, v.down)
			rs.down, rs.brokerDown = v.down, v.down
		}))
		post("/regions/{r}/broker/"+v.verb, s.regionVerb(func(rs *regionState) {
			rs.r.Broker.SetDown(v.down)
			rs.brokerDown = v.down
		}))
	}
	for _, v := range []struct {
		verb    string
		failing bool
	}{{"fail", true}, {"ok", false}} {
		post("/regions/{r}/probe/"+v.verb, s.regionVerb(func(rs *regionState) {
			rs.stopFlapLocked()
			s.edge.SetProbeFailing(rs.r.Name, v.failing)
		}))
	}
	post("/regions/{r}/flap", s.flap)
	post("/replication/pause", s.replicationVerb(true))
	post("/replication/resume", s.replicationVerb(false))
	// The scheduled functions, now: the sweep captures what no event announced (a
	// certificate attached after the re-checks ended), the redrive re-runs the error
	// tables.
	post("/sweep", func(w http.ResponseWriter, r *http.Request) {
		if !noQuery(w, r) {
			return
		}
		// Both Regions capture, so both sweep, as both stacks' schedules do; the answer
		// sums them.
		st := capture.SweepState{Done: true}
		for _, reg := range []*simulator.Region{s.world.Primary, s.world.Secondary} {
			one, err := s.world.Sweep(r.Context(), reg)
			if err != nil {
				writeError(w, http.StatusInternalServerError, "sweep %s: %v", reg.Name, err)
				return
			}
			st.Done = st.Done && one.Done
			st.Visited += one.Visited
			st.Written += one.Written
			st.Failed += one.Failed
		}
		s.log.Info("simserver: verb", "path", r.URL.Path)
		writeJSON(w, http.StatusOK, st)
	})
	post("/redrive", func(w http.ResponseWriter, r *http.Request) {
		if !noQuery(w, r) {
			return
		}
		resp, err := s.world.Redrive(r.Context())
		if err != nil {
			writeError(w, http.StatusInternalServerError, "redrive: %v", err)
			return
		}
		s.log.Info("simserver: verb", "path", r.URL.Path)
		writeJSON(w, http.StatusOK, resp)
	})
	get("/regions/{r}/things", s.things)
	get("/regions/{r}/health", s.health)
	get("/regions/{r}/refusals", s.refusals)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no route %s %s; routes: %v", r.Method, r.URL.Path, routes)
	})
	return mux
}

// method answers 405 with an Allow header to any other method than m.
func method(m string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != m {
			w.Header().Set("Allow", m)
			writeError(w, http.StatusMethodNotAllowed, "%s %s: method not allowed, use %s", r.Method, r.URL.Path, m)
			return
		}
		h(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing left to tell it
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, errorBody{Error: fmt.Sprintf(format, args...)})
}

// region resolves {r}, answering 404 itself when it names no Region.
func (s *Server) region(w http.ResponseWriter, r *http.Request) (*regionState, bool) {
	name := r.PathValue("r")
	for _, rs := range s.regions {
		if name == rs.role || name == rs.r.Name {
			return rs, true
		}
	}
	writeError(w, http.StatusNotFound, "unknown region %q: use %s, %s, %s or %s", name,
		RolePrimary, RoleSecondary, s.regions[0].r.Name, s.regions[1].r.Name)
	return nil, false
}

// noQuery answers 400 when a verb that takes no parameters gets some: a typo must not
// pass silently.
func noQuery(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.RawQuery != "" {
		writeError(w, http.StatusBadRequest, "%s takes no query parameters, got %q", r.URL.Path, r.URL.RawQuery)
		return false
	}
	return true
}

// regionVerb runs apply on the Region under the lock and answers with its status.
func (s *Server) regionVerb(apply func(*regionState)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rs, ok := s.region(w, r)
		if !ok || !noQuery(w, r) {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			writeError(w, http.StatusServiceUnavailable, "server is shutting down")
			return
		}
		apply(rs)
		s.mu.Unlock()
		s.log.Info("simserver: verb", "path", r.URL.Path)
		writeJSON(w, http.StatusOK, s.regionStatus(r.Context(), rs, s.dnsAnswer()))
	}
}

func (s *Server) replicationVerb(pause bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !noQuery(w, r) {
			return
		}
		s.mu.Lock()
		if pause {
			s.world.Replication.Pause()
		} else {
			s.world.Replication.Resume()
		}
		s.paused = pause
		s.mu.Unlock()
		s.log.Info("simserver: verb", "path", r.URL.Path)
		writeJSON(w, http.StatusOK, s.replicationStatus())
	}
}

func (s *Server) flap(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.region(w, r)
	if !ok {
		return
	}
	period, count, err := flapParams(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "%s: %v", r.URL.Path, err)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "server is shutting down")
		return
	}
	f := s.startFlapLocked(rs, period, count)
	s.mu.Unlock()
	s.log.Info("simserver: flap", "region", rs.r.Name, "period", period, "count", count)
	writeJSON(w, http.StatusAccepted, Flap{Region: rs.r.Name, Period: period.String(), Count: count, Flapping: f.running()})
}

func flapParams(q url.Values) (time.Duration, int, error) {
	period, count := DefaultFlapPeriod, DefaultFlapCount
	for k, vs := range q {
		if len(vs) != 1 {
			return 0, 0, fmt.Errorf("parameter %s given %d times", k, len(vs))
		}
		var err error
		switch k {
		case "period":
			if period, err = time.ParseDuration(vs[0]); err != nil {
				return 0, 0, fmt.Errorf("period: %w", err)
			}
			if period < MinFlapPeriod || period > MaxFlapPeriod {
				return 0, 0, fmt.Errorf("period must be between %v and %v, got %v", MinFlapPeriod, MaxFlapPeriod, period)
			}
		case "count":
			if count, err = strconv.Atoi(vs[0]); err != nil {
				return 0, 0, fmt.Errorf("count %q is not an integer", vs[0])
			}
			if count < 1 || count > MaxFlapCount {
				return 0, 0, fmt.Errorf("count must be between 1 and %d, got %d", MaxFlapCount, count)
			}
		default:
			return 0, 0, fmt.Errorf("unknown parameter %q (want period, count)", k)
		}
	}
	return period, count, nil
}

func (s *Server) things(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.region(w, r)
	if !ok || !noQuery(w, r) {
		return
	}
	names, err := listThings(r, rs.r.Registry)
	if err != nil {
		var unavailable *iottypes.ServiceUnavailableException
		var throttled *iottypes.ThrottlingException
		code := http.StatusInternalServerError
		switch {
		case errors.As(err, &unavailable):
			code = http.StatusServiceUnavailable
		case errors.As(err, &throttled):
			code = http.StatusTooManyRequests
		}
		writeError(w, code, "%s: list things: %v", rs.r.Name, err)
		return
	}
	writeJSON(w, http.StatusOK, Things{Region: rs.r.Name, Count: len(names), Things: names})
}

// listThings pages through ListThings with the SDK's own paginator, as a client of the
// real API would.
func listThings(r *http.Request, reg *registry.Registry) ([]string, error) {
	names := []string{}
	p := iot.NewListThingsPaginator(reg, &iot.ListThingsInput{MaxResults: aws.Int32(250)})
	for p.HasMorePages() {
		page, err := p.NextPage(r.Context())
		if err != nil {
			return nil, err
		}
		for _, t := range page.Things {
			names = append(names, aws.ToString(t.ThingName))
		}
	}
	return names, nil
}

// querySecret matches a URL's query string inside an error message.
var querySecret = regexp.MustCompile(`\?[^"\s]*`)

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.region(w, r)
	if !ok || !noQuery(w, r) {
		return
	}
	hc := s.edge.Checks[rs.r.Name]
	cfg := hc.Config()
	s.mu.Lock()
	flapping := rs.flap.running()
	s.mu.Unlock()
	h := Health{Role: rs.role, Name: rs.r.Name, Healthy: hc.Healthy(), ProbeFailing: s.edge.ProbeFailing(rs.r.Name), Flapping: flapping,
		IntervalMS: ms(cfg.Interval), Threshold: cfg.FailureThreshold, DetectionBoundMS: ms(hc.DetectionBound()),
		Checkers: []CheckerHealth{}, Transitions: []Transition{}}
	for _, c := range hc.Status() {
		h.Checkers = append(h.Checkers, CheckerHealth{Index: c.Index, Healthy: c.Healthy, Checks: c.Checks, LastOK: c.LastOK,
			LastStatusCode: c.LastStatusCode, LastError: querySecret.ReplaceAllString(c.LastError, "?…"), LastAt: c.LastAt})
	}
	for _, t := range hc.History() {
		h.Transitions = append(h.Transitions, Transition{At: t.At, Healthy: t.Healthy})
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) refusals(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.region(w, r)
	if !ok || !noQuery(w, r) {
		return
	}
	all := rs.r.Broker.Refusals()
	out := []Refusal{}
	for _, f := range all[max(0, len(all)-maxRefusals):] {
		out = append(out, Refusal{At: f.Time, ClientID: f.ClientID, Action: string(f.Action), Resource: f.Resource, Reason: f.Reason})
	}
	writeJSON(w, http.StatusOK, out)
}

// Status reports every Region's state, the DNS answer and replication.
func (s *Server) Status() Status {
	ctx := context.Background() // in-memory tables: nothing to cancel
	ans := s.dnsAnswer()
	st := Status{Domain: s.info.Domain, DNSServer: s.info.DNSServer, DNSAnswer: ans, Replication: s.replicationStatus()}
	for _, rs := range s.regions {
		st.Regions = append(st.Regions, s.regionStatus(ctx, rs, ans))
	}
	return st
}

func (s *Server) dnsAnswer() DNSAnswer {
	a, ok := s.edge.Zone.Resolve(s.info.Domain)
	if !ok {
		return DNSAnswer{}
	}
	d := DNSAnswer{IP: a.IP.String(), Record: a.Which, TTLMS: ms(a.TTL)}
	for _, rs := range s.regions {
		if a.IP.Equal(net.ParseIP(rs.ip)) {
			d.Region = rs.r.Name
		}
	}
	return d
}

func (s *Server) regionStatus(ctx context.Context, rs *regionState, ans DNSAnswer) RegionStatus {
	s.mu.Lock()
	down, brokerDown, flapping := rs.down, rs.brokerDown, rs.flap.running()
	s.mu.Unlock()
	// The pipeline's tables, as `iotdr status` reads them in a real deployment.
	var pipe status.Region
	status.Pipeline{Region: rs.r.Name, Peer: s.world.Peer(rs.r).Name, Marks: rs.r.Marks, MarkTable: simulator.MarkTableName,
		Errors: rs.r.Errors, ErrorTable: simulator.ErrorTableName}.Read(ctx, &pipe, time.Now())
	return RegionStatus{Role: rs.role, Name: rs.r.Name, Endpoint: net.JoinHostPort(rs.ip, s.world.Port),
		Down: down, BrokerUp: !brokerDown, ConnectedClients: rs.r.Broker.ConnectedClients(),
		Healthy: s.edge.Checks[rs.r.Name].Healthy(), ProbeFailing: s.edge.ProbeFailing(rs.r.Name), Flapping: flapping,
		DNSActive: ans.Region == rs.r.Name, Backlog: pipe.Backlog, Conflicts: pipe.Conflicts, StatusErrors: pipe.Errors}
}

func (s *Server) replicationStatus() ReplicationStatus {
	s.mu.Lock()
	paused := s.paused
	s.mu.Unlock()
	rep := s.world.Replication
	return ReplicationStatus{Pending: rep.Pending(), LagMS: ms(rep.Lag()), Paused: paused, Held: rep.Held()}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
