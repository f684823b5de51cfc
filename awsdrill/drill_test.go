package awsdrill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
)

// TestDrillFailsOverAndBack runs the whole drill against the simulator: the switch
// flips, Route 53's answer moves to the secondary within the bound, the switch is
// restored, and the answer moves back.
func TestDrillFailsOverAndBack(t *testing.T) {
	s := startSim(t)
	rec := &recordingSSM{SSMAPI: s.front.SSM[s.w.Primary.Name]}
	r53 := &timedRoute53{Route53API: s.front.Route53, watch: simulator.Endpoint(s.w.Secondary.Name)}
	clients := Clients{SSM: rec, Route53: r53}
	var progress bytes.Buffer
	rep, err := AWSDrill(context.Background(), s.config(t), clients, &progress)
	if err != nil {
		t.Fatalf("drill: %v\n%s", err, progress.String())
	}
	if !rep.Passed || rep.Failure != "" {
		t.Fatalf("drill did not pass: %q\n%s", rep.Failure, progress.String())
	}
	if rep.SwitchS == nil || rep.DetectionS == nil || rep.UnhealthyS == nil || rep.FailbackS == nil {
		t.Fatalf("missing measurements: %+v", rep)
	}
	if *rep.DetectionS < 0 || *rep.DetectionS > *rep.SwitchS {
		t.Errorf("detection %.3fs not between the fault and the switch %.3fs", *rep.DetectionS, *rep.SwitchS)
	}
	// The simulator's switch follows the check at once; allow polling and -race slack.
	if *rep.SwitchS > rep.RTOBoundS+2 {
		t.Errorf("switch took %.3fs, bound %.3fs", *rep.SwitchS, rep.RTOBoundS)
	}
	if want := (simThreshold*simInterval + simTTL).Seconds(); rep.RTOBoundS != want {
		t.Errorf("RTO bound %v, want %v", rep.RTOBoundS, want)
	}
	if !rep.SwitchRestored || !rep.FailedBack || rep.Scenario != Scenario {
		t.Errorf("report: %+v", rep)
	}
	calls := rec.calls()
	if len(calls) != 2 || calls[0].value != "true" || calls[1].value != "false" {
		t.Fatalf("PutParameter calls %+v, want true then false", calls)
	}
	// The RTO measured independently from the calls the drill made: the fault is after
	// the switch-on call returned and before the next health poll; the switch is after
	// Route 53 first answered the secondary and before the restore call.
	faultLo, faultHi := calls[0].done, r53.firstStatusAfter(calls[0].done)
	switchLo, switchHi := r53.firstAnswer(), calls[1].at
	if faultHi.IsZero() || switchLo.IsZero() {
		t.Fatalf("no health poll after the fault (%v) or no answer naming the secondary (%v)", faultHi, switchLo)
	}
	lo, hi := switchLo.Sub(faultHi).Seconds(), switchHi.Sub(faultLo).Seconds()
	for name, v := range map[string]*float64{"switch_s": rep.SwitchS, "rto_p50_s": rep.RTOP50S, "rto_p99_s": rep.RTOP99S} {
		if v == nil {
			t.Errorf("%s missing, measured switch between %.3fs and %.3fs", name, lo, hi)
		} else if *v < lo || *v > hi {
			t.Errorf("%s = %.3fs, measured switch between %.3fs and %.3fs", name, *v, lo, hi)
		}
	}
	// The timeline is what was printed, and the phases were emitted in story order.
	var emitted []string
	for _, line := range strings.Split(progress.String(), "\n") {
		if _, name, ok := strings.Cut(line, "s] "); ok && strings.HasPrefix(line, "[") && !strings.HasPrefix(name, " ") {
			emitted = append(emitted, name)
		}
	}
	if len(emitted) != len(rep.Timeline) {
		t.Errorf("%d phases printed, %d in the timeline:\n%s", len(emitted), len(rep.Timeline), progress.String())
	}
	for _, p := range rep.Timeline {
		if line := fmt.Sprintf("[%8.3fs] %s\n", p.AtS, p.Name); !strings.Contains(progress.String(), line) {
			t.Errorf("timeline entry %q was not printed at %.3fs:\n%s", p.Name, p.AtS, progress.String())
		}
	}
	order := []string{"preflight passed", "fault injected", "first failed check", "DNS switch", "restored", "failback"}
	i := 0
	for _, name := range emitted {
		if i < len(order) && strings.HasPrefix(name, order[i]) {
			i++
		}
	}
	if i != len(order) {
		t.Errorf("progress lacks %q in order:\n%s", order[i], progress.String())
	}
	s.assertRecovered(t)
}

// flakyRoute53 fails TestDNSAnswer from the failAt-th call on.
type flakyRoute53 struct {
	Route53API
	failAt int64
	n      atomic.Int64
}

func (f *flakyRoute53) TestDNSAnswer(ctx context.Context, in *route53.TestDNSAnswerInput, opts ...func(*route53.Options)) (*route53.TestDNSAnswerOutput, error) {
	if f.n.Add(1) >= f.failAt {
		return nil, errors.New("injected: Route 53 unreachable")
	}
	return f.Route53API.TestDNSAnswer(ctx, in, opts...)
}

// TestDrillAlwaysRestores: whatever stops the drill after the switch was turned on, the
// switch ends up off again, set on a live context, and the primary recovers.
func TestDrillAlwaysRestores(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(s *sim, c *Clients, rec *recordingSSM, cancel context.CancelFunc)
		wantErr func(error) bool
	}{
		{
			name: "API error mid-way",
			setup: func(s *sim, c *Clients, _ *recordingSSM, _ context.CancelFunc) {
				c.Route53 = &flakyRoute53{Route53API: s.front.Route53, failAt: 3} // preflight makes one call
			},
			wantErr: func(err error) bool { return strings.Contains(err.Error(), "injected") },
		},
		{
			name: "switch-on response lost",
			setup: func(_ *sim, _ *Clients, rec *recordingSSM, _ context.CancelFunc) {
				rec.hook = func(v string) error {
					if v == "true" {
						return errors.New("injected: connection reset")
					}
					return nil
				}
			},
			wantErr: func(err error) bool { return strings.Contains(err.Error(), "connection reset") },
		},
		{
			name: "cancelled (Ctrl-C)",
			setup: func(_ *sim, _ *Clients, rec *recordingSSM, cancel context.CancelFunc) {
				rec.hook = func(v string) error {
					if v == "true" {
						cancel()
					}
					return nil
				}
			},
			wantErr: func(err error) bool { return errors.Is(err, context.Canceled) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			clients := s.clients()
			rec := &recordingSSM{SSMAPI: clients.SSM}
			clients.SSM = rec
			tc.setup(s, &clients, rec, cancel)
			var progress bytes.Buffer
			rep, err := AWSDrill(ctx, s.config(t), clients, &progress)
			if err == nil || !tc.wantErr(err) {
				t.Fatalf("drill returned %v, %v; want the injected failure\n%s", rep, err, progress.String())
			}
			calls := rec.calls()
			if len(calls) < 2 || calls[0].value != "true" || calls[len(calls)-1].value != "false" {
				t.Fatalf("PutParameter calls %+v, want the switch on then off", calls)
			}
			if last := calls[len(calls)-1]; last.ctxErr != nil {
				t.Errorf("restore ran on a dead context: %v", last.ctxErr)
			}
			if !strings.Contains(progress.String(), "restored: force-fail switch") {
				t.Errorf("progress does not report the restore:\n%s", progress.String())
			}
			s.assertRecovered(t)
		})
	}
}

// TestDrillReportsUnrestoredSwitch: when the switch cannot be turned off the error says
// so and how to do it by hand.
func TestDrillReportsUnrestoredSwitch(t *testing.T) {
	s := startSim(t)
	clients := s.clients()
	rec := &recordingSSM{SSMAPI: clients.SSM, block: func(v string) error {
		if v == "false" {
			return errors.New("injected: AccessDenied")
		}
		return nil
	}}
	clients.SSM = rec
	cfg := s.config(t)
	cfg.RestoreTimeout = 300 * time.Millisecond
	_, err := AWSDrill(context.Background(), cfg, clients, nil)
	if !errors.Is(err, ErrNotRestored) || !strings.Contains(err.Error(), "aws ssm put-parameter --region "+s.w.Primary.Name) {
		t.Fatalf("error %v, want ErrNotRestored with the manual command", err)
	}
	if v := s.switchValue(t); v != "true" {
		t.Fatalf("switch %q: the blocked restore should have left it on", v)
	}
	// Clean up by hand, as the message says.
	if _, err := s.front.SSM[s.w.Primary.Name].PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(spec.ForceFailParameter(spec.DefaultPrefix)), Value: aws.String("false"), Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	s.assertRecovered(t)
}

// TestDrillRefusesWithoutYes: no AWS call at all without confirmation.
func TestDrillRefusesWithoutYes(t *testing.T) {
	cfg := Config{Deployment: Deployment{PrimaryRegion: "us-east-1", SecondaryRegion: "us-west-2", Domain: "iot.example.com",
		PrimaryHealthCheckID: "a", SecondaryHealthCheckID: "b", ForceFailParameter: "/iotdr/probe/force-fail"}}
	// The clients embed nil interfaces: any call would panic.
	_, err := AWSDrill(context.Background(), cfg, Clients{SSM: &recordingSSM{}, Route53: struct{ Route53API }{}}, nil)
	if !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), "--yes") || !strings.Contains(err.Error(), "us-west-2") {
		t.Fatalf("error %v, want ErrNotConfirmed naming --yes and the secondary", err)
	}
}

// TestDrillPreflightRefuses: an unhealthy or mismatched deployment is refused before
// the switch is touched.
func TestDrillPreflightRefuses(t *testing.T) {
	shared := startSim(t)
	cases := []struct {
		name   string
		own    bool // needs its own World (it breaks it)
		setup  func(t *testing.T, s *sim, cfg *Config)
		reason string
	}{
		{name: "secondary unhealthy", own: true, reason: "the secondary health check",
			setup: func(t *testing.T, s *sim, _ *Config) {
				s.w.SetRegionDown(s.w.Secondary, true)
				waitFor(t, "secondary unhealthy", func() bool { return !s.edge.Checks[s.w.Secondary.Name].Healthy() })
			}},
		{name: "switch already on", own: true, reason: "is \"true\", not \"false\"",
			setup: func(t *testing.T, s *sim, _ *Config) {
				if _, err := s.front.SSM[s.w.Primary.Name].PutParameter(context.Background(), &ssm.PutParameterInput{
					Name: aws.String(spec.ForceFailParameter(spec.DefaultPrefix)), Value: aws.String("true"), Overwrite: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "outputs of another deployment", reason: "the PRIMARY record",
			setup: func(_ *testing.T, _ *sim, cfg *Config) {
				cfg.Deployment.PrimaryHealthCheckID = "11111111-2222-3333-4444-555555555555"
			}},
		{name: "no hosted zone for the domain", reason: "no public hosted zone encloses iot.devices.example.org",
			setup: func(_ *testing.T, _ *sim, cfg *Config) { cfg.Deployment.Domain = "iot.devices.example.org" }},
		{name: "wrong hosted zone id", reason: "NoSuchHostedZone",
			setup: func(_ *testing.T, _ *sim, cfg *Config) { cfg.HostedZoneID = "/hostedzone/ZOTHER" }},
		{name: "missing force-fail parameter", reason: "ParameterNotFound",
			setup: func(_ *testing.T, _ *sim, cfg *Config) { cfg.Deployment.ForceFailParameter = "/other/probe/force-fail" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := shared
			if tc.own {
				s = startSim(t)
			}
			cfg := s.config(t)
			tc.setup(t, s, &cfg)
			clients := s.clients()
			rec := &recordingSSM{SSMAPI: clients.SSM}
			clients.SSM = rec
			_, err := AWSDrill(context.Background(), cfg, clients, nil)
			if !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %v, want ErrPreflight mentioning %q", err, tc.reason)
			}
			if calls := rec.calls(); len(calls) != 0 {
				t.Errorf("preflight refusal still wrote the switch: %+v", calls)
			}
		})
	}
}

// TestDrillGivesUpWhenNothingSwitches: a fault that Route 53 never acts on is a failed
// drill (not an error), and the switch is restored.
func TestDrillGivesUpWhenNothingSwitches(t *testing.T) {
	s := startSim(t)
	clients := s.clients()
	// A parameter the probe does not read: the primary stays healthy.
	cfg := s.config(t)
	cfg.Deployment.ForceFailParameter = "/iotdr/probe/unbound"
	if _, err := s.front.SSM[s.w.Primary.Name].PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(cfg.Deployment.ForceFailParameter), Value: aws.String("false")}); err != nil {
		t.Fatal(err)
	}
	cfg.WaitLimit = 300 * time.Millisecond
	rep, err := AWSDrill(context.Background(), cfg, clients, nil)
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	if rep.Passed || rep.SwitchS != nil || !strings.Contains(rep.Failure, "did not switch") || !rep.SwitchRestored {
		t.Fatalf("report %+v, want a failed drill without a switch and with the switch restored", rep)
	}
	if err := CheckBudget(rep, time.Minute); !errors.Is(err, ErrBudget) {
		t.Errorf("budget check %v, want ErrBudget for a switch that never happened", err)
	}
}
